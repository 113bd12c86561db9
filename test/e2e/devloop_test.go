package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
)

const rollout = 120 * time.Second

// upAndConnect starts `up` for one sample app in ns and waits until every pod is connected.
func (e *env) upAndConnect(ns, app, dir string, replicas int, extra ...string) *proc {
	e.t.Helper()
	p := e.start(dir, append([]string{"up", "-n", ns, app}, extra...)...)
	e.waitConnected(p, ns, app, replicas)
	return p
}

// waitConnected waits until every injected running pod of app is reported connected by p (an `up`).
func (e *env) waitConnected(p *proc, ns, app string, replicas int) {
	e.t.Helper()
	e.eventually(rollout, fmt.Sprintf("%d injected pod(s) of %s connected", replicas, app), func() error {
		var injected []corev1.Pod
		running := e.pods(ns, app)
		for _, pod := range running {
			if _, ok := pod.Annotations[inject.AnnotationInjected]; ok {
				injected = append(injected, pod)
			}
		}
		if len(injected) != replicas {
			return fmt.Errorf("%d injected running pods", len(injected))
		}
		// the rollout's old pods go too: tests then take e.pods(...)[0] as the injected pod (one was
		// still Running, its deletion not begun, after the new one connected: seen in CI)
		if len(running) != replicas {
			return fmt.Errorf("%d running pods, %d of them injected", len(running), len(injected))
		}
		for _, pod := range injected {
			if !strings.Contains(p.Output(), app+"/"+pod.Name+": connected") {
				return fmt.Errorf("pod %s not connected yet", pod.Name)
			}
		}
		return nil
	})
}

// httpStatus waits until every running pod of app answers path with the status code want.
func (e *env) httpStatus(ns, app, path string, want int, timeout time.Duration) {
	e.t.Helper()
	e.eventually(timeout, fmt.Sprintf("%s %s answering %d", app, path, want), func() error {
		for _, p := range e.pods(ns, app) {
			code, body, err := e.get(p.Name, ns, path)
			if err != nil {
				return err
			}
			if code != want {
				return fmt.Errorf("pod %s answered %d %q", p.Name, code, body)
			}
		}
		return nil
	})
}

// TestStaticSite edits, deletes, renames and chmods files of web-static and sees each in the pod.
func TestStaticSite(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", nil)
	dir := e.copyExamples()
	www := filepath.Join(dir, "web-static/www")
	up := e.upAndConnect(ns, "web-static", dir, 1)
	e.serves(ns, "web-static", "/", "hello from web-static v1", 1, 30*time.Second)

	e.writeFile(filepath.Join(www, "index.html"), "hello from web-static v2\n", 0o644)
	e.serves(ns, "web-static", "/", "hello from web-static v2", 1, 20*time.Second)
	up.waitOutput("edit->running", 10*time.Second)

	if err := os.Remove(filepath.Join(www, "about.html")); err != nil {
		t.Fatal(err)
	}
	e.httpStatus(ns, "web-static", "/about.html", 404, 20*time.Second)

	e.writeFile(filepath.Join(www, "docs/a.html"), "doc a\n", 0o644)
	e.serves(ns, "web-static", "/docs/a.html", "doc a", 1, 20*time.Second)
	if err := os.Rename(filepath.Join(www, "docs"), filepath.Join(www, "guide")); err != nil {
		t.Fatal(err)
	}
	e.serves(ns, "web-static", "/guide/a.html", "doc a", 1, 20*time.Second)
	e.httpStatus(ns, "web-static", "/docs/a.html", 404, 20*time.Second)

	e.writeFile(filepath.Join(www, "run.sh"), "#!/bin/sh\necho ran\n", 0o755)
	pod := e.pods(ns, "web-static")[0].Name
	e.eventually(20*time.Second, "executable bit in the pod", func() error {
		out := e.kubectl("-n", ns, "exec", pod, "-c", "web", "--", "/bin/busybox", "stat", "-c", "%a", "/www/run.sh")
		if strings.TrimSpace(out) != "755" {
			return fmt.Errorf("mode %q", out)
		}
		return nil
	})
	if out := e.kubectl("-n", ns, "exec", pod, "-c", "web", "--", "/www/run.sh"); strings.TrimSpace(out) != "ran" {
		t.Errorf("running the synced script: %q", out)
	}
	// the same pod served all of it: files changed in place, no new pod
	if ps := e.pods(ns, "web-static"); len(ps) != 1 || ps[0].Name != pod {
		t.Errorf("pods changed during the edits: %v", ps)
	}
}

