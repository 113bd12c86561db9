package main

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

// wlResult is one contender's series on one workload.
type wlResult struct {
	app                     *wlApp
	id, tool, title         string
	code, depAdd, depRemove []time.Duration // edit -> served, by kind
	tree                    string          // "" when every pod equalled the local tree at the end
	treeChecked             bool
	cannot                  string // why the contender cannot run this workload (no series)
	err                     error
	series                  *result      // the interleaved series it came from (resources, API requests)
	burst                   *burstResult // the branch switch (burst.go), when run
	matched                 bool         // a matched-debounce variant (compared only in its pair)
}

// wlTool is one contender kind for the workloads.
type wlTool struct {
	tool, title string
	matched     bool // a matched-debounce variant: no burst, compared only with its pair (matchedWl)
	// cannot says why the tool cannot run the workload ("" when it can)
	cannot func(a *wlApp) string
	setup  func(ctx context.Context, a *wlApp, r *result, w *wlSeries, res *wlResult) (*session, error)
}

func (e *env) wlTools() []wlTool {
	ts := []wlTool{
		{tool: wlFastdevTool, title: "kubectl-fastdev (the sample's rules: sync, install step, build step, process restart)",
			setup: func(ctx context.Context, a *wlApp, r *result, w *wlSeries, res *wlResult) (*session, error) {
				return e.wlFastdev(ctx, a, r, w, res)
			}},
		{tool: "exec+tar", title: "exec+tar (`tar c | kubectl exec -i -- tar x`, then `kubectl exec` install/build/restart)", setup: e.wlExecTar},
		{tool: "exec-stream", title: "persistent `kubectl exec -i` stream (one exec; tar in base64 lines, then install/build/restart)", setup: e.wlExecStream},
	}
	if e.hasSettle {
		ts = append(ts, wlTool{tool: wlFastdevQ200, matched: true, title: "kubectl-fastdev, `up --quiet 200ms --settle 0` (Tilt's debounce)",
			setup: func(ctx context.Context, a *wlApp, r *result, w *wlSeries, res *wlResult) (*session, error) {
				return e.wlFastdev(ctx, a, r, w, res, "--quiet", "200ms", "--settle", "0")
			}})
	}
	return append(ts, e.wlPeerTools()...)
}

// workloadsSuite runs every workload with every contender (interleaved per workload), then the
// branch-switch bursts.
func (e *env) workloadsSuite(ctx context.Context, rep *report) []*wlResult {
	if e.registry == nil && e.wlPeerBin("skaffold") != "" { // -only workloads: runAll started none
		reg, err := startRegistry("127.0.0.1")
		if err != nil {
			rep.problems = append(rep.problems, fmt.Sprintf("workloads: registry for Skaffold: %v", err))
		} else {
			e.registry = reg
			defer func() { reg.close(); e.registry = nil }()
		}
	}
	var out []*wlResult
	for _, a := range wlApps() {
		if ctx.Err() != nil {
			break
		}
		out = append(out, e.wlRunApp(ctx, rep, a)...)
	}
	if ctx.Err() == nil {
		out = e.burstSuite(ctx, rep, out)
	}
	return out
}

// wlEdits is the number of edits per series: the measure's budget is at most 10 minutes of a full
// run (12 edits; 10 for the Go service, whose builds take longer), fewer under -quick.
func (e *env) wlEdits(a *wlApp) int {
	n := min(max(e.o.edits, 4), 12)
	if a.goService {
		n = min(max(e.o.edits, 3), 10)
	}
	if e.o.quick {
		n = min(n, 8, map[bool]int{true: 4, false: 8}[a.goService])
	}
	return n
}

// wlID is a series' id (for -series): wl-<workload>-<tool>, or burst-<tool>.
func wlID(prefix, tool string) string {
	return prefix + strings.Trim(wlIDUnsafe.ReplaceAllString(tool, "-"), "-")
}

var wlIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9]+`)

// wlRunApp runs one workload's contenders, interleaved, and splits each series by edit kind.
func (e *env) wlRunApp(ctx context.Context, rep *report, a *wlApp) []*wlResult {
	n := e.wlEdits(a)
	var out []*wlResult
	var cs []contender
	byID := map[string]*wlResult{}
	series := map[string]*wlSeries{}
	for _, t := range e.wlTools() {
		res := &wlResult{app: a, id: wlID("wl-"+a.id+"-", t.tool), tool: t.tool, title: t.title, matched: t.matched}
		out = append(out, res)
		if t.cannot != nil {
			if res.cannot = t.cannot(a); res.cannot != "" {
				continue
			}
		}
		w := &wlSeries{a: a}
		byID[res.id], series[res.id] = res, w
		cs = append(cs, contender{id: res.id, title: a.title + ": " + t.tool, edits: n,
			setup: func(ctx context.Context, r *result) (*session, error) { return t.setup(ctx, a, r, w, res) }})
	}
	e.logf("workloads: %s, %d contenders, %d edits each", a.title, len(cs), n)
	for _, r := range e.interleaved(ctx, rep, "workloads "+a.title, cs) {
		res, w := byID[r.id], series[r.id]
		res.err, res.series = r.err, r
		for i, d := range r.lat {
			if i >= len(w.kinds) {
				break
			}
			switch w.kinds[i] {
			case wlCode:
				res.code = append(res.code, d)
			case wlDepAdd:
				res.depAdd = append(res.depAdd, d)
			case wlDepRemove:
				res.depRemove = append(res.depRemove, d)
			}
		}
		if res.treeChecked && res.tree != "" {
			rep.problems = append(rep.problems, fmt.Sprintf("workloads %s: %s: the pod's tree differs from the local tree at the end: %s", a.title, res.tool, res.tree))
		}
	}
	return out
}

// wlCheckOnClose registers the end-of-series tree check: it runs when the session closes (after its
// last edit, before its namespace goes), and only when the series ran.
func (e *env) wlCheckOnClose(s *session, a *wlApp, container, src string, res *wlResult) {
	s.onClose(func() {
		if len(s.r.lat) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		res.treeChecked = true
		d, err := e.wlSettledTree(ctx, s.ns, s.selector, container, src, a)
		switch {
		case err != nil:
			res.tree = "not checked: " + err.Error()
		default:
			res.tree = d
		}
	})
}

// wlSettledTree checks the pods' tree, again for up to 10 s while it differs (a contender may still
// be writing files of the last edit that the reply did not need).
func (e *env) wlSettledTree(ctx context.Context, ns, selector, container, src string, a *wlApp) (string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := e.checkPodTree(ctx, ns, selector, container, src, a.dest, a.skip, a.rewritten)
		if err != nil || d == "" || time.Now().After(deadline) {
			return d, err
		}
		time.Sleep(time.Second)
	}
}

// wlFastdev is kubectl-fastdev on the sample as its rules say.
func (e *env) wlFastdev(ctx context.Context, a *wlApp, r *result, w *wlSeries, res *wlResult, upArgs ...string) (_ *session, err error) {
	s := &session{r: r, pods: 1, timeout: wlTimeout, selector: "app=" + a.example}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	ns, cleanup, err := e.namespace(ctx, "wl-fd")
	if err != nil {
		return nil, err
	}
	s.ns = ns
	s.onClose(cleanup)
	dir, src, err := e.wlTree(ns, a)
	if err != nil {
		return nil, err
	}
	w.src = src
	if _, err := e.deploy(ctx, ns, a.example, func(d *appsv1.Deployment) error { return a.addBusybox(d) }); err != nil {
		return nil, err
	}
	up, err := e.up(ctx, ns, a.example, dir, 1, upArgs...)
	if err != nil {
		return nil, err
	}
	s.local = up
	s.onClose(up.stop)
	if err := e.rolledOut(ctx, ns, a.example, 3*time.Minute); err != nil {
		return nil, err
	}
	if err := e.wlProbe(ctx, s, a.initial, 5*time.Minute); err != nil {
		return nil, err
	}
	e.wlCheckOnClose(s, a, "web", src, res)
	from := 0
	s.edit = func(_ context.Context, m string) error {
		from = up.mark()
		_, err := w.next(m)
		return err
	}
	s.after = e.wlAfter(s, w, src, up, &from)
	return s, nil
}

// wlPlainSession deploys the plain variant of the sample (wlPlain) and returns the session and its
// pod; for the Go service, prime sends the whole generated tree and builds it first.
func (e *env) wlPlainSession(ctx context.Context, a *wlApp, r *result, w *wlSeries, what string) (*session, string, error) {
	s := &session{r: r, pods: 1, timeout: wlTimeout, selector: "app=" + a.example}
	ns, cleanup, err := e.namespace(ctx, what)
	if err != nil {
		return nil, "", err
	}
	s.ns = ns
	s.onClose(cleanup)
	_, src, err := e.wlTree(ns, a)
	if err != nil {
		s.close()
		return nil, "", err
	}
	w.src = src
	if _, err := e.deploy(ctx, ns, a.example, a.wlPlain); err != nil {
		s.close()
		return nil, "", err
	}
	pods, err := e.runningPods(ctx, ns, s.selector)
	if err != nil || len(pods) != 1 {
		s.close()
		return nil, "", fmt.Errorf("want 1 running pod: %v", err)
	}
	return s, pods[0].Name, nil
}

// wlExecTar is the exec+tar baseline: per edit, `tar c FILES | kubectl exec -i POD -- tar x -C DEST`,
// then one `kubectl exec POD -- sh -c 'cd DEST && [install &&] [build &&] kill ...'`.
func (e *env) wlExecTar(ctx context.Context, a *wlApp, r *result, w *wlSeries, res *wlResult) (_ *session, err error) {
	s, pod, err := e.wlPlainSession(ctx, a, r, w, "wl-exec")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	kc := e.kubectl + " --kubeconfig " + e.cliKubeconfig() + " -n " + s.ns
	push := func(ctx context.Context, files []string, post string) error {
		script := fmt.Sprintf("tar c -C %s %s | %s exec -i %s -c web -- tar x -C %s && %s exec %s -c web -- sh -c %s",
			w.src, strings.Join(files, " "), kc, pod, a.dest, kc, pod, shQuote(post))
		cmd := e.cmd(ctx, "sh", "-c", script)
		out, err := cmd.CombinedOutput()
		s.addLocal(cmd.ProcessState)
		if err != nil {
			return fmt.Errorf("%s: %w: %s", script, err, tail(string(out), 10))
		}
		return nil
	}
	if w.prime() {
		if err := push(ctx, []string{"."}, a.postCommand(wlUpdate{install: true})); err != nil {
			return nil, err
		}
	}
	if err := e.wlProbe(ctx, s, a.initial, 5*time.Minute); err != nil {
		return nil, err
	}
	e.wlCheckOnClose(s, a, "web", w.src, res)
	s.edit = func(ctx context.Context, m string) error {
		u, err := w.next(m)
		if err != nil {
			return err
		}
		return push(ctx, u.files, a.postCommand(u))
	}
	s.after = e.wlAfter(s, w, w.src, nil, nil)
	return s, nil
}

// wlExecStream is the persistent exec stream (execstream.go): the files and the same in-pod
// command as exec+tar, over one `kubectl exec -i` kept open for the whole series.
func (e *env) wlExecStream(ctx context.Context, a *wlApp, r *result, w *wlSeries, res *wlResult) (_ *session, err error) {
	s, pod, err := e.wlPlainSession(ctx, a, r, w, "wl-stream")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	st, err := e.startExecStream(ctx, s.ns, pod, "web", a.dest)
	if err != nil {
		return nil, err
	}
	s.onClose(func() {
		st.close()
		s.addLocal(st.cmd.ProcessState)
	})
	push := func(ctx context.Context, files []string, post string) error {
		rc, err := st.send(ctx, w.src, files, post)
		if err == nil && rc != 0 {
			err = fmt.Errorf("the in-pod command %q exited %d: %s", post, rc, st.errText())
		}
		return err
	}
	if w.prime() {
		local, err := localManifest(w.src, nil)
		if err != nil {
			return nil, err
		}
		var all []string
		for p := range local {
			all = append(all, strings.TrimPrefix(p, "./"))
		}
		slices.Sort(all)
		if err := push(ctx, all, a.postCommand(wlUpdate{install: true})); err != nil {
			return nil, err
		}
	}
	if err := e.wlProbe(ctx, s, a.initial, 5*time.Minute); err != nil {
		return nil, err
	}
	e.wlCheckOnClose(s, a, "web", w.src, res)
	s.edit = func(ctx context.Context, m string) error {
		u, err := w.next(m)
		if err != nil {
			return err
		}
		return push(ctx, u.files, a.postCommand(u))
	}
	s.after = e.wlAfter(s, w, w.src, nil, nil)
	return s, nil
}

// wlAfter is what follows each served edit: its kind recorded, and for the burst the wait until the
// pod's tree equals the local one (converged) and, with up's process, the count of install step
// runs and restarts the switch caused (from up's lines since the switch, 2 s after convergence).
func (e *env) wlAfter(s *session, w *wlSeries, src string, up *proc, from *int) afterFunc {
	return func(ctx context.Context, _ string, t0, _ time.Time) error {
		w.served()
		if w.burst == nil {
			return nil
		}
		err := poll(ctx, time.Minute, 200*time.Millisecond, func() (bool, error) {
			d, err := e.checkPodTree(ctx, s.ns, s.selector, "web", src, w.a.dest, w.a.skip, w.a.rewritten)
			return err == nil && d == "", err
		})
		if err != nil {
			return fmt.Errorf("the pod's tree did not converge: %w", err)
		}
		w.burst.converged = append(w.burst.converged, time.Since(t0))
		if up != nil {
			time.Sleep(2 * time.Second)
			steps, restarts := countUpdates(up.linesFrom(*from), w.a.dep.install)
			w.burst.stepRuns = append(w.burst.stepRuns, steps)
			w.burst.restarts = append(w.burst.restarts, restarts)
			w.burst.counted = true
		}
		return nil
	}
}

// shQuote quotes s for sh.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'" }
