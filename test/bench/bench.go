package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

// report is everything one run measured; the markdown and the charts are rendered from it.
type report struct {
	started, finished  time.Time
	facts              [][2]string
	loadStart, loadEnd string
	latency            []*result     // measure 1 (and the peers), local
	fanout             []*result     // measure 5: 1, 3, 10 replicas
	initial            []*initResult // measure 3, local
	bigtree            []*treeResult // measure 4
	remote             []*result     // measure 6: measure 1 over the shaped link
	remoteInitial      []*initResult // measure 6: measure 3 over the shaped link
	remoteNote         string
	remoteRTT          time.Duration
	debug              *debugResult // measure 7 (issue 18), written to its own file
	problems           []string
	workloads          []*wlResult // real workloads and bursts (workloads.go)
	provenance         [][2]string // digests of what was measured, recorded at the start
	seeds              []string    // the interleaving seed of each measure
	times              [][2]string // how long each measure took
	floor              *initResult // tar x inside the pod from a tarball already there (measure 3's floor)
	remoteProbe        string      // how the remote prober reached the apps
}

func (r *report) find(rs []*result, id string) *result {
	for _, x := range rs {
		if x.id == id {
			return x
		}
	}
	return nil
}

// Contender ids, shared by the measures, the targets and the charts.
const (
	idSync        = "fastdev-static-sync"
	idRestart     = "fastdev-static-restart"
	idGo          = "fastdev-go"
	idGoLocal     = "fastdev-go-local-build"
	idExecSync    = "exec-tar-sync"
	idExecRestart = "exec-tar-restart"
	idVanilla     = "vanilla"
	idTilt        = "tilt-sync"
	idSkaffold    = "skaffold-sync"
	idSkaffold20  = "skaffold-sync-debounce20"
	idSyncQ200    = "fastdev-static-sync-quiet200"
	idExecStream  = "exec-stream-sync"
)

// latencySuite is measure 1 (and 6, when run behind the remote link): one series per contender, all
// set up at once and their edits interleaved (see schedule.go).
func (e *env) latencySuite(ctx context.Context, rep *report, peers bool, remote bool) []*result {
	restartMutate := func(d *appsv1.Deployment) error {
		d.Spec.Template.Spec.Containers[0].Command = snapshotCommand
		return nil
	}
	syncMutate := func(d *appsv1.Deployment) error { return rulesAnnotation(d, "restart: process", "restart: none") }
	n := e.o.edits
	if remote {
		n = e.o.remoteEdits
	}
	cs := []contender{
		{idSync, "kubectl-fastdev, web-static, sync only (`restart: none`)", n, func(ctx context.Context, r *result) (*session, error) {
			return e.fastdevSession(ctx, r, webStatic, 1, syncMutate)
		}},
		{idRestart, "kubectl-fastdev, web-static, files + process restart", n, func(ctx context.Context, r *result) (*session, error) {
			return e.fastdevSession(ctx, r, webStatic, 1, restartMutate)
		}},
		{idGo, "kubectl-fastdev, web-go, in-pod `go build` + restart", n, func(ctx context.Context, r *result) (*session, error) {
			return e.fastdevSession(ctx, r, webGo, 1, nil)
		}},
		{idGoLocal, "kubectl-fastdev, web-go, local `go build`, binary sent + restart", n, e.goLocalBuild},
		{idExecSync, "exec+tar, web-static, sync only", n, func(ctx context.Context, r *result) (*session, error) {
			return e.execTar(ctx, r, false)
		}},
		{idExecRestart, "exec+tar, web-static, files + restart via `kubectl exec`", n, func(ctx context.Context, r *result) (*session, error) {
			return e.execTar(ctx, r, true)
		}},
	}
	cs = append(cs, contender{idExecStream, "persistent `kubectl exec` stream (in-pod awk applies each tar), web-static, sync only", n, e.execStreamStatic})
	if !remote {
		cs = append(cs, contender{idVanilla, "vanilla: new image, `ctr import`, rollout", e.o.vanillaEdits, e.vanilla})
	}
	if e.hasSettle {
		cs = append(cs, contender{idSyncQ200, "kubectl-fastdev, web-static, sync only, `--quiet 200ms --settle 0` (Tilt's debounce)", n,
			func(ctx context.Context, r *result) (*session, error) {
				return e.fastdevSession(ctx, r, webStatic, 1, syncMutate, "--quiet", "200ms", "--settle", "0")
			}})
	}
	if peers && e.toolBin["tilt"] != "" {
		cs = append(cs, contender{idTilt, "Tilt v0.33.21 live_update, sync only (200 ms event batching)", n, e.tilt})
	}
	if peers && e.toolBin["skaffold"] != "" && e.registry != nil {
		cs = append(cs,
			contender{idSkaffold, "Skaffold v2.13.2 file sync, sync only (default `notify` trigger, 1 s debounce)", n,
				func(ctx context.Context, r *result) (*session, error) { return e.skaffold(ctx, r, 0) }},
			contender{idSkaffold20, "Skaffold v2.13.2 file sync, sync only, `--watch-poll-interval=20` (a 20 ms debounce)", n,
				func(ctx context.Context, r *result) (*session, error) { return e.skaffold(ctx, r, 20) }},
		)
	}
	what := "latency"
	if remote {
		what = "remote latency"
	}
	return e.interleaved(ctx, rep, what, cs)
}

