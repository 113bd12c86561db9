package detect

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// step is one proposed run step.
type step struct {
	cmd     string
	trigger []string
	why     string
}

// steps adds the install and build steps the project needs in the pod, with their triggers.
func (p *Proposal) steps(c *corev1.Container, proj *project, to string) {
	var run []step
	switch proj.lang {
	case Go:
		run = p.goSteps(c, proj, to)
	case Node:
		run = nodeSteps(proj)
	case Python:
		run = pythonSteps(c, proj)
	}
	if len(run) == 0 {
		return
	}
	p.add(0, "run:", "")
	for _, s := range run {
		p.add(2, "- cmd: "+scalar(s.cmd), s.why)
		p.add(4, "trigger: "+flowList(s.trigger), "only when such a file changed")
	}
}

// goSteps builds the program the container runs from the module.
func (p *Proposal) goSteps(c *corev1.Container, proj *project, to string) []step {
	if len(c.Command) > 0 && c.Command[0] == "go" {
		p.note(0, "run: none: the command runs the go tool itself, so a restart builds the edit")
		return nil
	}
	prog, ok := program(c, to)
	if !ok {
		p.note(0, "run: add a build step such as `go build -o /app/bin/server .` once the program's path is known")
		return nil
	}
	if readOnlyRoot(c) && !onVolume(c, prog) {
		p.note(0, fmt.Sprintf("note: the container's root file system is read-only, so the build cannot write %s: mount a volume there", prog))
	}
	return []step{{
		cmd:     fmt.Sprintf("go build -o %s %s", prog, proj.mainPkg),
		trigger: []string{"**/*.go", "go.mod", "go.sum"},
		why:     fmt.Sprintf("the container runs %s: rebuild it from this module (go.mod) in the pod", prog),
	}}
}

// nodeSteps installs package.json's dependencies, and builds when package.json has a build script.
func nodeSteps(proj *project) []step {
	install := step{cmd: "npm install --prefer-offline --no-audit --no-fund", trigger: []string{"package.json"},
		why: "package.json changed: install what it lists (also a dependency not yet in the lockfile), from npm's cache first"}
	switch proj.lock {
	case "yarn.lock":
		install.cmd, install.why = "yarn install", "package.json or yarn.lock changed: install with yarn, whose lockfile is here"
	case "pnpm-lock.yaml":
		install.cmd, install.why = "pnpm install", "package.json or pnpm-lock.yaml changed: install with pnpm, whose lockfile is here"
	}
	if proj.lock != "" {
		install.trigger = append(install.trigger, proj.lock)
	}
	out := []step{install}
	if _, ok := proj.pkg.Scripts["build"]; ok {
		out = append(out, step{cmd: "npm run build", trigger: []string{"**/*.ts", "**/*.tsx", "**/*.js", "**/*.jsx"},
			why: "package.json has a build script: run it when a source file changed"})
	}
	return out
}

// pythonSteps installs requirements.txt, or the pyproject.toml project in editable mode (so the
// synced files are the ones imported), with the pip of the interpreter the container runs.
func pythonSteps(c *corev1.Container, proj *project) []step {
	pip, whyPip := "pip", ""
	if py, ok := interpreter(c); ok {
		pip, whyPip = py+" -m pip", fmt.Sprintf(", with the pip of %s, which the container runs", py)
	}
	if proj.has("requirements.txt") {
		return []step{{cmd: pip + " install -r requirements.txt", trigger: []string{"requirements.txt"},
			why: "requirements.txt changed: install what it lists in the pod" + whyPip}}
	}
	return []step{{cmd: pip + " install -e .", trigger: []string{"pyproject.toml"},
		why: "pyproject.toml changed: reinstall the project, editable so the synced files are the ones imported" + whyPip}}
}

// interpreter is the container's program when it is a Python given by its absolute path (a
// virtualenv's, say): its pip installs where the app imports from.
func interpreter(c *corev1.Container) (string, bool) {
	if len(c.Command) == 0 || !path.IsAbs(c.Command[0]) {
		return "", false
	}
	base := path.Base(c.Command[0])
	if base != "python" && !strings.HasPrefix(base, "python3") {
		return "", false
	}
	return path.Clean(c.Command[0]), true
}
