package main

import (
	"fmt"
	"strings"
	"time"
)

// baselineOf names the kubectl-fastdev series a contender is compared with: the same kind of edit.
var baselineOf = map[string]string{
	idExecSync: idSync, idTilt: idSync, idSkaffold: idSync, idSkaffold100: idSync,
	idExecRestart: idRestart, idVanilla: idRestart, idGoLocal: idGo,
}

// target is one line of the targets table.
type target struct {
	what, measured string
	met            bool
	known          bool // false when a series it needs failed or did not run
}

func (r *report) targets() []target {
	var ts []target
	p50 := func(rs []*result, id string) (time.Duration, bool) {
		x := r.find(rs, id)
		if x == nil || x.err != nil || len(x.lat) == 0 {
			return 0, false
		}
		return percentile(x.lat, 50), true
	}
	limit := func(what string, d time.Duration, ok bool, max time.Duration) {
		ts = append(ts, target{what: what, measured: "p50 " + fmtDur(d), met: ok && d <= max, known: ok})
	}
	faster := func(what string, fd, other time.Duration, ok bool, want float64) {
		x := ratio(fd, other)
		ts = append(ts, target{what: what, measured: fmt.Sprintf("%.1fx (%s vs %s)", x, fmtDur(fd), fmtDur(other)), met: ok && x >= want, known: ok})
	}
	sync, okS := p50(r.latency, idSync)
	restart, okR := p50(r.latency, idRestart)
	limit("Sync-only edit -> served: p50 <= 50 ms", sync, okS, 50*time.Millisecond)
	exec, okE := p50(r.latency, idExecSync)
	faster("Sync-only: >= 2x faster than exec+tar", sync, exec, okS && okE, 2)
	tilt, okT := p50(r.latency, idTilt)
	faster("Sync-only: >= 5x faster than Tilt", sync, tilt, okS && okT, 5)
	limit("Edit with process restart -> served: p50 <= 100 ms", restart, okR, 100*time.Millisecond)
	van, okV := p50(r.latency, idVanilla)
	faster("Restart: >= 20x faster than vanilla", restart, van, okR && okV, 20)
	for _, id := range []string{idTilt, idSkaffold, idSkaffold100} {
		if d, ok := p50(r.latency, id); ok || r.find(r.latency, id) != nil {
			faster("Restart: faster than "+r.find(r.latency, id).title, restart, d, okR && ok, 1)
		}
	}
	if g := r.find(r.latency, idGo); g != nil && g.err == nil && len(g.steps) > 0 {
		d, build := percentile(g.lat, 50), percentile(g.steps, 50)
		ts = append(ts, target{what: "web-go: edit -> served <= in-pod incremental `go build` + 200 ms",
			measured: fmt.Sprintf("p50 %s vs build p50 %s + 200 ms = %s", fmtDur(d), fmtDur(build), fmtDur(build+200*time.Millisecond)),
			met:      d <= build+200*time.Millisecond, known: true})
	} else {
		ts = append(ts, target{what: "web-go: edit -> served <= in-pod incremental `go build` + 200 ms", measured: "not measured"})
	}
	if len(r.initial) == 2 && r.initial[0].err == nil && r.initial[1].err == nil {
		fd, cp := r.initial[0].mbps(), r.initial[1].mbps()
		ts = append(ts, target{what: "Initial sync: >= 2x the throughput of `kubectl cp`",
			measured: fmt.Sprintf("%.2fx (%.1f vs %.1f MB/s)", fd/cp, fd, cp), met: fd >= 2*cp, known: true})
	} else {
		ts = append(ts, target{what: "Initial sync: >= 2x the throughput of `kubectl cp`", measured: "not measured"})
	}
	if len(r.bigtree) > 0 && r.bigtree[0].err == nil {
		b := r.bigtree[0]
		push := percentile(b.push, 50)
		ts = append(ts,
			target{what: "100k files: idle CPU < 1 %", measured: fmt.Sprintf("%.2f %% (fsnotify)", b.cpuPercent), met: b.cpuPercent < 1, known: true},
			target{what: "100k files: RSS < 150 MB", measured: fmt.Sprintf("%.0f MB (fsnotify)", b.rssMB), met: b.rssMB < 150, known: true},
			target{what: "100k files: event -> push < 60 ms", measured: "p50 " + fmtDur(push) + " (fsnotify)", met: push < 60*time.Millisecond, known: true})
	} else {
		ts = append(ts, target{what: "100k files: idle CPU < 1 %, RSS < 150 MB, event -> push < 60 ms", measured: "not measured"})
	}
	one, ok1 := p50(r.fanout, "fanout-1")
	ten, ok10 := p50(r.fanout, "fanout-10")
	ts = append(ts, target{what: "10 replicas: p50 <= 2x the single-replica latency",
		measured: fmt.Sprintf("%.2fx (%s vs %s)", ratio(one, ten), fmtDur(ten), fmtDur(one)), met: ok1 && ok10 && ten <= 2*one, known: ok1 && ok10})
	rs, okRS := p50(r.remote, idSync)
	ts = append(ts, target{what: "Simulated remote: sync-only edit -> served <= one round trip + 50 ms",
		measured: fmt.Sprintf("p50 %s vs %s + 50 ms", fmtDur(rs), fmtDur(r.remoteRTT)), met: okRS && rs <= r.remoteRTT+50*time.Millisecond, known: okRS && r.remoteRTT > 0})
	for _, id := range []string{idTilt, idSkaffold, idSkaffold100} {
		lp, okL := p50(r.latency, id)
		rp, okP := p50(r.remote, id)
		if r.find(r.remote, id) == nil {
			continue
		}
		// the gap is how much longer the peer takes (p50 - p50); the ratio is shown beside it
		lg, rg := lp-sync, rp-rs
		ts = append(ts, target{what: "Simulated remote: the gap to " + r.find(r.remote, id).title + " grows",
			measured: fmt.Sprintf("%s local -> %s remote (ratio %.1fx -> %.1fx)", fmtDur(lg), fmtDur(rg), ratio(sync, lp), ratio(rs, rp)),
			met:      rg >= lg, known: okL && okP && okS && okRS})
	}
	return ts
}

