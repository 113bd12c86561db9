package main

import (
	"fmt"
	"strings"
	"time"
)

// The tool names of the series the verdicts pair up.
const (
	wlFastdevTool = "kubectl-fastdev"
	wlFastdevQ200 = "kubectl-fastdev --quiet 200ms"
	wlSkaffold20  = "Skaffold, 20 ms debounce"
)

// matchedWl are the matched-debounce pairs (as in measure 1): kubectl-fastdev with Tilt's 200 ms
// against Tilt, and Skaffold with kubectl-fastdev's 20 ms against kubectl-fastdev.
var matchedWl = [][2]string{{wlFastdevQ200, "Tilt"}, {wlFastdevTool, wlSkaffold20}}

// wlP50 returns a series' median and whether it has one.
func wlP50(ds []time.Duration) (time.Duration, bool) {
	if len(ds) == 0 {
		return 0, false
	}
	return percentile(ds, 50), true
}

// wlOK tells whether a series counts: it ran without error and its pods' trees matched.
func (x *wlResult) wlOK() bool {
	return x.cannot == "" && x.err == nil && x.treeChecked && x.tree == ""
}

// workloadTargets are the verdict rows of the workloads, fixed before any run: on every workload
// (and on its dependency edit), kubectl-fastdev's p50 must be below every other contender's p50 (the
// ratio other / kubectl-fastdev above 1), as shipped; and with matched debounce (matchedWl) below the
// peer's. A contender that cannot run the workload, or was left out by -series, gives no row; a series
// that failed or whose pod tree differed from the local tree is "not measured" when it is the other
// contender's, and fails the target when it is kubectl-fastdev's.
func workloadTargets(rs []*wlResult) []target {
	var ts []target
	kinds := []struct {
		name string
		get  func(*wlResult) []time.Duration
	}{{"edit -> served", func(x *wlResult) []time.Duration { return x.code }},
		{"dependency added -> served", func(x *wlResult) []time.Duration { return x.depAdd }}}
	runs := func(x *wlResult) bool { return x.burst == nil && x.cannot == "" && x.series != nil }
	for _, k := range kinds {
		for _, fd := range rs {
			if fd.tool != wlFastdevTool || !runs(fd) || (k.name != kinds[0].name && fd.app.dep == nil) {
				continue
			}
			for _, p := range rs {
				if p.app == fd.app && p.tool != wlFastdevTool && !p.matched && runs(p) {
					ts = append(ts, wlAhead(k.name, k.get, fd, p, ""))
				}
			}
			for _, pair := range matchedWl {
				a, b := wlFind(rs, fd.app, pair[0]), wlFind(rs, fd.app, pair[1])
				if a != nil && b != nil && runs(a) && runs(b) {
					ts = append(ts, wlAhead(k.name, k.get, a, b, "matched debounce, "))
				}
			}
		}
	}
	return append(ts, burstTargets(rs)...)
}

func wlFind(rs []*wlResult, a *wlApp, tool string) *wlResult {
	for _, x := range rs {
		if x.app == a && x.tool == tool {
			return x
		}
	}
	return nil
}

// wlAhead is one "kubectl-fastdev ahead" row: fd's p50 against p's.
func wlAhead(kind string, get func(*wlResult) []time.Duration, fd, p *wlResult, prefix string) target {
	t := target{what: fmt.Sprintf("%s, %s%s: %s ahead of %s (p50 ratio > 1)", fd.app.title, prefix, kind, fd.tool, p.tool)}
	fdP, fdOK := wlP50(get(fd))
	pP, pOK := wlP50(get(p))
	switch {
	case !fd.wlOK() || !fdOK:
		t.measured, t.known = fd.tool+"'s series failed or its tree differed: see Problems", true
	case !p.wlOK() || !pOK:
		t.measured = p.tool + "'s series failed or its tree differed: see Problems"
	default:
		x := ratio(fdP, pP)
		t.measured = fmt.Sprintf("%.2fx (%s vs %s)", x, fmtDur(fdP), fmtDur(pP))
		t.met, t.known = x > 1, true
	}
	return t
}

