// Package detect proposes the rules of a workload from what can be read without running anything:
// the local tree (go.mod, package.json and its lockfile, requirements.txt or pyproject.toml, static
// files) and the workload's pod template (containers, command, working directory, ports, security
// context). It backs `kubectl fastdev init`.
//
// Every value it proposes carries a comment saying why. What it cannot tell (where the image keeps
// the code when nothing in the pod template says) is asked for with a placeholder the rules parser
// refuses, naming what to write; it is never invented. The package is pure: the tree is an fs.FS.
package detect

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Input is what a proposal is made from.
type Input struct {
	// Tree is the local directory the code is in (init's --dir).
	Tree fs.FS
	// From is that directory as the rules' sync.from names it: relative to where `up` runs,
	// slash-separated, such as "." or "./web-go".
	From string
	// Workload names the workload in the proposal's header, such as "deployment/web".
	Workload string
	// Template is the workload's pod template (before any injection).
	Template corev1.PodTemplateSpec
}

// Proposal is the proposed rules: YAML lines, each guessed value with the reason for it.
type Proposal struct {
	// Language is what the local tree holds.
	Language Language
	// Asks names every value init could not guess; the YAML holds a placeholder for each.
	Asks  []string
	lines []line
	base  int // added to every line's indentation: a list item's keys sit under its "- "
	// dirWhy says why the tree is the code's directory: "" for the directory given to init
	dirWhy string
}

// line is one line of the proposal: text at an indentation, and why it was guessed ("" for none).
type line struct {
	indent int
	text   string
	why    string
}

// Propose makes the proposal for in: the list form (containers:) when two or more of the pod's
// containers have a directory of their name in the tree, else the single form for one container.
func Propose(in Input) (*Proposal, error) {
	if idx := withDirs(in.Template, in.Tree); len(idx) >= 2 {
		return proposeList(in, idx)
	}
	c, whyContainer, err := pickContainer(in.Template)
	if err != nil {
		return nil, err
	}
	proj, err := findProject(in.Tree)
	if err != nil {
		return nil, err
	}
	p := &Proposal{Language: proj.lang}
	p.header(in, proj)
	p.add(0, "container: "+scalar(c.Name), whyContainer)
	to := p.sync(in, c, proj)
	p.steps(c, proj, to)
	p.restart(c, proj)
	p.command(c)
	if proj.has("Dockerfile") {
		p.add(0, `fallback: ["Dockerfile"]`, "a change to it needs an image rebuild: up reports it instead of syncing it")
	}
	p.forwards(c)
	return p, nil
}

func (p *Proposal) add(indent int, text, why string) {
	p.lines = append(p.lines, line{indent: p.base + indent, text: text, why: why})
}

func (p *Proposal) note(indent int, text string) { p.add(indent, "# "+text, "") }

// ask adds key with a placeholder for what init could not guess, and records the question.
func (p *Proposal) ask(indent int, key, what, why string) {
	p.Asks = append(p.Asks, what)
	p.add(indent, key+scalar("<"+what+">"), why)
}

func (p *Proposal) header(in Input, proj *project) {
	what := "no language marker (go.mod, package.json, requirements.txt, pyproject.toml, index.html) found"
	if proj.lang != Unknown {
		what = fmt.Sprintf("a %s project (%s in %s)", proj.lang.title(), proj.marker, fromPath(in.From, proj.dir))
	}
	p.note(0, fmt.Sprintf("Rules proposed by `kubectl fastdev init` for %s: %s.", in.Workload, what))
	p.note(0, "Each guessed value says why; check them before `kubectl fastdev up`.")
}

// sync adds the sync entry and returns its in-pod directory ("" when asked for).
func (p *Proposal) sync(in Input, c *corev1.Container, proj *project) string {
	p.add(0, "sync:", "")
	fromWhy := "the directory given to init"
	if p.dirWhy != "" {
		fromWhy = p.dirWhy
	}
	if proj.dir != "." {
		fromWhy = fmt.Sprintf("where %s is", proj.marker)
	}
	p.add(2, "- from: "+scalar(fromPath(in.From, proj.dir)), fromWhy)
	to, why, ok := codeDir(c, in.Tree, proj)
	if ok {
		p.add(4, "to: "+scalar(to), why)
	} else {
		p.ask(4, "to: ", "the absolute directory the image keeps this code in, such as /app",
			"the pod spec sets no workingDir and its command names no file of this tree")
	}
	if ig, why := ignores(proj); len(ig) > 0 {
		p.add(4, "ignore: "+flowList(ig), why)
	}
	return to
}

// fromPath joins init's --dir, as up names it, and the project's directory within it.
func fromPath(from, dir string) string {
	j := path.Join(from, dir)
	if j == "." || strings.HasPrefix(j, "../") || path.IsAbs(j) {
		return j
	}
	return "./" + j
}

// ignores lists what the pod makes for itself, by language.
func ignores(proj *project) ([]string, string) {
	switch proj.lang {
	case Node:
		ig := []string{"node_modules/"}
		for _, d := range []string{"dist/", "build/", ".next/"} {
			if proj.has(d) {
				ig = append(ig, d)
			}
		}
		return ig, "installed and built in the pod; a local node_modules may hold another OS's binaries"
	case Python:
		return []string{"__pycache__/", "*.pyc", ".venv/", "venv/"}, "bytecode and virtualenvs are made per machine; the pod has its own"
	case Go:
		if proj.has("bin/") {
			return []string{"bin/"}, "local build output; the pod builds its own"
		}
	}
	return nil, ""
}

// restart adds the restart mode.
func (p *Proposal) restart(c *corev1.Container, proj *project) {
	if flag, ok := reloads(c); ok {
		p.add(0, "restart: none", fmt.Sprintf("the command reloads the code itself (%s)", flag))
		return
	}
	switch proj.lang {
	case Static:
		p.add(0, "restart: none", "the server reads the files from disk on each request")
	case Unknown:
		p.add(0, "restart: process", "the default: the app is restarted after each update")
	default:
		p.add(0, "restart: process", fmt.Sprintf("a %s process loads its code when it starts", proj.lang.title()))
	}
}

// command asks for the program when the pod spec has none: the supervisor must know what to restart,
// and the image's ENTRYPOINT cannot be read from here.
func (p *Proposal) command(c *corev1.Container) {
	if len(c.Command) > 0 {
		return
	}
	p.add(0, "command:", "")
	p.ask(2, "- ", "the program the image starts (its ENTRYPOINT), one word per item",
		"the pod spec has no command, and the image's ENTRYPOINT cannot be read from here")
}

// forwards says which ports `up` forwards: with no forward key, the container's declared ones.
func (p *Proposal) forwards(c *corev1.Container) {
	if len(c.Ports) == 0 {
		p.note(0, "forward: not set, and the container declares no port: add forward: [\"8080\"] to reach the app")
		return
	}
	var ports []string
	for _, cp := range c.Ports {
		s := fmt.Sprint(cp.ContainerPort)
		if cp.Name != "" {
			s += " (" + cp.Name + ")"
		}
		ports = append(ports, s)
	}
	p.note(0, "forward: not set, so up forwards the container's declared ports, each on the same local port when free: "+strings.Join(ports, ", "))
}