// TestGoApp rebuilds web-go inside the pod on a .go edit, and keeps the old process serving when the
// build fails, reporting the compiler's output.
func TestGoApp(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-go", nil)
	dir := e.copyExamples()
	main := filepath.Join(dir, "web-go/src/main.go")
	up := e.upAndConnect(ns, "web-go", dir, 1)
	e.serves(ns, "web-go", "/", "hello from web-go v1", 1, 30*time.Second)

	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	v2 := strings.Replace(string(src), "hello from web-go v1", "hello from web-go v2", 1)
	e.writeFile(main, v2, 0o644)
	e.serves(ns, "web-go", "/", "hello from web-go v2", 1, 90*time.Second)
	up.waitOutput(`steps: "go build -o /app/bin/server ."`, 10*time.Second)

	broken := strings.Replace(v2, "fmt.Fprintln(w, message)", "fmt.Fprintln(w, messagee)", 1)
	e.writeFile(main, broken, 0o644)
	up.waitOutput("FAILED", 90*time.Second)
	out := up.Output()
	if !strings.Contains(out, "undefined: messagee") {
		t.Errorf("compiler output missing from up's output:\n%s", out)
	}
	if !strings.Contains(out, "exit code 1") {
		t.Errorf("exit code missing from up's output:\n%s", out)
	}
	e.serves(ns, "web-go", "/", "hello from web-go v2", 1, 10*time.Second)
}

