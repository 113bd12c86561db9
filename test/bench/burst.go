package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The burst: a 1,000-file branch switch in web-node's tree, as `git checkout` of another branch does
// it (files rewritten, added and deleted in one go, in a few hundred milliseconds). Branch A has
// lib/f0000-f0999.js; branch B has lib/f0100-f1099.js (100 deleted, 100 added, 900 changed), adds
// escape-html to package.json and uses it in server.js. Each switch is timed to the new reply
// served and to the pod's tree equal to the local one (converged); for kubectl-fastdev, `up`'s lines
// tell how many times the install step ran and how many restarts the switch caused.

const (
	burstFiles = 1000
	burstShift = 100 // files deleted and added by a switch
	burstStart = "branch-A"
)

// burstResult is one contender's switches.
type burstResult struct {
	served, converged []time.Duration
	stepRuns          []int // kubectl-fastdev: install step runs per switch
	restarts          []int // kubectl-fastdev: process restarts per switch
	counted           bool  // stepRuns and restarts were read from the tool's output
}

// branchFiles returns branch b's (0: A, 1: B) lib files with their content, marker in each.
func branchFiles(b int, marker string) map[string]string {
	files := map[string]string{}
	first := b * burstShift
	for i := first; i < first+burstFiles; i++ {
		files[fmt.Sprintf("lib/f%04d.js", i)] = fmt.Sprintf(
			"// generated module %d (branch %c, %s)\nexports.name = %q;\nexports.size = function () { return %d; };\n%s",
			i, 'A'+b, marker, fmt.Sprintf("f%04d", i), i*7, strings.Repeat("// filler line of a real-looking source file\n", 20))
	}
	return files
}

// switchBranch rewrites src to branch b the way a checkout does: deletes the lib files not in the
// branch, writes every file of it, and the manifest and server of the branch. It returns the files
// written and deleted (relative to src).
func switchBranch(a *wlApp, src string, b int, marker string) (written, deleted []string, err error) {
	files := branchFiles(b, marker)
	old, _ := filepath.Glob(filepath.Join(src, "lib", "f*.js"))
	for _, p := range old {
		rel := "lib/" + filepath.Base(p)
		if _, ok := files[rel]; !ok {
			if err := os.Remove(p); err != nil {
				return nil, nil, err
			}
			deleted = append(deleted, rel)
		}
	}
	if err := os.MkdirAll(filepath.Join(src, "lib"), 0o755); err != nil {
		return nil, nil, err
	}
	for rel, body := range files {
		if err := os.WriteFile(filepath.Join(src, filepath.FromSlash(rel)), []byte(body), 0o644); err != nil {
			return nil, nil, err
		}
		written = append(written, rel)
	}
	// branch B uses the dependency, branch A does not
	hasDep := strings.Contains(readString(filepath.Join(src, "package.json")), "escape-html")
	switch {
	case b == 1 && !hasDep:
		err = a.dep.add(src, marker)
	case b == 0 && hasDep:
		err = a.dep.remove(src, marker)
	default:
		var f []string
		f, err = a.wlEdit(src, wlCode, marker)
		_ = f
	}
	slices.Sort(written)
	return append(written, a.dep.manifest, a.file), deleted, err
}

func readString(file string) string {
	b, _ := os.ReadFile(file)
	return string(b)
}

// countUpdates counts, in `up`'s lines, the runs of the step cmd and the updates that restarted.
func countUpdates(lines []string, cmd string) (steps, restarts int) {
	for _, l := range lines {
		if i := strings.Index(l, ", steps: "); i >= 0 {
			steps += strings.Count(l[i:], fmt.Sprintf("%q", cmd))
		}
		if u, ok := parseUpdate(line{text: l}); ok && u.restart > 0 {
			restarts++
		}
	}
	return steps, restarts
}

// lines returns the process's lines from index from on.
func (p *proc) linesFrom(from int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, l := range p.lines[min(from, len(p.lines)):] {
		out = append(out, l.text)
	}
	return out
}

// burstSwitches is how many switches each contender makes (A -> B, B -> A, ...).
func (e *env) burstSwitches() int { return min(max(e.o.edits/4, 2), 3) }

// burstApp is web-node with the burst's id, title and first reply.
func burstApp() *wlApp {
	a := *wlApps()[0]
	a.id, a.title = "burst", fmt.Sprintf("web-node, %d-file branch switch", burstFiles)
	a.initial = "hello from web-node " + burstStart // wlTree starts the tree on branch A with this marker
	return &a
}

