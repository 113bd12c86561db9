package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// result is one contender's series for one measure.
type result struct {
	id, title   string
	lat         []time.Duration // edit -> served, one per edit
	stages      []stages        // kubectl-fastdev only: where each edit's time went
	steps       []time.Duration // in-pod step time (web-go: the incremental go build)
	replied     []time.Duration // kubectl-fastdev: edit -> the last pod's reply, as `up` printed it
	debounced   []time.Duration // edit -> served less the tool's debounce in that edit (see session.debounce)
	usage       *usage          // resources during the series (interleaved measures)
	api         []float64       // API server requests per edit, net (interleaved measures)
	tree        string          // the end-of-series tree check: "" when every pod equals the local tree
	treeChecked bool
	err         error
}

// stages splits one kubectl-fastdev edit -> served time (they add up to it): detect is the write to
// the watcher's first event (as far as the bench can tell: the write to the update line, less the
// latency `up` reports), quiet the quiet window, plan the rescan and comparison, transfer the
// request minus the synclet's write, write, steps and restart as the synclet timed them, and
// response the rest: from the synclet's reply until the app first served the edit.
type stages struct {
	detect, quiet, plan, transfer, write, steps, restart, response time.Duration
}

func splitStages(u upUpdate, t0, served time.Time) stages {
	s := stages{quiet: u.quiet, write: u.write, steps: u.steps, restart: u.restart}
	s.detect = u.at.Sub(t0) - u.latency
	s.transfer = u.send - u.write
	s.plan = u.latency - u.quiet - u.send - u.steps - u.restart
	s.response = served.Sub(u.at)
	return s
}

// edit is what one contender does for an edit: write the file and, for the baselines, run their
// pipeline. It runs while the prober polls, so the prober sees the edit as soon as it is served.
type editFunc func(ctx context.Context, marker string) error

// afterFunc runs once the edit is served (for example to read `up`'s line for it).
type afterFunc func(ctx context.Context, marker string, t0, served time.Time) error

// app is one sample app as the measures edit it.
type app struct {
	name    string // example directory and Deployment name
	file    string // the file an edit rewrites, relative to the examples directory
	initial string // what GET / answers before any edit
	content func(old []byte, marker string) []byte
}

var goMessage = regexp.MustCompile(`const message = ".*"`)

var (
	webStatic = app{name: "web-static", file: "web-static/www/index.html", initial: "hello from web-static v1",
		content: func(_ []byte, m string) []byte { return []byte("hello from web-static " + m + "\n") }}
	webGo = app{name: "web-go", file: "web-go/src/main.go", initial: "hello from web-go v1",
		content: func(old []byte, m string) []byte {
			return goMessage.ReplaceAll(old, []byte(`const message = "hello from web-go `+m+`"`))
		}}
)

// write rewrites the app's edited file under dir with the marker.
func (a app) write(dir, marker string) error {
	f := filepath.Join(dir, a.file)
	old, err := os.ReadFile(f)
	if err != nil {
		return err
	}
	return os.WriteFile(f, a.content(old, marker), 0o644)
}

// examples copies manifests/examples to a fresh directory of this run, which the edits change.
func (e *env) examples(ns string) (string, error) {
	dir := filepath.Join(e.work, ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	out, err := exec.Command("cp", "-a", filepath.Join(e.repo, "manifests/examples")+"/.", dir).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("copying examples: %v: %s", err, out)
	}
	return dir, nil
}

// snapshotCommand makes web-static serve a copy of /www taken when the process starts, so that, as
// with a compiled app, only a restarted process serves an edit: an edit "with restart" is then timed
// to the restarted process's first answer, not to the file landing.
var snapshotCommand = []string{"/bin/sh", "-c", "rm -rf /tmp/snap && cp -r /www /tmp/snap && exec /bin/busybox httpd -f -p 8080 -h /tmp/snap"}

// fastdevRun is one kubectl-fastdev latency series run alone (the debug measure's reference).
func (e *env) fastdevRun(ctx context.Context, r *result, a app, n, replicas int, mutate func(*appsv1.Deployment) error, upArgs ...string) error {
	s, err := e.fastdevSession(ctx, r, a, replicas, mutate, upArgs...)
	if err != nil {
		return err
	}
	return e.runSeries(ctx, s, n)
}