// TestReplicasConverge scales while `up` runs, deletes a pod, and restarts `up` after offline edits:
// every pod ends up serving the local tree.
func TestReplicasConverge(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", nil)
	dir := e.copyExamples()
	index := filepath.Join(dir, "web-static/www/index.html")
	up := e.upAndConnect(ns, "web-static", dir, 1)
	e.writeFile(index, "edit two\n", 0o644)
	e.serves(ns, "web-static", "/", "edit two", 1, 20*time.Second)

	e.scale(ns, "web-static", 3)
	e.serves(ns, "web-static", "/", "edit two", 3, rollout)

	victim := e.pods(ns, "web-static")[0].Name
	if err := e.cs.CoreV1().Pods(ns).Delete(context.Background(), victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(rollout, "replacement of "+victim, func() error {
		for _, p := range e.pods(ns, "web-static") {
			if p.Name == victim {
				return fmt.Errorf("old pod still running")
			}
		}
		return nil
	})
	e.serves(ns, "web-static", "/", "edit two", 3, rollout)

	// kill `up` without a chance to clean up, edit while it is gone, start it again
	up.kill()
	e.writeFile(index, "edit three, made while up was down\n", 0o644)
	e.writeFile(filepath.Join(dir, "web-static/www/new.html"), "new page\n", 0o644)
	e.upAndConnect(ns, "web-static", dir, 3)
	e.serves(ns, "web-static", "/", "edit three", 3, 30*time.Second)
	e.serves(ns, "web-static", "/new.html", "new page", 3, 30*time.Second)
}

// scale sets the replicas of a Deployment through its scale subresource.
func (e *env) scale(ns, name string, n int32) {
	t := e.t
	t.Helper()
	// `up` may patch the Deployment meanwhile (a re-injection after a revert in the chaos test): read
	// the scale again and retry, as any client of a shared object does
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := e.cs.AppsV1().Deployments(ns).GetScale(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.Spec.Replicas = n
		_, err = e.cs.AppsV1().Deployments(ns).UpdateScale(context.Background(), name, s, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUpTwiceAndDown: a second `up` patches nothing (no new rollout), and `down` puts back exactly the
// original pod template, after which the pods run without the synclet.
func TestUpTwiceAndDown(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", nil)
	orig := e.waitAvailable(ns, "web-static", rollout)
	dir := e.copyExamples()
	up := e.upAndConnect(ns, "web-static", dir, 1)
	injected := e.waitAvailable(ns, "web-static", rollout)
	up.stop()
	if !strings.Contains(up.Output(), "kubectl fastdev down web-static") {
		t.Errorf("Ctrl-C did not say how to restore:\n%s", up.Output())
	}

	again := e.upAndConnect(ns, "web-static", dir, 1)
	again.waitOutput("already injected, unchanged", 5*time.Second)
	again.stop()
	d, err := e.cs.AppsV1().Deployments(ns).Get(context.Background(), "web-static", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Generation != injected.Generation {
		t.Errorf("second up changed the Deployment: generation %d -> %d", injected.Generation, d.Generation)
	}

	out, err := e.run(dir, "down", "-n", ns)
	if err != nil || !strings.Contains(out, "web-static: restored") {
		t.Fatalf("down: %v\n%s", err, out)
	}
	d = e.waitAvailable(ns, "web-static", rollout)
	if !equality.Semantic.DeepEqual(d.Spec.Template, orig.Spec.Template) {
		t.Errorf("pod template after down differs from the original:\nwant %+v\ngot  %+v", orig.Spec.Template, d.Spec.Template)
	}
	for k := range d.Annotations {
		if strings.HasPrefix(k, "fastdev.dev/") && k != "fastdev.dev/rules" {
			t.Errorf("annotation %s left after down", k)
		}
	}
	e.eventually(rollout, "pods without the synclet", func() error {
		ps := e.pods(ns, "web-static")
		if len(ps) != 1 {
			return fmt.Errorf("%d pods", len(ps))
		}
		if len(ps[0].Spec.InitContainers) != 0 {
			return fmt.Errorf("pod %s still has init containers", ps[0].Name)
		}
		return nil
	})
	e.serves(ns, "web-static", "/", "hello from web-static v1", 1, 30*time.Second)
	if out, err := e.run(dir, "down", "-n", ns, "web-static"); err != nil || !strings.Contains(out, "not injected") {
		t.Errorf("second down: %v\n%s", err, out)
	}
}

// TestRestrictedNamespace injects into a namespace enforcing the restricted Pod Security Standard,
// with the app running as a non-root user, and syncs an edit.
func TestRestrictedNamespace(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		uid, no, yes := int64(1000), false, true
		d.Spec.Template.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid,
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
		d.Spec.Template.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: &no,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	})
	e.waitAvailable(ns, "web-static", rollout)
	dir := e.copyExamples()
	e.upAndConnect(ns, "web-static", dir, 1)
	e.writeFile(filepath.Join(dir, "web-static/www/index.html"), "restricted edit\n", 0o644)
	e.serves(ns, "web-static", "/", "restricted edit", 1, 20*time.Second)
	pod := e.pods(ns, "web-static")[0].Name
	if out := e.kubectl("-n", ns, "exec", pod, "-c", "web", "--", "/bin/busybox", "id", "-u"); strings.TrimSpace(out) != "1000" {
		t.Errorf("app runs as uid %q, want 1000", out)
	}
}

// TestBadInputs: each mistake gives an error naming what to fix, and the Deployment is untouched.
func TestBadInputs(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	dir := e.copyExamples()
	base := "container: web\nsync:\n  - from: ./web-static/www\n    to: /www\n"
	cases := []struct {
		name, rules string
		mutate      func(*appsv1.Deployment)
		want        []string
	}{
		{"unknown key", base + "restrat: process\n", nil, []string{"line 5", "restrat", "restart"}},
		{"relative to", "sync:\n  - from: ./web-static/www\n    to: www\n", nil, []string{"line 3", "sync[0].to", "absolute"}},
		{"bad glob", base + "    ignore: [\"[abc\"]\n", nil, []string{"ignore"}},
		{"bad yaml", "sync: [\n", nil, []string{"fastdev.dev/rules", "line"}},
		{"missing container", "container: nope\nsync:\n  - from: ./web-static/www\n    to: /www\n", nil, []string{`no container "nope"`, "web"}},
		{"from missing locally", "sync:\n  - from: ./not-here\n    to: /www\n", nil, []string{"not-here", "--dir"}},
		{"restart value", base + "restart: always\n", nil, []string{"restart", "process"}},
		{"no command", base, func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Command = nil },
			[]string{"no command", "command:"}},
		{"shell syntax", base + "run:\n  - cmd: make && make install\n", nil, []string{"sh -c"}},
		{"size limit", base + "    sizeLimit: lots\n", nil, []string{"line 5", "sync[0].sizeLimit", "512Mi"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.sub(t)
			name := fmt.Sprintf("bad-%d", i)
			d := e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
				d.Name = name
				d.Annotations["fastdev.dev/rules"] = c.rules
				if c.mutate != nil {
					c.mutate(d)
				}
			})
			after := e.upRefused(dir, d, c.want)
			for k := range after.Annotations {
				if strings.HasPrefix(k, "fastdev.dev/") && k != "fastdev.dev/rules" {
					t.Errorf("annotation %s added", k)
				}
			}
		})
	}
}