func mark(t target) string {
	switch {
	case !t.known:
		return "not measured"
	case t.met:
		return "**met**"
	default:
		return "**not met**"
	}
}

// latencyTable renders one latency table; local, when given, adds the local p50 for comparison.
func latencyTable(b *strings.Builder, rs []*result, local []*result, find func([]*result, string) *result) {
	if local != nil {
		b.WriteString("| contender | edits | p50 | p95 | max | local p50 | slower than kubectl-fastdev (p50) |\n|---|---:|---:|---:|---:|---:|---:|\n")
	} else {
		b.WriteString("| contender | edits | p50 | p95 | max | slower than kubectl-fastdev (p50) |\n|---|---:|---:|---:|---:|---:|\n")
	}
	for _, x := range rs {
		if x.err != nil {
			fmt.Fprintf(b, "| %s | failed: see Problems | | | |%s |\n", x.title, map[bool]string{true: " | |", false: ""}[local != nil])
			continue
		}
		cmp := ""
		if base := find(rs, baselineOf[x.id]); base != nil && base.err == nil && len(base.lat) > 0 {
			cmp = fmt.Sprintf("%.1fx", ratio(percentile(base.lat, 50), percentile(x.lat, 50)))
		}
		fmt.Fprintf(b, "| %s | %d | %s | %s | %s |", x.title, len(x.lat), fmtDur(percentile(x.lat, 50)), fmtDur(percentile(x.lat, 95)), fmtDur(percentile(x.lat, 100)))
		if local != nil {
			lp := "-"
			if l := find(local, x.id); l != nil && l.err == nil {
				lp = fmtDur(percentile(l.lat, 50))
			}
			fmt.Fprintf(b, " %s |", lp)
		}
		fmt.Fprintf(b, " %s |\n", cmp)
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

func initialTable(b *strings.Builder, rs []*initResult) {
	b.WriteString("| tool | files | MB | runs | median | best | MB/s (median) | vs kubectl cp |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	var cp float64
	for _, x := range rs {
		if x.id == "kubectl-cp" && x.err == nil {
			cp = x.mbps()
		}
	}
	for _, x := range rs {
		if x.err != nil {
			fmt.Fprintf(b, "| %s | failed: see Problems | | | | | | |\n", x.title)
			continue
		}
		vs := "-"
		if cp > 0 {
			vs = fmt.Sprintf("%.2fx", x.mbps()/cp)
		}
		fmt.Fprintf(b, "| %s | %d | %.0f | %d | %s | %s | %.1f | %s |\n", x.title, x.files, float64(x.bytes)/1e6, len(x.runs),
			fmtDur(percentile(x.runs, 50)), fmtDur(percentile(x.runs, 0)), x.mbps(), vs)
	}
}

// markdown renders docs/BENCHMARKS.md.
func (r *report) markdown(o options, charts []string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Benchmarks\n\n")
	w("Generated by `make bench` (`test/bench`, see its README) on %s; the run took %s. Every contender ran on the same local\n",
		r.started.UTC().Format("2006-01-02 15:04 UTC"), r.finished.Sub(r.started).Round(time.Second))
	w("single-node cluster (`hack/cluster/cluster.sh`), the same sample apps and the same machine, one after the other, in this one run.\n")
	w("Absolute times on this shared 2-core machine vary from run to run; the ratios are the figures to compare. Other work\n")
	w("shared the machine during the run (1-minute load average %s at the start, %s at the end), so the tails (p95, max) in\n", r.loadStart, r.loadEnd)
	w("particular are noisier than on an idle machine. Regenerate with `make bench` (about half an hour).\n\n")
	for _, c := range charts {
		w("![%s](%s)\n\n", c, c)
	}

	w("## Targets\n\n| target (issue 7) | measured | |\n|---|---|---|\n")
	for _, t := range r.targets() {
		w("| %s | %s | %s |\n", t.what, t.measured, mark(t))
	}

	w("\n## 1. Edit -> new response served\n\n")
	w("Each edit rewrites one file and is timed from just before the write to the first `GET /` that answers the new\n")
	if o.probe == "port-forward" {
		w("content, polled every %s through a port-forward to each pod (kept open; one stream per poll). %d edits per series\n", o.probeInterval, o.edits)
	} else {
		w("content, polled every %s from the host at each pod's IP (see \"How each contender works here\" for why not through a\n", o.probeInterval)
		w("port-forward). %d edits per series\n", o.edits)
	}
	w("(the vanilla pipeline: %d, as each takes seconds), %s apart. \"Slower than kubectl-fastdev\" compares medians with\n", o.vanillaEdits, o.gap)
	w("kubectl-fastdev on the same kind of edit (sync only, files + restart, or web-go).\n\n")
	latencyTable(&b, r.latency, nil, r.find)
	if g := r.find(r.latency, idGo); g != nil && len(g.steps) > 0 {
		w("\nIn-pod incremental `go build` (web-go, as the synclet timed it): p50 %s, p95 %s.\n", fmtDur(percentile(g.steps, 50)), fmtDur(percentile(g.steps, 95)))
	}
	if g := r.find(r.latency, idGoLocal); g != nil && len(g.steps) > 0 {
		w("Local `go build` of the same edit (warm cache, static binary): p50 %s; the binary is %s.\n", fmtDur(percentile(g.steps, 50)), "then sent whole")
	}

	w("\n## 2. Where the time goes\n\n")
	w("kubectl-fastdev's mean split of the same edits, in ms, from `up`'s own line per update (`edit->running ... (quiet,\n")
	w("send, write, steps, restart)`) and the bench's clock: *detect* is the write to the watcher's first event (the bench's\n")
	w("write-to-line time less the latency `up` reports, so it also holds printing the line), *plan* the rescan and comparison after\n")
	w("the quiet window, *transfer* the update request less the synclet's write (port-forward, API server, kubelet), *first\n")
	w("response* the synclet's reply to the first GET that served the edit (negative when the file was served before the\n")
	w("reply reached the CLI).\n\n")
	stageTable(&b, []*result{r.find(r.latency, idSync), r.find(r.latency, idRestart), r.find(r.latency, idGo), r.find(r.fanout, "fanout-10")})

	w("\n## 3. Initial sync\n\n")
	w("A generated tree of 10,000 files (100 directories, 5-15 kB of base64 text each, about 100 MB, compressible about as\n")
	w("much as source code) into a fresh pod. kubectl-fastdev: from starting `up` (already injected) to its \"converged\"\n")
	w("line, so CLI start, local scan, port-forward, the pod's manifest, transfer and writes all count. `kubectl cp`: the\n")
	w("command's wall time, into an emptyDir like kubectl-fastdev's. The two take turns, run by run, each into a new pod, so a\n")
	w("slow phase of the shared machine (its disk is also etcd's) falls on both.\n\n")
	initialTable(&b, r.initial)

	w("\n## 4. Watching a big tree\n\n")
	w("`up` on a tree of 100,000 files (1,000 directories, ~200 bytes each), after the first sync: CPU of the `up` process\n")
	w("over a minute of idling (after 10 s of settling), its RSS, and 20 single-file writes: *write -> push* is the write to the\n")
	w("update request leaving the CLI (detect + quiet window + plan), *write -> applied* to `up`'s line for it (files written in\n")
	w("the pod, no restart).\n\n")
	w("| watcher | files | up -> connected | idle CPU (of one core) | RSS | write -> push p50 / p95 | of which detect / quiet / plan (mean) | write -> applied p50 / p95 |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, t := range r.bigtree {
		if t.err != nil {
			w("| %s | failed: see Problems | | | | | | |\n", t.mode)
			continue
		}
		m := meanStages(t.stages)
		w("| %s | %d | %s | %.2f %% | %.0f MB | %s / %s | %s / %s / %s | %s / %s |\n", t.mode, t.files, fmtDur(t.connect), t.cpuPercent, t.rssMB,
			fmtDur(percentile(t.push, 50)), fmtDur(percentile(t.push, 95)), fmtDur(m.detect), fmtDur(m.quiet), fmtDur(m.plan),
			fmtDur(percentile(t.applied, 50)), fmtDur(percentile(t.applied, 95)))
	}

	w("\n## 5. Fan-out\n\n")
	w("The files + restart edit of web-static with 1, 3 and 10 replicas, each edit timed until every replica serves it\n")
	w("(the prober polls every replica at once). *Last reply* is the write to `up`'s line for the last replica: when\n")
	w("every synclet had written the files and restarted the process, independent of the prober.\n\n")
	w("| replicas | edits | p50 | p95 | max | vs 1 replica (p50) | last reply p50 / p95 |\n|---|---:|---:|---:|---:|---:|---:|\n")
	var one time.Duration
	for _, x := range r.fanout {
		if x.err != nil {
			w("| %s | failed: see Problems | | | | | |\n", x.title)
			continue
		}
		p := percentile(x.lat, 50)
		if x.id == "fanout-1" {
			one = p
		}
		w("| %s | %d | %s | %s | %s | %.2fx | %s / %s |\n", x.title, len(x.lat), fmtDur(p), fmtDur(percentile(x.lat, 95)), fmtDur(percentile(x.lat, 100)),
			ratio(one, p), fmtDur(percentile(x.replied, 50)), fmtDur(percentile(x.replied, 95)))
	}

	w("\n## 6. A remote cluster, simulated\n\n")
	if r.remoteNote == "" {
		w("Not run.\n")
	} else {
		w("The CLI side of every contender (kubectl-fastdev, kubectl for the baselines, Tilt, Skaffold and its image push) ran in a\n")
		w("network namespace reaching the API server over a veth pair: %s. The prober stays\n", r.remoteNote)
		w("on the host: it sees when the cluster serves the edit. The vanilla pipeline is not repeated (its image import does not\n")
		w("cross the link here). web-go is run both ways: the source edit sent and built in the pod, and built locally with the\n")
		w("binary sent.\n\n")
		latencyTable(&b, r.remote, r.latency, r.find)
		w("\nWhere the time goes behind the link:\n\n")
		stageTable(&b, []*result{r.find(r.remote, idSync), r.find(r.remote, idRestart), r.find(r.remote, idGo)})
		w("\nInitial sync behind the link (one run each):\n\n")
		initialTable(&b, r.remoteInitial)
	}

	w("\n## 7. A debugger attached across rebuilds\n\n")
	w("Edit -> stopped at a breakpoint in the new build, next to edit -> served, under `up --debug` (issue 18): in\n")
	w("[bench-debug.md](bench-debug.md), written by the `debug` measure (`bin/bench -only debug` regenerates it alone).\n")

	w("\n## How each contender works here\n\n")
	w("- **The prober** (the same for every contender) polls `GET /` of every running pod of the app every %s from the\n", o.probeInterval)
	w("  host, the cluster's node, at the pod's IP (`-probe=pod-ip`). Issue 7 asks for polling through a port-forward\n")
	w("  (`-probe=port-forward`), but client-go drops a whole port-forward as soon as the app's port refuses one connection,\n")
	w("  which it does during every process restart, and opening a new one takes about a second here: about a quarter of\n")
	w("  the restart edits then measured ~1.05 s whatever the contender did (kubectl-fastdev's own line said ~30 ms).\n")
	w("- **kubectl-fastdev**: `kubectl fastdev up` on the example Deployments of `manifests/examples`, as their\n")
	w("  `fastdev.dev/rules` say (sync only: `restart: none`). For *files + restart*, web-static runs a command that serves a\n")
	w("  copy of `/www` taken when the process starts, so only the restarted process can serve the edit, as with any app that\n")
	w("  loads its content or code at start; every restart contender runs that same command.\n")
	w("- **exec+tar**: `tar c | kubectl exec -i POD -- tar x -C /www` of the edited file, then, for a restart,\n")
	w("  `kubectl exec POD -- sh -c 'kill $(cat /tmp/app.pid)'` with the process under a shell loop that starts it again\n")
	w("  (as Tilt's restart_process wrapper does). The container runs as root: `tar x` writes into the image's `/www`.\n")
	w("- **vanilla**: a new image with the edit (the hack/mkimage recipe, in process), `hack/cluster/cluster.sh import`,\n")
	w("  `kubectl set image`, timed to the new pod's first answer (before it is Ready or behind the Service: optimistic).\n")
	w("- **Tilt**: `tilt up` with `live_update=[sync('www', '/www')]`; the image from a `custom_build` that imports into\n")
	w("  containerd (`skips_local_docker=True, disable_push=True`).\n")
	w("- **Skaffold**: `skaffold dev` with manual `sync` of `www/**` to `/www`; its custom build pushes to an in-memory\n")
	w("  registry the bench serves on this machine and containerd pulls from it (plain HTTP). Run with the default watcher\n")
	w("  (polls every second) and with `--watch-poll-interval=100`.\n")
	w("- Tilt and Skaffold are built by the bench from their Go modules into `$FASTDEV_CACHE/tools`, never into the repository.\n")

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
