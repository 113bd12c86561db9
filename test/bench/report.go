package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// latencyTable renders one latency table of the interleaved series; local, when given, adds the
// local p50 for comparison (the remote table).
func latencyTable(b *strings.Builder, rs []*result, local []*result, find func([]*result, string) *result) {
	b.WriteString("| contender | edits | p50 | thirds' p50 (min-max) | p95 | max | detect -> served p50 (debounce removed) |")
	if local != nil {
		b.WriteString(" local p50 |")
	}
	b.WriteString(" slower than kubectl-fastdev (p50) |\n|---|---:|---:|---:|---:|---:|---:|")
	if local != nil {
		b.WriteString("---:|")
	}
	b.WriteString("---:|\n")
	for _, x := range rs {
		if x.err != nil && len(x.lat) == 0 {
			fmt.Fprintf(b, "| %s | failed: see Problems | | | | | |%s |\n", x.title, map[bool]string{true: " |", false: ""}[local != nil])
			continue
		}
		cmp := ""
		if base := find(rs, baselineOf[x.id]); base != nil && base.err == nil && len(base.lat) > 0 {
			cmp = fmt.Sprintf("%.1fx", ratio(percentile(base.lat, 50), percentile(x.lat, 50)))
		}
		spread := "-"
		if lo, hi, ok := thirdsSpread(x.lat); ok {
			spread = fmtDur(lo) + " - " + fmtDur(hi)
		}
		title := x.title
		if x.err != nil {
			title += " (**stopped by a failure**: see Problems; no verdict)"
		}
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s | %s |", title, len(x.lat), fmtDur(percentile(x.lat, 50)), spread,
			fmtP95(x.lat), fmtDur(percentile(x.lat, 100)), debouncedP50(x))
		if local != nil {
			lp := "-"
			if l := find(local, x.id); l != nil && l.err == nil && len(l.lat) > 0 {
				lp = fmtDur(percentile(l.lat, 50))
			}
			fmt.Fprintf(b, " %s |", lp)
		}
		fmt.Fprintf(b, " %s |\n", cmp)
	}
}

// treeLine says how the end-of-series tree checks of a table's series came out.
func treeLine(b *strings.Builder, rs []*result) {
	var ok, bad []string
	for _, x := range rs {
		switch {
		case !x.treeChecked:
		case x.tree == "":
			ok = append(ok, x.id)
		default:
			bad = append(bad, x.id+" ("+x.tree+")")
		}
	}
	if len(ok)+len(bad) == 0 {
		return
	}
	fmt.Fprintf(b, "\nAt the end of the series, each pod's tree (the path and sha256 of every file) was compared with the local one: ")
	fmt.Fprintf(b, "equal for %d series (%s)", len(ok), strings.Join(ok, ", "))
	if len(bad) > 0 {
		fmt.Fprintf(b, "; **different** for %s", strings.Join(bad, "; "))
	}
	b.WriteString(".\n")
}

// debouncedP50 is the median of edit -> served less the tool's debounce in each edit, or the plain
// median for a contender without one.
func debouncedP50(x *result) string {
	if len(x.debounced) > 0 {
		return fmtDur(percentile(x.debounced, 50))
	}
	return fmtDur(percentile(x.lat, 50))
}