// workloadsMarkdown renders the workloads section.
func workloadsMarkdown(rs []*wlResult, edits int) string {
	if len(rs) == 0 {
		return ""
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("\n## Real workloads\n\n")
	w("Three apps beyond the static page: **web-node** and **web-python** (the samples; an edit to the server file is\n")
	w("served only by the restarted process; a *dependency added* edit adds `escape-html` to package.json / `six` to\n")
	w("requirements.txt and uses it in the same edit, installed in the pod from the image's offline npm cache / wheels),\n")
	w("and a generated **Go service of %d packages** (each importing the two before it) on the web-go image, where an edit\n", gosvcPackages)
	w("changes one package and the pod runs an incremental `go build` before the restart. Each workload's contenders run at\n")
	w("once, each on its own copy of the app, their edits interleaved in a seeded random order (every fourth edit of\n")
	w("web-node and web-python changes the dependency: added, then removed, then added). Every series ends by hashing\n")
	w("every file of each pod's tree (`find | sha256sum` through `kubectl exec`) against the local tree; a difference\n")
	w("fails the series. Up to %d edits per series (fewer for the Go service).\n\n", edits)
	w("| workload | contender | edits | edit -> served p50 | max | dependency added p50 (n) | removed p50 (n) | vs kubectl-fastdev (edit p50) | pod tree = local |\n")
	w("|---|---|---:|---:|---:|---:|---:|---:|---|\n")
	wlRows(&b, rs)
	var series []*result
	for _, x := range rs {
		if x.series != nil && x.series.usage != nil {
			series = append(series, x.series)
		}
	}
	if len(series) > 0 {
		w("\nResources during each workload's interleaved series (and the bursts'), as in measure 1's resources table:\n\n")
		usageTable(&b, series)
	}
	w("\nHow each contender does it:\n\n")
	w("- **kubectl-fastdev**: `up` on the sample's Deployment as its `fastdev.dev/rules` say (web-node: `npm install --offline`\n")
	w("  when package.json changes; web-python: `pip install --no-index` when requirements.txt changes; Go: `go build`), each\n")
	w("  followed by its process restart.\n")
	w("- **exec+tar** and the **exec stream** run the same app under a shell loop the bench writes into the Deployment\n")
	w("  (`while true; do APP & echo $! > /tmp/app.pid; wait $!; done`, as root so `tar x` can write the image's `/app/src`):\n")
	w("  after the files land they run `cd /app/src && [install &&] [go build &&] kill $(cat /tmp/app.pid)` in the container,\n")
	w("  the install only for an edit that changed the manifest. exec+tar opens two `kubectl exec` per edit; the stream keeps\n")
	w("  one `kubectl exec -i ... awk` open for the whole series and sends each edit's files as base64 tar lines.\n")
	w("  For the Go service the bench first sends the whole generated tree and builds it, untimed.\n")
	b.WriteString(wlPeerNotes())
	b.WriteString(burstMarkdown(rs))
	return b.String()
}

// wlRows renders one row per workload series (the bursts have their own table).
func wlRows(b *strings.Builder, rs []*wlResult) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	base := map[*wlApp]time.Duration{}
	for _, x := range rs {
		if x.tool == wlFastdevTool && x.wlOK() {
			base[x.app], _ = wlP50(x.code)
		}
	}
	for _, x := range rs {
		if x.burst != nil {
			continue
		}
		if x.cannot != "" {
			w("| %s | %s | cannot: %s | | | | | | |\n", x.app.title, x.tool, x.cannot)
			continue
		}
		if x.series == nil {
			w("| %s | %s | not run (-series) | | | | | | |\n", x.app.title, x.tool)
			continue
		}
		if x.err != nil {
			w("| %s | %s | failed: see Problems | | | | | | |\n", x.app.title, x.tool)
			continue
		}
		p, _ := wlP50(x.code)
		vs := "-"
		if bp := base[x.app]; bp > 0 && !strings.HasPrefix(x.tool, wlFastdevTool) { // not its own variants
			vs = fmt.Sprintf("%.2fx", ratio(bp, p))
		}
		dep := func(ds []time.Duration) string {
			if x.app.dep == nil {
				return "-"
			}
			d, _ := wlP50(ds)
			return fmt.Sprintf("%s (%d)", fmtDur(d), len(ds))
		}
		tree := "yes"
		switch {
		case !x.treeChecked:
			tree = "not checked"
		case x.tree != "":
			tree = "**no**: " + strings.ReplaceAll(x.tree, "|", "\\|")
		}
		w("| %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", x.app.title, x.tool, len(x.code)+len(x.depAdd)+len(x.depRemove),
			fmtDur(p), fmtDur(percentile(x.code, 100)), dep(x.depAdd), dep(x.depRemove), vs, tree)
	}
}