// runAll runs the selected measures and writes the report.
func (e *env) runAll(ctx context.Context) error {
	rep := &report{started: time.Now(), loadStart: loadavg()}
	e.logf("work directory %s", e.work)
	toolVersions := map[string]string{}
	if e.o.only["peers"] {
		v, err := e.tools(ctx)
		if err != nil {
			rep.problems = append(rep.problems, fmt.Sprintf("peer tools: %v", err))
		}
		toolVersions = v
	}
	havePeers := len(e.toolBin) > 0
	if e.toolBin["skaffold"] != "" {
		reg, err := startRegistry("127.0.0.1")
		if err != nil {
			return err
		}
		defer reg.close()
		e.registry = reg
	}
	rep.provenance = e.provenance(ctx)
	for _, p := range rep.provenance {
		e.logf("%s: %s", p[0], p[1])
	}
	timed := func(name string, f func()) {
		if ctx.Err() != nil {
			return
		}
		start := time.Now()
		f()
		d := time.Since(start).Round(time.Second)
		rep.times = append(rep.times, [2]string{name, d.String()})
		e.logf("TIME %s: %s", name, d)
	}
	if e.o.only["latency"] || e.o.only["peers"] {
		timed("latency", func() { rep.latency = e.latencySuite(ctx, rep, e.o.only["peers"] && havePeers, false) })
	}
	if e.o.only["initial"] {
		timed("initial", func() { rep.initial = e.initialSuite(ctx, rep) })
	}
	if e.o.only["fanout"] {
		timed("fanout", func() { rep.fanout = e.fanoutSuite(ctx, rep) })
	}
	if e.o.only["bigtree"] {
		timed("bigtree", func() { rep.bigtree = e.bigtreeSuite(ctx, rep) })
	}
	if e.o.only["debug"] {
		timed("debug", func() { rep.debug = e.debugSuite(ctx, rep) })
	}
	if e.o.only["workloads"] {
		timed("workloads", func() { rep.workloads = e.workloadsSuite(ctx, rep) })
	}
	if e.o.only["remote"] {
		timed("remote", func() { e.remoteSuite(ctx, rep, e.o.only["peers"] && havePeers) })
	}
	e.removeBenchImages()
	rep.finished, rep.loadEnd = time.Now(), loadavg()
	rep.facts = e.machine(ctx, toolVersions)
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted; no report written: %w", ctx.Err())
	}
	// a cluster torn down under the run (others share it) fails every later measure: not a result
	if _, err := e.cs.Discovery().ServerVersion(); err != nil {
		return fmt.Errorf("the cluster stopped answering during the run (%v); no report written", err)
	}
	out := e.o.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(e.repo, out)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if rep.debug != nil {
		rep.debug.facts = rep.facts
		md := filepath.Join(out, debugFile)
		if err := os.WriteFile(md, []byte(rep.debug.markdown(e.o)), 0o644); err != nil {
			return err
		}
		e.logf("wrote %s", md)
	}
	if !e.o.onlyDebug() { // -only debug leaves BENCHMARKS.md and the charts as they are
		charts, err := writeCharts(rep, out)
		if err != nil {
			rep.problems = append(rep.problems, fmt.Sprintf("charts: %v", err))
		}
		md := filepath.Join(out, "BENCHMARKS.md")
		if err := os.WriteFile(md, []byte(rep.markdown(e.o, charts)), 0o644); err != nil {
			return err
		}
		e.logf("wrote %s in %s", md, time.Since(rep.started).Round(time.Second))
	}
	_ = os.RemoveAll(e.work)
	return nil
}