// matchedTable renders the matched-debounce comparisons.
func matchedTable(b *strings.Builder, rs []*result) {
	b.WriteString("| kubectl-fastdev series | p50 | peer with the same debounce | p50 | peer slower (p50 ratio) |\n|---|---:|---|---:|---:|\n")
	for _, p := range matchedPairs {
		if !has(rs, p[0]) && !has(rs, p[1]) {
			continue
		}
		fd, okF := p50Of(rs, p[0])
		other, okO := p50Of(rs, p[1])
		x := "-"
		if okF && okO {
			x = fmt.Sprintf("%.2fx", ratio(fd, other))
		}
		show := func(d time.Duration, ok bool) string {
			if !ok {
				return "not measured"
			}
			return fmtDur(d)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", titleOf(rs, p[0]), show(fd, okF), titleOf(rs, p[1]), show(other, okO), x)
	}
}

// usageTable renders each contender's resources during its interleaved series.
func usageTable(b *strings.Builder, rs []*result) {
	b.WriteString("| contender | series window | local CPU | local peak RSS | in-pod CPU (all containers) | of which synclets | in-pod peak RSS | one synclet's peak RSS | API requests per edit (mean, net) |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	mb := func(v float64) string {
		switch {
		case v == 0:
			return "-"
		case v < 10:
			return fmt.Sprintf("%.1f MB", v)
		}
		return fmt.Sprintf("%.0f MB", v)
	}
	sec := func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
	for _, x := range rs {
		u := x.usage
		if u == nil {
			continue
		}
		api := "-"
		if len(x.api) > 0 {
			var sum float64
			for _, v := range x.api {
				sum += v
			}
			api = fmt.Sprintf("%.1f", sum/float64(len(x.api)))
		}
		sc, sm := "-", "-"
		if u.synclet {
			sc, sm = sec(u.syncletCPU), mb(u.syncletPeakMB)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", x.title, u.window.Round(time.Second), sec(u.localCPU), mb(u.localPeakMB),
			sec(u.podCPU), sc, mb(u.podPeakMB), sm, api)
	}
}

func stageTable(b *strings.Builder, rows []*result) {
	b.WriteString("| series | detect | quiet window | plan | transfer | write | steps | restart | first response | total (mean) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }
	for _, x := range rows {
		if x == nil || x.err != nil || len(x.stages) == 0 {
			continue
		}
		s := meanStages(x.stages)
		total := s.detect + s.quiet + s.plan + s.transfer + s.write + s.steps + s.restart + s.response
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", x.title, ms(s.detect), ms(s.quiet), ms(s.plan),
			ms(s.transfer), ms(s.write), ms(s.steps), ms(s.restart), ms(s.response), ms(total))
	}
}

func initialTable(b *strings.Builder, rs []*initResult, floor *initResult) {
	b.WriteString("| tool | files | MB | runs | median | min - max | MB/s (median) | vs kubectl cp |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	var cp float64
	for _, x := range rs {
		if x.id == "kubectl-cp" && x.err == nil && len(x.runs) > 0 {
			cp = x.mbps()
		}
	}
	if floor != nil {
		rs = append(slices.Clone(rs), floor)
	}
	for _, x := range rs {
		if x.err != nil || len(x.runs) == 0 {
			fmt.Fprintf(b, "| %s | failed: see Problems | | | | | | |\n", x.title)
			continue
		}
		vs := "-"
		if cp > 0 {
			vs = fmt.Sprintf("%.2fx", x.mbps()/cp)
		}
		fmt.Fprintf(b, "| %s | %d | %.0f | %d | %s | %s - %s | %.1f | %s |\n", x.title, x.files, float64(x.bytes)/1e6, len(x.runs),
			fmtDur(percentile(x.runs, 50)), fmtDur(percentile(x.runs, 0)), fmtDur(percentile(x.runs, 100)), x.mbps(), vs)
	}
}

// markdown renders docs/BENCHMARKS.md.
func (r *report) markdown(o options, charts []string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	r.writeHeader(w, o, charts)
	r.writeTargets(w)
	r.writeLatency(&b, w, o)
	r.writeInitial(&b, w)
	r.writeBigtree(w)
	r.writeFanout(&b, w)
	r.writeRemote(&b, w)
	w("\n## 7. A debugger attached across rebuilds\n\n")
	w("Edit -> stopped at a breakpoint in the new build, next to edit -> served, under `up --debug` (issue 18): in\n")
	w("[bench-debug.md](bench-debug.md), written by the `debug` measure (`bin/bench -only debug` regenerates it alone).\n")
	b.WriteString(workloadsMarkdown(r.workloads, o.edits))
	r.writeContenders(w, o)
	if len(r.problems) > 0 {
		w("\n## Problems in this run\n\n")
		for _, p := range r.problems {
			w("- %s\n", strings.ReplaceAll(firstLine(p), "|", "\\|"))
		}
	}
	w("\n## Machine and versions\n\n| | |\n|---|---|\n")
	for _, f := range r.facts {
		w("| %s | %s |\n", f[0], strings.ReplaceAll(f[1], "|", "\\|"))
	}
	return b.String()
}

type writer func(format string, args ...any)

func (r *report) writeHeader(w writer, o options, charts []string) {
	w("# Benchmarks\n\n")
	w("Generated by `make bench` (`test/bench`, see its README) on %s; the run took %s", r.started.UTC().Format("2006-01-02 15:04 UTC"),
		r.finished.Sub(r.started).Round(time.Second))
	if o.quick {
		w(" (**`BENCH=quick`: fewer edits, no big tree or remote; for iterating, not a result**)")
	}
	w(". Every contender ran on the same local\nsingle-node cluster (`hack/cluster/cluster.sh`), the same sample apps and the same machine, in this one run.\n\n")
	w("**Method** (issue 19). Every contender of a measure runs on its own copy of the app, in its own namespace, and all of\n")
	w("them run at once; their edits are then made one at a time, in a random order (seeded, below), so drift of the shared\n")
	w("machine and the background load of every tool (idle watchers, pollers) hit every contender alike. A series' *thirds'\n")
	w("p50* are the medians of its first, second and last third of edits (in the order made): the spread a reader should\n")
	w("allow. The initial sync cannot share a pod: there the tools take turns, round by round, and the median with the\n")
	w("min-max of the rounds is shown. p95 only where a series has at least %d samples (else `n<%d`). The 1-minute load average\n", minP95, minP95)
	w("was %s at the start and %s at the end.\n\n", r.loadStart, r.loadEnd)
	if len(r.seeds) > 0 {
		w("Interleaving seeds (`bin/bench -seed N` repeats an order): %s.\n\n", strings.Join(r.seeds, "; "))
	}
	w("| recorded at the start | |\n|---|---|\n")
	for _, p := range r.provenance {
		w("| %s | %s |\n", p[0], p[1])
	}
	if len(r.times) > 0 {
		w("\n| measure | time |\n|---|---:|\n")
		for _, t := range r.times {
			w("| %s | %s |\n", t[0], t[1])
		}
	}
	w("\n")
	for _, c := range charts {
		w("![%s](%s)\n\n", c, c)
	}
}

func (r *report) writeTargets(w writer) {
	w("## Targets\n\n")
	w("The rules are in `test/bench/verdicts.go`, committed before the run (the source measured is named under Machine and\n")
	w("versions); a missed target is reported as missed. Ratios compare medians (p50), kubectl-fastdev against the same kind\n")
	w("of edit. The `--poll` rule: `--poll` exists for mounts without file events, and pkg/watch sets its rescan period so\n")
	w("that rescanning costs about 5 %% of a core; the rule holds `up` to that budget (plus one point) and to what it\n")
	w("announces (an edit pushed within one announced rescan period + 1 s).\n\n")
	w("| target (issue 19) | measured | |\n|---|---|---|\n")
	for _, t := range append(r.targets19(), workloadTargets(r.workloads)...) {
		w("| %s | %s | %s |\n", t.what, t.measured, mark(t))
	}
	w("\n| target (issue 7, kept) | measured | |\n|---|---|---|\n")
	for _, t := range r.targets7() {
		w("| %s | %s | %s |\n", t.what, t.measured, mark(t))
	}
}

func (r *report) writeLatency(b *strings.Builder, w writer, o options) {
	w("\n## 1. Edit -> new response served\n\n")
	w("Each edit rewrites one file and is timed from just before the write to the first `GET /` that answers the new\n")
	if o.probe == "port-forward" {
		w("content, polled every %s through a port-forward to each pod (kept open; one stream per poll).", o.probeInterval)
	} else {
		w("content, polled every %s from the host at each pod's IP (see \"How each contender works here\" for why not through a\n", o.probeInterval)
		w("port-forward).")
	}
	w(" %d edits per series (the vanilla pipeline: %d, as each takes seconds), %s apart.\n", o.edits, o.vanillaEdits, o.gap)
	w("*Slower than kubectl-fastdev* compares medians with kubectl-fastdev's default series for the same kind of edit.\n")
	w("*Detect -> served (debounce removed)* is each edit's time less the tool's debounce in that edit: for kubectl-fastdev\n")
	w("the quiet window `up` reports on its line for the edit (`quiet ...`), for Tilt its fixed 200 ms event batching\n")
	w("(BufferMinRestDuration), for Skaffold its notify trigger's debounce (`--watch-poll-interval`, default 1000 ms); none\n")
	w("for the others. The peers' timers start at the last file event, which follows the write by about a millisecond, so\n")
	w("their figure is a lower bound of what they would take without a debounce.\n\n")
	w("### As shipped (defaults)\n\n")
	var shipped []*result
	for _, x := range r.latency {
		if x.id != idSyncQ200 && x.id != idSkaffold20 {
			shipped = append(shipped, x)
		}
	}
	latencyTable(b, shipped, nil, r.find)
	treeLine(b, r.latency)
	if g := r.find(r.latency, idGo); g != nil && len(g.steps) > 0 {
		w("\nIn-pod incremental `go build` (web-go, as the synclet timed it): p50 %s, p95 %s.\n", fmtDur(percentile(g.steps, 50)), fmtP95(g.steps))
	}
	if g := r.find(r.latency, idGoLocal); g != nil && len(g.steps) > 0 {
		w("Local `go build` of the same edit (warm cache, static binary): p50 %s; the binary is then sent whole.\n", fmtDur(percentile(g.steps, 50)))
	}
	w("\n### Matched debounce\n\n")
	w("kubectl-fastdev with `--quiet 200ms --settle 0` (always waits the whole 200 ms window) against Tilt's fixed 200 ms;\n")
	w("Skaffold with `--watch-poll-interval=20` (its notify trigger then waits 20 ms after the last event) against\n")
	w("kubectl-fastdev's default. Same interleaved run as the table above.\n\n")
	matchedTable(b, r.latency)
	var matched []*result
	for _, x := range r.latency {
		if x.id == idSyncQ200 || x.id == idSkaffold20 {
			matched = append(matched, x)
		}
	}
	if len(matched) > 0 {
		w("\n")
		latencyTable(b, matched, nil, r.find)
	}
	w("\n### Resources during the series\n\n")
	w("CPU time and peak RSS of each tool's local processes (the long-running tool's whole process tree from /proc, CPU\n")
	w("of descendants that ended included; for exec+tar, the vanilla pipeline and the local build, the commands the bench ran\n")
	w("for each edit, from their rusage) and of its in-pod part (the app pods' cgroups on this node: every container, and\n")
	w("kubectl-fastdev's synclet container alone; RSS is the cgroup's total_rss), over the whole interleaved series (so\n")
	w("idling between its own edits counts), sampled every 500 ms. *API requests per edit* is the API server's\n")
	w("apiserver_request_total (all labels) over each edit's window (from just before the write to the end of the pause\n")
	w("after it), less the requests the bench itself made and less the rate measured while every contender idled (before\n")
	w("the edits started), never below zero; it can be off by one per edit, and requests from anything else using the\n")
	w("cluster during the window count too. Tilt, Skaffold, exec+tar and the exec stream have no in-pod agent: their\n")
	w("`tar x` (or awk) runs in the app's container, so their in-pod part is in the pod's figure.\n\n")
	usageTable(b, r.latency)
	w("\n## 2. Where the time goes\n\n")
	w("kubectl-fastdev's mean split of the same edits, in ms, from `up`'s own line per update (`edit->running ... (quiet,\n")
	w("send, write, steps, restart)`) and the bench's clock: *detect* is the write to the watcher's first event (the bench's\n")
	w("write-to-line time less the latency `up` reports, so it also holds printing the line), *plan* the rescan and comparison after\n")
	w("the quiet window, *transfer* the update request less the synclet's write (port-forward, API server, kubelet), *first\n")
	w("response* the synclet's reply to the first GET that served the edit (negative when the file was served before the\n")
	w("reply reached the CLI).\n\n")
	stageTable(b, []*result{r.find(r.latency, idSync), r.find(r.latency, idSyncQ200), r.find(r.latency, idRestart), r.find(r.latency, idGo), r.find(r.fanout, "fanout-10")})
}

func (r *report) writeInitial(b *strings.Builder, w writer) {
	w("\n## 3. Initial sync\n\n")
	w("Real source code: a copy of the Go toolchain's `src` tree (`$(go env GOROOT)/src`) into a fresh pod. kubectl-fastdev:\n")
	w("from starting `up` (already injected) to its \"converged\" line, so CLI start, local scan, port-forward, the pod's\n")
	w("manifest, transfer and writes all count. `kubectl cp`: the command's wall time, into an emptyDir like\n")
	w("kubectl-fastdev's. The two take turns, round by round, each into a new pod. The *floor* is the same tree extracted\n")
	w("by `tar x` inside the pod from a tarball already there (into the same kind of emptyDir; the time of one `kubectl\n")
	w("exec`, so about 0.1 s of it is the exec), three times after the rounds; its MB/s is its best run's, as a floor is a\n")
	w("lower bound: no tool can write the tree faster than the pod's disk takes it. Each run starts from a flushed disk (`sync`).\n\n")
	initialTable(b, r.initial, r.floor)
}

func (r *report) writeBigtree(w writer) {
	w("\n## 4. Watching a big tree\n\n")
	w("`up` on a tree of 100,000 files (1,000 directories, ~200 bytes each), after the first sync: CPU of the `up` process\n")
	w("over %s of idling (after 10 s of settling), its RSS, and 20 single-file writes (%d under `--poll`, where each waits for a rescan): *write -> push* is the write to the\n", bigtreeIdle, pollWrites)
	w("update request leaving the CLI (detect + quiet window + plan), *write -> applied* to `up`'s line for it (files written in\n")
	w("the pod, no restart). The two watchers cannot run at once (the idle CPU is the figure): fsnotify first, then `--poll`.\n\n")
	w("| watcher | files | up -> connected | idle CPU (of one core) | RSS | rescan period | write -> push p50 / p95 | of which detect / quiet / plan (mean) | write -> applied p50 / p95 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, t := range r.bigtree {
		if t.err != nil {
			w("| %s | failed: see Problems | | | | | | | |\n", t.mode)
			continue
		}
		m := meanStages(t.stages)
		period := "-"
		if t.mode == "--poll" {
			period = fmtDur(max(t.pollPeriod, defaultPollPeriod))
		}
		w("| %s | %d | %s | %.2f %% | %.0f MB | %s | %s / %s | %s / %s / %s | %s / %s |\n", t.mode, t.files, fmtDur(t.connect), t.cpuPercent, t.rssMB, period,
			fmtDur(percentile(t.push, 50)), fmtP95(t.push), fmtDur(m.detect), fmtDur(m.quiet), fmtDur(m.plan),
			fmtDur(percentile(t.applied, 50)), fmtP95(t.applied))
	}
}

func (r *report) writeFanout(b *strings.Builder, w writer) {
	w("\n## 5. Fan-out\n\n")
	w("The files + restart edit of web-static with 1, 3 and 10 replicas, the three running at once with their edits\n")
	w("interleaved, each edit timed until every replica serves it (the prober polls every replica at once). *Last reply* is\n")
	w("the write to `up`'s line for the last replica: when every synclet had written the files and restarted the process.\n\n")
	w("| replicas | edits | p50 | thirds' p50 (min-max) | p95 | max | vs 1 replica (p50) | last reply p50 / p95 |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	one, _ := p50Of(r.fanout, "fanout-1")
	for _, x := range r.fanout {
		if x.err != nil && len(x.lat) == 0 {
			w("| %s | failed: see Problems | | | | | | |\n", x.title)
			continue
		}
		p := percentile(x.lat, 50)
		spread := "-"
		if lo, hi, ok := thirdsSpread(x.lat); ok {
			spread = fmtDur(lo) + " - " + fmtDur(hi)
		}
		w("| %s | %d | %s | %s | %s | %s | %.2fx | %s / %s |\n", x.title, len(x.lat), fmtDur(p), spread, fmtP95(x.lat), fmtDur(percentile(x.lat, 100)),
			ratio(one, p), fmtDur(percentile(x.replied, 50)), fmtP95(x.replied))
	}
	w("\n")
	usageTable(b, r.fanout)
}

func (r *report) writeRemote(b *strings.Builder, w writer) {
	w("\n## 6. A remote cluster, simulated\n\n")
	if r.remoteNote == "" {
		w("Not run.\n")
		return
	}
	w("The CLI side of every contender (kubectl-fastdev, kubectl for the baselines, Tilt, Skaffold and its image push) ran in a\n")
	w("network namespace reaching the API server over a veth pair: %s. %s\n", r.remoteNote, r.remoteProbe)
	w("The vanilla pipeline is not repeated (its image import does not cross the link here). The contenders ran at once,\n")
	w("their edits interleaved, as in measure 1.\n\n")
	latencyTable(b, r.remote, r.latency, r.find)
	treeLine(b, r.remote)
	w("\nMatched debounce behind the link:\n\n")
	matchedTable(b, r.remote)
	w("\nResources behind the link:\n\n")
	usageTable(b, r.remote)
	w("\nWhere the time goes behind the link:\n\n")
	stageTable(b, []*result{r.find(r.remote, idSync), r.find(r.remote, idRestart), r.find(r.remote, idGo)})
	w("\nInitial sync behind the link:\n\n")
	initialTable(b, r.remoteInitial, nil)
}

func (r *report) writeContenders(w writer, o options) {
	w("\n## How each contender works here\n\n")
	w("- **The prober** (the same for every contender) polls `GET /` of every running pod of the app every %s from the\n", o.probeInterval)
	w("  host, the cluster's node, at the pod's IP (`-probe=pod-ip`); behind the simulated link, from the developer's side (see\n")
	w("  measure 6). Issue 7 asks for polling through a port-forward (`-probe=port-forward`), but client-go drops a whole\n")
	w("  port-forward as soon as the app's port refuses one connection, which it does during every process restart, and\n")
	w("  opening a new one takes about a second here: that would measure the prober, not the contender.\n")
	w("- **kubectl-fastdev**: `kubectl fastdev up` on the example Deployments of `manifests/examples`, as their\n")
	w("  `fastdev.dev/rules` say (sync only: `restart: none`). For *files + restart*, web-static runs a command that serves a\n")
	w("  copy of `/www` taken when the process starts, so only the restarted process can serve the edit, as with any app that\n")
	w("  loads its content or code at start; every restart contender runs that same command.\n")
	w("- **exec+tar**: `tar c | kubectl exec -i POD -- tar x -C /www` of the edited file, then, for a restart,\n")
	w("  `kubectl exec POD -- sh -c 'kill $(cat /tmp/app.pid)'` with the process under a shell loop that starts it again\n")
	w("  (as Tilt's restart_process wrapper does). The container runs as root: `tar x` writes into the image's `/www`.\n")
	w("- **persistent exec stream**: one long-lived `kubectl exec -i` per pod whose in-pod awk reads each edit as a tar\n")
	w("  archive in base64 lines and applies it (`execstream.go`): no new exec, API request or process start per edit.\n")
	w("- **vanilla**: a new image with the edit (the hack/mkimage recipe, in process), `hack/cluster/cluster.sh import`,\n")
	w("  `kubectl set image`, timed to the new pod's first answer (before it is Ready or behind the Service: optimistic).\n")
	w("- **Tilt**: `tilt up` with `live_update=[sync('www', '/www')]`; the image from a `custom_build` that imports into\n")
	w("  containerd (`skips_local_docker=True, disable_push=True`). Tilt batches file events until 200 ms pass without one.\n")
	w("- **Skaffold**: `skaffold dev` with manual `sync` of `www/**` to `/www`; its custom build pushes to an in-memory\n")
	w("  registry the bench serves on this machine and containerd pulls from it (plain HTTP). Skaffold v2's default trigger\n")
	w("  is `notify` (file events); `--watch-poll-interval` is then not a poll but a debounce: every event restarts a timer\n")
	w("  of that length (default 1000 ms; `pkg/skaffold/trigger/fsnotify` in v2.13.2), and the sync starts when it fires.\n")
	w("  Run with the default and with 20 ms.\n")
	w("- Tilt and Skaffold are built by the bench from their Go modules into `$FASTDEV_CACHE/tools`, never into the repository.\n")
}