// TestVolumeTooSmall: a tree larger than the pod's sync volume (a 2 MiB tmpfs here) is reported with the
// numbers and nothing of it is sent, so the pod never serves half of a tree; once the large file is gone
// locally, the rest is sent with that edit.
func TestVolumeTooSmall(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		d.Annotations["fastdev.dev/rules"] = "container: web\nsync:\n  - from: ./web-static/www\n    to: /www\n    sizeLimit: 2Mi\n    medium: Memory\n"
	})
	dir := e.copyExamples()
	www := filepath.Join(dir, "web-static/www")
	big := make([]byte, 6<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := os.WriteFile(filepath.Join(www, "video.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	e.writeFile(filepath.Join(www, "new.html"), "new page\n", 0o644)
	e.writeFile(filepath.Join(www, "index.html"), "hello from web-static v2\n", 0o644)

	up := e.upAndConnect(ns, "web-static", dir, 1)
	up.waitOutput("nothing was sent to this pod", 30*time.Second)
	out := up.Output()
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "nothing was sent") {
			t.Logf("up reported: %s", l)
		}
	}
	for _, want := range []string{"FAILED", "more under /www", "MiB left", "sync[0].sizeLimit", "sync[0].ignore"} {
		if !strings.Contains(out, want) {
			t.Errorf("up's report lacks %q:\n%s", want, out)
		}
	}
	var tmpfs bool
	var pod corev1.Pod
	for _, p := range e.pods(ns, "web-static") {
		if _, ok := p.Annotations[inject.AnnotationInjected]; ok {
			pod = p // the pod before injection may still be listed while it terminates
		}
	}
	for _, v := range pod.Spec.Volumes {
		if v.Name == "fastdev-sync-0" && v.EmptyDir != nil && v.EmptyDir.Medium == corev1.StorageMediumMemory {
			tmpfs = true
		}
	}
	if !tmpfs {
		t.Errorf("the sync volume is not the memory-backed emptyDir the rules ask for: %+v", pod.Spec.Volumes)
	}
	// nothing of the tree was sent: the page edit and the new page are not there either
	e.serves(ns, "web-static", "/", "hello from web-static v1", 1, 10*time.Second)
	e.httpStatus(ns, "web-static", "/new.html", 404, 10*time.Second)

	if err := os.Remove(filepath.Join(www, "video.bin")); err != nil {
		t.Fatal(err)
	}
	e.serves(ns, "web-static", "/new.html", "new page", 1, 20*time.Second)
	e.serves(ns, "web-static", "/", "hello from web-static v2", 1, 20*time.Second)
	e.httpStatus(ns, "web-static", "/video.bin", 404, 10*time.Second)
}

// upRefused runs `up` on d with args, which must fail with output naming every want, and leave d's
// spec as it was (the controller updates status meanwhile, so only what a patch would change counts);
// it returns the Deployment as up left it.
func (e *env) upRefused(dir string, d *appsv1.Deployment, want []string, args ...string) *appsv1.Deployment {
	t := e.t
	t.Helper()
	out, err := e.run(dir, append([]string{"up", "-n", d.Namespace, d.Name}, args...)...)
	if err == nil {
		t.Fatalf("up succeeded; output:\n%s", out)
	}
	t.Logf("up said: %s", strings.TrimSpace(out))
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("error does not mention %q:\n%s", w, out)
		}
	}
	after, err := e.cs.AppsV1().Deployments(d.Namespace).Get(context.Background(), d.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Generation != d.Generation || !equality.Semantic.DeepEqual(after.Spec, d.Spec) {
		t.Errorf("deployment spec changed: generation %d -> %d", d.Generation, after.Generation)
	}
	return after
}