// fastdevSession sets one kubectl-fastdev contender up: the example app deployed as the rules say
// (after mutate), `up` running; each edit is timed to served and split into stages from up's line.
func (e *env) fastdevSession(ctx context.Context, r *result, a app, replicas int, mutate func(*appsv1.Deployment) error, upArgs ...string) (_ *session, err error) {
	s := &session{r: r, pods: replicas, timeout: 2 * time.Minute, selector: "app=" + a.name}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	ns, cleanup, err := e.namespace(ctx, "fd")
	if err != nil {
		return nil, err
	}
	s.ns = ns
	s.onClose(cleanup)
	dir, err := e.examples(ns)
	if err != nil {
		return nil, err
	}
	if _, err := e.deploy(ctx, ns, a.name, func(d *appsv1.Deployment) error {
		reps := int32(replicas)
		d.Spec.Replicas = &reps
		if mutate != nil {
			return mutate(d)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	up, err := e.up(ctx, ns, a.name, dir, replicas, upArgs...)
	if err != nil {
		return nil, err
	}
	s.local = up
	s.onClose(up.stop)
	if err := e.rolledOut(ctx, ns, a.name, 3*time.Minute); err != nil {
		return nil, err
	}
	if s.pr, err = e.newProber(ns, s.selector); err != nil {
		return nil, err
	}
	s.onClose(s.pr.close)
	if _, err := s.pr.wait(ctx, a.initial, replicas, time.Minute); err != nil {
		return nil, err
	}
	if a.name == webStatic.name {
		s.treeDir, s.treeDest, s.treeContainer = filepath.Join(dir, "web-static/www"), "/www", "web"
	}
	from := up.mark()
	s.edit = func(_ context.Context, m string) error { return a.write(dir, m) }
	s.after = func(ctx context.Context, m string, t0, served time.Time) error {
		// one update line per pod; the first one's split is kept (every pod gets the same edit)
		var first *upUpdate
		var last time.Time
		for got := 0; got < replicas; {
			var l line
			var err error
			l, from, err = up.wait(ctx, from, time.Minute, "the update line of "+m, func(s string) bool {
				_, ok := parseUpdate(line{text: s})
				return ok || strings.Contains(s, "FAILED")
			})
			if err != nil {
				return err
			}
			if l.at.Before(t0) {
				// printed before this edit was written: an update the set-up caused, not this edit's
				// (a run took one such line, two minutes old, as its first edit's split)
				continue
			}
			u, ok := parseUpdate(l)
			if !ok {
				return fmt.Errorf("update failed: %s", l.text)
			}
			got++
			if first == nil {
				first = &u
			}
			last = u.at
		}
		r.replied = append(r.replied, last.Sub(t0))
		r.stages = append(r.stages, splitStages(*first, t0, served))
		if first.steps > 0 {
			r.steps = append(r.steps, first.steps)
		}
		return nil
	}
	// the quiet window `up` reports for the edit is its debounce
	s.debounce = func(i int) time.Duration {
		if i < len(r.stages) {
			return r.stages[i].quiet
		}
		return 0
	}
	return s, nil
}

// plainStatic turns the web-static example into the Deployment the exec-based contenders use: no
// rules annotation, and root in the container, since `kubectl exec ... tar x` writes into /www,
// which the image owns as root (kubectl-fastdev writes it as the app's user through its volume).
// With restart, the process runs under a shell loop that restarts it when killed, the way Tilt's
// restart_process wrapper does, and serves a snapshot of /www taken when it starts.
func plainStatic(restart bool) func(*appsv1.Deployment) error {
	return func(d *appsv1.Deployment) error {
		delete(d.Annotations, "fastdev.dev/rules")
		root := int64(0)
		c := &d.Spec.Template.Spec.Containers[0]
		c.SecurityContext = &corev1.SecurityContext{RunAsUser: &root, RunAsGroup: &root}
		if restart {
			c.Command = []string{"/bin/sh", "-c", "while true; do rm -rf /tmp/snap; cp -r /www /tmp/snap; " +
				"/bin/busybox httpd -f -p 8080 -h /tmp/snap & echo $! > /tmp/app.pid; wait $!; done"}
		}
		return nil
	}
}

// execTar is the baseline Tilt's live_update and Skaffold's sync are built on: tar the changed file,
// untar it in the container through `kubectl exec -i`, and, with restart, kill the process with a
// second `kubectl exec` so its wrapper starts it again.
func (e *env) execTar(ctx context.Context, r *result, restart bool) (_ *session, err error) {
	s := &session{r: r, pods: 1, timeout: time.Minute, selector: "app=web-static"}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	ns, cleanup, err := e.namespace(ctx, "exec")
	if err != nil {
		return nil, err
	}
	s.ns = ns
	s.onClose(cleanup)
	dir, err := e.examples(ns)
	if err != nil {
		return nil, err
	}
	if _, err := e.deploy(ctx, ns, "web-static", plainStatic(restart)); err != nil {
		return nil, err
	}
	pods, err := e.runningPods(ctx, ns, s.selector)
	if err != nil || len(pods) != 1 {
		return nil, fmt.Errorf("want 1 running pod: %v", err)
	}
	pod := pods[0].Name
	if s.pr, err = e.newProber(ns, s.selector); err != nil {
		return nil, err
	}
	s.onClose(s.pr.close)
	if _, err := s.pr.wait(ctx, webStatic.initial, 1, time.Minute); err != nil {
		return nil, err
	}
	s.treeDir, s.treeDest, s.treeContainer = filepath.Join(dir, "web-static/www"), "/www", "web"
	kc := e.kubectl + " --kubeconfig " + e.cliKubeconfig() + " -n " + ns
	script := fmt.Sprintf("tar c -C %s index.html | %s exec -i %s -c web -- tar x -C /www", filepath.Join(dir, "web-static/www"), kc, pod)
	if restart {
		script += fmt.Sprintf(" && %s exec %s -c web -- sh -c 'kill $(cat /tmp/app.pid)'", kc, pod)
	}
	s.edit = func(ctx context.Context, m string) error {
		if err := webStatic.write(dir, m); err != nil {
			return err
		}
		cmd := e.cmd(ctx, "sh", "-c", script)
		out, err := cmd.CombinedOutput()
		s.addLocal(cmd.ProcessState)
		if err != nil {
			return fmt.Errorf("%s: %w: %s", script, err, out)
		}
		return nil
	}
	return s, nil
}

// execStreamStatic is the persistent `kubectl exec` baseline on web-static (engineer W's execStream,
// execstream.go): one long-lived exec whose in-pod awk applies each edit's tar, sync only.
func (e *env) execStreamStatic(ctx context.Context, r *result) (_ *session, err error) {
	s := &session{r: r, pods: 1, timeout: time.Minute, selector: "app=web-static"}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	ns, cleanup, err := e.namespace(ctx, "stream")
	if err != nil {
		return nil, err
	}
	s.ns = ns
	s.onClose(cleanup)
	dir, err := e.examples(ns)
	if err != nil {
		return nil, err
	}
	if _, err := e.deploy(ctx, ns, "web-static", plainStatic(false)); err != nil {
		return nil, err
	}
	pods, err := e.runningPods(ctx, ns, s.selector)
	if err != nil || len(pods) != 1 {
		return nil, fmt.Errorf("want 1 running pod: %v", err)
	}
	if s.pr, err = e.newProber(ns, s.selector); err != nil {
		return nil, err
	}
	s.onClose(s.pr.close)
	if _, err := s.pr.wait(ctx, webStatic.initial, 1, time.Minute); err != nil {
		return nil, err
	}
	st, err := e.startExecStream(ctx, ns, pods[0].Name, "web", "/www")
	if err != nil {
		return nil, err
	}
	s.onClose(func() {
		st.close()
		s.addLocal(st.cmd.ProcessState) // the stream's kubectl, over its whole life
	})
	www := filepath.Join(dir, "web-static/www")
	s.treeDir, s.treeDest, s.treeContainer = www, "/www", "web"
	s.edit = func(ctx context.Context, m string) error {
		if err := webStatic.write(dir, m); err != nil {
			return err
		}
		rc, err := st.send(ctx, www, []string{"index.html"}, "")
		if err == nil && rc != 0 {
			err = fmt.Errorf("the stream's update exited %d: %s", rc, st.errText())
		}
		return err
	}
	return s, nil
}

// vanilla is the pipeline kubectl-fastdev replaces, without a registry: build a new image with the
// edit (the hack/mkimage recipe), import it into containerd (hack/cluster/cluster.sh import), point
// the Deployment at it and let the rollout start a new pod. It is timed to the new pod's first
// answer, before it is Ready or behind the Service: an optimistic figure for the baseline.
func (e *env) vanilla(ctx context.Context, r *result) (_ *session, err error) {
	s := &session{r: r, pods: 1, timeout: 3 * time.Minute, selector: "app=web-static"}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	ns, cleanup, err := e.namespace(ctx, "vanilla")
	if err != nil {
		return nil, err
	}
	s.ns = ns
	s.onClose(cleanup)
	dir, err := e.examples(ns)
	if err != nil {
		return nil, err
	}
	if _, err := e.deploy(ctx, ns, "web-static", func(d *appsv1.Deployment) error {
		delete(d.Annotations, "fastdev.dev/rules")
		return nil
	}); err != nil {
		return nil, err
	}
	if s.pr, err = e.newProber(ns, s.selector); err != nil {
		return nil, err
	}
	s.onClose(s.pr.close)
	if _, err := s.pr.wait(ctx, webStatic.initial, 1, time.Minute); err != nil {
		return nil, err
	}
	var refs []string
	s.onClose(func() { e.removeImages(refs) })
	s.edit = func(ctx context.Context, m string) error {
		if err := webStatic.write(dir, m); err != nil {
			return err
		}
		ref := "fastdev.local/bench-web-static:" + m
		refs = append(refs, ref)
		img, err := staticImage(filepath.Join(dir, "web-static/www"))
		if err != nil {
			return err
		}
		if err := importImage(ctx, e.repo, "", ref, img); err != nil {
			return err
		}
		cmd := e.cmd(ctx, e.kubectl, "--kubeconfig", e.cliKubeconfig(), "-n", ns, "set", "image", "deployment/web-static", "web="+ref)
		out, err := cmd.CombinedOutput()
		s.addLocal(cmd.ProcessState)
		if err != nil {
			return fmt.Errorf("kubectl set image: %w: %s", err, out)
		}
		return nil
	}
	// the next edit starts from a settled Deployment: the old pod gone
	s.after = func(ctx context.Context, _ string, _, _ time.Time) error {
		return e.rolledOut(ctx, ns, "web-static", 3*time.Minute)
	}
	return s, nil
}

// removeImages deletes the images a measure imported, so the cluster's store does not grow.
func (e *env) removeImages(refs []string) {
	if len(refs) == 0 {
		return
	}
	vars, err := clusterEnv(e.repo)
	if err != nil {
		return
	}
	args := append([]string{"-a", vars["FASTDEV_CONTAINERD_SOCK"], "-n", "k8s.io", "images", "rm"}, refs...)
	_ = exec.Command("ctr", args...).Run()
}

// removeBenchImages deletes every image the bench's pipelines and the peers' builds left in the
// cluster's store: those named fastdev.local/bench-* or */bench-skaffold*.
func (e *env) removeBenchImages() {
	vars, err := clusterEnv(e.repo)
	if err != nil {
		return
	}
	out, err := exec.Command("ctr", "-a", vars["FASTDEV_CONTAINERD_SOCK"], "-n", "k8s.io", "images", "ls", "-q").Output()
	if err != nil {
		return
	}
	var refs []string
	for _, ref := range strings.Fields(string(out)) {
		if strings.HasPrefix(ref, "fastdev.local/bench-") || strings.Contains(ref, "/bench-skaffold") {
			refs = append(refs, ref)
		}
	}
	e.removeImages(refs)
}
