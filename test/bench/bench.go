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
	idSkaffold100 = "skaffold-sync-poll100"
)

// latencySuite is measure 1 (and 6, when run behind the remote link): one series per contender.
func (e *env) latencySuite(ctx context.Context, rep *report, peers bool, remote bool) []*result {
	n := e.o.edits
	restartMutate := func(d *appsv1.Deployment) error {
		d.Spec.Template.Spec.Containers[0].Command = snapshotCommand
		return nil
	}
	syncMutate := func(d *appsv1.Deployment) error { return rulesAnnotation(d, "restart: process", "restart: none") }
	type contender struct {
		id, title string
		run       func(r *result) error
	}
	cs := []contender{
		{idSync, "kubectl-fastdev, web-static, sync only (`restart: none`)", func(r *result) error {
			return e.fastdevRun(ctx, r, webStatic, n, 1, syncMutate)
		}},
		{idRestart, "kubectl-fastdev, web-static, files + process restart", func(r *result) error {
			return e.fastdevRun(ctx, r, webStatic, n, 1, restartMutate)
		}},
		{idGo, "kubectl-fastdev, web-go, in-pod `go build` + restart", func(r *result) error {
			return e.fastdevRun(ctx, r, webGo, n, 1, nil)
		}},
		{idGoLocal, "kubectl-fastdev, web-go, local `go build`, binary sent + restart", func(r *result) error {
			return e.goLocalBuild(ctx, r, n)
		}},
		{idExecSync, "exec+tar, web-static, sync only", func(r *result) error { return e.execTar(ctx, r, n, false) }},
		{idExecRestart, "exec+tar, web-static, files + restart via `kubectl exec`", func(r *result) error { return e.execTar(ctx, r, n, true) }},
	}
	if !remote {
		cs = append(cs, contender{idVanilla, "vanilla: new image, `ctr import`, rollout", func(r *result) error {
			return e.vanilla(ctx, r, e.o.vanillaEdits)
		}})
	}
	if peers && e.toolBin["tilt"] != "" {
		cs = append(cs, contender{idTilt, "Tilt v0.33.21 live_update, sync only", func(r *result) error { return e.tilt(ctx, r, n) }})
	}
	if peers && e.toolBin["skaffold"] != "" && e.registry != nil {
		cs = append(cs,
			contender{idSkaffold, "Skaffold v2.13.2 file sync, sync only (default 1 s watch poll)", func(r *result) error {
				return e.skaffold(ctx, r, n, 0)
			}},
			contender{idSkaffold100, "Skaffold v2.13.2 file sync, sync only, `--watch-poll-interval=100`", func(r *result) error {
				return e.skaffold(ctx, r, n, 100)
			}},
		)
	}
	var out []*result
	for _, c := range cs {
		if ctx.Err() != nil {
			break
		}
		if len(e.o.series) > 0 && !e.o.series[c.id] {
			continue
		}
		r := &result{id: c.id, title: c.title}
		e.logf("latency: %s", c.title)
		if err := c.run(r); err != nil {
			r.err = err
			rep.problems = append(rep.problems, fmt.Sprintf("%s: %v", c.title, err))
			e.logf("FAILED %s: %v", c.title, err)
		}
		out = append(out, r)
	}
	return out
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
	if e.o.only["latency"] || e.o.only["peers"] {
		rep.latency = e.latencySuite(ctx, rep, e.o.only["peers"] && havePeers, false)
	}
	if e.o.only["initial"] && ctx.Err() == nil {
		rep.initial = e.initialSuite(ctx, rep)
	}
	if e.o.only["fanout"] && ctx.Err() == nil {
		rep.fanout = e.fanoutSuite(ctx, rep)
	}
	if e.o.only["bigtree"] && ctx.Err() == nil {
		rep.bigtree = e.bigtreeSuite(ctx, rep)
	}
	if e.o.only["debug"] && ctx.Err() == nil {
		rep.debug = e.debugSuite(ctx, rep)
	}
	if e.o.only["remote"] && ctx.Err() == nil {
		e.remoteSuite(ctx, rep, e.o.only["peers"] && havePeers)
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