// burstSuite runs the branch switch with every contender that can, interleaved, and appends one
// result per contender (app: the burst's) to out.
func (e *env) burstSuite(ctx context.Context, rep *report, out []*wlResult) []*wlResult {
	a := burstApp()
	n := e.burstSwitches()
	var cs []contender
	byID := map[string]*wlResult{}
	for _, t := range e.wlTools() {
		if t.matched {
			continue
		}
		res := &wlResult{app: a, id: wlID("burst-", t.tool), tool: t.tool,
			title: t.title, burst: &burstResult{}}
		out = append(out, res)
		if t.cannot != nil {
			if res.cannot = t.cannot(a); res.cannot != "" {
				continue
			}
		}
		w := &wlSeries{a: a, burst: res.burst}
		byID[res.id] = res
		cs = append(cs, contender{id: res.id, title: a.title + ": " + t.tool, edits: n,
			setup: func(ctx context.Context, r *result) (*session, error) { return t.setup(ctx, a, r, w, res) }})
	}
	e.logf("bursts: %d contenders, %d switches each", len(cs), n)
	for _, r := range e.interleaved(ctx, rep, "burst", cs) {
		res := byID[r.id]
		res.err, res.series = r.err, r
		res.burst.served = r.lat
		if res.treeChecked && res.tree != "" {
			rep.problems = append(rep.problems, fmt.Sprintf("burst: %s: the pod's tree differs from the local tree at the end: %s", res.tool, res.tree))
		}
	}
	return out
}

// burstMarkdown renders the bursts' table.
func burstMarkdown(rs []*wlResult) string {
	var b strings.Builder
	for _, x := range rs {
		if x.burst == nil {
			continue
		}
		if b.Len() == 0 {
			fmt.Fprintf(&b, "\n### Bursts: a %d-file branch switch\n\n", burstFiles)
			fmt.Fprintf(&b, "web-node's tree gets lib/ with %d generated files; a switch rewrites it to the other branch as `git checkout`\n", burstFiles)
			fmt.Fprintf(&b, "would (%d files deleted, %d added, %d changed), with package.json gaining or losing a dependency and server.js\n",
				burstShift, burstShift, burstFiles-burstShift)
			b.WriteString("using it. *Served*: the switch to the new reply; *converged*: to every file of the pod's tree equal to the local\n")
			b.WriteString("tree (polled by hashing through `kubectl exec`, so it includes up to one hash round). Install runs and restarts\n")
			b.WriteString("per switch are read from `up`'s lines (2 s after convergence); exec+tar and the stream do exactly one of each by\n")
			b.WriteString("construction (they send the changed files, `rm` the deleted ones, install, restart), the peers' are not counted.\n\n")
			b.WriteString("| contender | switches | served p50 | converged p50 | install runs per switch | restarts per switch | pod tree = local |\n|---|---:|---:|---:|---:|---:|---|\n")
		}
		switch {
		case x.cannot != "":
			fmt.Fprintf(&b, "| %s | cannot: %s | | | | | |\n", x.tool, x.cannot)
			continue
		case x.series == nil:
			fmt.Fprintf(&b, "| %s | not run (-series) | | | | | |\n", x.tool)
			continue
		case x.err != nil:
			fmt.Fprintf(&b, "| %s | failed: see Problems | | | | | |\n", x.tool)
			continue
		}
		counts := func(ns []int) string {
			if !x.burst.counted {
				return "-"
			}
			return fmt.Sprint(ns)
		}
		tree := "yes"
		if !x.treeChecked {
			tree = "not checked"
		} else if x.tree != "" {
			tree = "**no**: " + strings.ReplaceAll(x.tree, "|", "\\|")
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s |\n", x.tool, len(x.burst.served), fmtDur(percentile(x.burst.served, 50)),
			fmtDur(percentile(x.burst.converged, 50)), counts(x.burst.stepRuns), counts(x.burst.restarts), tree)
	}
	return b.String()
}

// burstTargets: kubectl-fastdev converges after a switch, runs the install step at most twice per
// switch (the "each triggered step at most twice"), and converges ahead of every peer (p50
// ratio > 1).
func burstTargets(rs []*wlResult) []target {
	var fd *wlResult
	for _, x := range rs {
		if x.burst != nil && x.tool == wlFastdevTool && x.series != nil {
			fd = x
		}
	}
	if fd == nil {
		return nil
	}
	ok := fd.cannot == "" && fd.err == nil && fd.treeChecked && fd.tree == "" && len(fd.burst.converged) > 0
	most := 0
	for _, n := range fd.burst.stepRuns {
		most = max(most, n)
	}
	ts := []target{{what: fmt.Sprintf("%d-file branch switch: kubectl-fastdev runs the install step at most twice per switch", burstFiles),
		measured: fmt.Sprintf("runs per switch %v", fd.burst.stepRuns), met: ok && fd.burst.counted && most <= 2, known: ok && fd.burst.counted}}
	fdP := percentile(fd.burst.converged, 50)
	for _, p := range rs {
		if p.burst == nil || p == fd || p.cannot != "" || p.series == nil {
			continue
		}
		t := target{what: fmt.Sprintf("%d-file branch switch: kubectl-fastdev converges ahead of %s (p50 ratio > 1)", burstFiles, p.tool)}
		switch {
		case !ok:
			t.measured, t.known = "kubectl-fastdev's series failed or its tree differed: see Problems", true
		case p.err != nil || !p.treeChecked || p.tree != "" || len(p.burst.converged) == 0:
			t.measured = p.tool + "'s series failed or its tree differed: see Problems"
		default:
			pP := percentile(p.burst.converged, 50)
			x := ratio(fdP, pP)
			t.measured, t.met, t.known = fmt.Sprintf("%.2fx (%s vs %s)", x, fmtDur(fdP), fmtDur(pP)), x > 1, true
		}
		ts = append(ts, t)
	}
	return ts
}
