package detect

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// When the pod has several containers and the local directory holds a subdirectory named after two
// or more of them (./api, ./worker), init proposes the rules' list form: one item per such container,
// each syncing its own directory, with its own steps, restart and command, guessed as for one.

// withDirs returns the indexes of the template's containers that have a directory of their name in
// tree, in the pod's order.
func withDirs(t corev1.PodTemplateSpec, tree fs.FS) []int {
	var out []int
	for i, c := range t.Spec.Containers {
		if info, err := fs.Stat(tree, c.Name); err == nil && info.IsDir() {
			out = append(out, i)
		}
	}
	return out
}

// listItem is one container of the list form with its own directory's project.
type listItem struct {
	c    *corev1.Container
	in   Input
	proj *project
}

// proposeList makes the list form's proposal for the containers idx of in.Template.
func proposeList(in Input, idx []int) (*Proposal, error) {
	cs := in.Template.Spec.Containers
	var items []listItem
	for _, i := range idx {
		sub, err := fs.Sub(in.Tree, cs[i].Name)
		if err != nil {
			return nil, err
		}
		proj, err := findProject(sub)
		if err != nil {
			return nil, err
		}
		items = append(items, listItem{c: &cs[i], in: Input{Tree: sub, From: path.Join(in.From, cs[i].Name), Workload: in.Workload, Template: in.Template}, proj: proj})
	}
	p := &Proposal{Language: items[0].proj.lang}
	p.listHeader(in, items)
	p.add(0, "containers:", fmt.Sprintf("%d of the pod's %d containers have a directory named after them here", len(items), len(cs)))
	dockerfile := false
	for _, it := range items {
		p.add(2, "- container: "+scalar(it.c.Name), "./"+it.c.Name+" is here")
		p.base, p.dirWhy = 4, "the directory named after the container" // the item's keys, under its "- "
		to := p.sync(it.in, it.c, it.proj)
		p.steps(it.c, it.proj, to)
		p.restart(it.c, it.proj)
		p.command(it.c)
		p.base, p.dirWhy = 0, ""
		dockerfile = dockerfile || it.proj.has("Dockerfile")
	}
	if dockerfile {
		p.add(0, `fallback: ["Dockerfile"]`, "a change to it needs an image rebuild: up reports it instead of syncing it")
	}
	p.listForwards(items)
	return p, nil
}

// listHeader says what each listed container's directory holds, and which containers are left out.
func (p *Proposal) listHeader(in Input, items []listItem) {
	var what []string
	listed := map[string]bool{}
	for _, it := range items {
		listed[it.c.Name] = true
		w := "no language marker found"
		if it.proj.lang != Unknown {
			w = fmt.Sprintf("a %s project, %s in %s", it.proj.lang.title(), it.proj.marker, fromPath(it.in.From, it.proj.dir))
		}
		what = append(what, fmt.Sprintf("%s (%s)", fromPath(it.in.From, "."), w))
	}
	p.note(0, fmt.Sprintf("Rules proposed by `kubectl fastdev init` for %s: one item per container with a directory of its name: %s.", in.Workload, strings.Join(what, ", ")))
	var left []string
	for _, c := range in.Template.Spec.Containers {
		if !listed[c.Name] {
			left = append(left, c.Name)
		}
	}
	if len(left) > 0 {
		p.note(0, fmt.Sprintf("Left out, with no directory of their name here: %s (add an item to develop one).", strings.Join(left, ", ")))
	}
	p.note(0, "Each guessed value says why; check them before `kubectl fastdev up`.")
}

// listForwards says which ports `up` forwards: with no forward key, every listed container's
// declared ones.
func (p *Proposal) listForwards(items []listItem) {
	var ports []string
	for _, it := range items {
		for _, cp := range it.c.Ports {
			s := fmt.Sprintf("%d of %s", cp.ContainerPort, it.c.Name)
			if cp.Name != "" {
				s += " (" + cp.Name + ")"
			}
			ports = append(ports, s)
		}
	}
	if len(ports) == 0 {
		p.note(0, "forward: not set, and the listed containers declare no port: add forward: [\"8080\"] to reach the app")
		return
	}
	p.note(0, "forward: not set, so up forwards the listed containers' declared ports, each on the same local port when free: "+strings.Join(ports, ", "))
}
