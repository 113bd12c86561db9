package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/cmd"
)

// keepRules is web-static's rules with paths the pod owns.
const keepRules = `container: web
sync:
  - from: ./web-static/www
    to: /www
    keep: ["uploads/**", "*.sqlite"]
restart: process
`

// inPod runs a shell script in the pod's app container (busybox's sh) and returns its output.
func (e *env) inPod(ns, pod, script string) string {
	e.t.Helper()
	return e.kubectl("-n", ns, "exec", pod, "-c", "web", "--", "/bin/busybox", "sh", "-c", script)
}

// TestKeepSurvivesReconnect: files the pod writes under keep patterns survive a reconnect's converge
// (kill `up`, write in the pod, start `up` again) while an extra file that is not kept is deleted; a
// local file matching keep is never sent, not even on an edit.
func TestKeepSurvivesReconnect(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) { d.Annotations["fastdev.dev/rules"] = keepRules })
	dir := e.copyExamples()
	www := filepath.Join(dir, "web-static/www")
	e.writeFile(filepath.Join(www, "local.sqlite"), "the developer's database\n", 0o644)
	up := e.upAndConnect(ns, "web-static", dir, 1)
	e.serves(ns, "web-static", "/", "hello from web-static v1", 1, 30*time.Second)
	e.httpStatus(ns, "web-static", "/local.sqlite", 404, 10*time.Second)

	up.kill()
	pod := e.pods(ns, "web-static")[0].Name
	e.inPod(ns, pod, "mkdir -p /www/uploads/2026 && echo 'uploaded in the pod' > /www/uploads/2026/u.png && "+
		"echo 'pod database' > /www/app.sqlite && echo 'not kept' > /www/extra.html")
	up = e.upAndConnect(ns, "web-static", dir, 1)
	e.httpStatus(ns, "web-static", "/extra.html", 404, 30*time.Second)
	e.serves(ns, "web-static", "/uploads/2026/u.png", "uploaded in the pod", 1, 10*time.Second)
	e.serves(ns, "web-static", "/app.sqlite", "pod database", 1, 10*time.Second)

	// an edit of a kept path is not sent: the edit after it lands, and the pod's file is still its own
	e.writeFile(filepath.Join(www, "uploads/2026/u.png"), "local upload\n", 0o644)
	e.writeFile(filepath.Join(www, "app.sqlite"), "local database\n", 0o644)
	e.writeFile(filepath.Join(www, "index.html"), "hello from web-static v2\n", 0o644)
	e.serves(ns, "web-static", "/", "hello from web-static v2", 1, 20*time.Second)
	e.serves(ns, "web-static", "/uploads/2026/u.png", "uploaded in the pod", 1, 10*time.Second)
	e.serves(ns, "web-static", "/app.sqlite", "pod database", 1, 10*time.Second)
	e.httpStatus(ns, "web-static", "/local.sqlite", 404, 10*time.Second)

	// deleting the local directory that holds kept paths in the pod keeps them there
	if err := os.RemoveAll(filepath.Join(www, "uploads")); err != nil {
		t.Fatal(err)
	}
	e.writeFile(filepath.Join(www, "index.html"), "hello from web-static v3\n", 0o644)
	e.serves(ns, "web-static", "/", "hello from web-static v3", 1, 20*time.Second)
	e.serves(ns, "web-static", "/uploads/2026/u.png", "uploaded in the pod", 1, 10*time.Second)
	if strings.Contains(up.Output(), "FAILED") {
		t.Errorf("an update failed:\n%s", up.Output())
	}
}

// TestReadOnlyDirectory: a local directory of mode 0555 syncs (the pod's copy stays writable for the
// non-root synclet), a later edit inside it lands, and a reconnect finds nothing to resend.
func TestReadOnlyDirectory(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", nil)
	dir := e.copyExamples()
	ro := filepath.Join(dir, "web-static/www/ro")
	e.writeFile(filepath.Join(ro, "a.html"), "read-only a\n", 0o444)
	if err := os.Chmod(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(ro, 0o755) }) // so the test's directory can be removed
	up := e.upAndConnect(ns, "web-static", dir, 1)
	e.serves(ns, "web-static", "/ro/a.html", "read-only a", 1, 30*time.Second)

	// the developer's editor (root here, or the owner after a chmod) adds a file to the directory
	if err := os.Chmod(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	e.writeFile(filepath.Join(ro, "b.html"), "read-only b\n", 0o644)
	if err := os.Chmod(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	e.serves(ns, "web-static", "/ro/b.html", "read-only b", 1, 20*time.Second)
	pod := e.pods(ns, "web-static")[0].Name
	if mode := strings.TrimSpace(e.inPod(ns, pod, "stat -c %a /www/ro")); mode != "755" {
		t.Errorf("the pod's ro has mode %s, want 755 (0555 plus the owner's bits)", mode)
	}
	if strings.Contains(up.Output(), "FAILED") {
		t.Errorf("an update failed:\n%s", up.Output())
	}

	// a new `up` compares the pod with the tree and finds them equal: nothing is sent
	up.kill()
	up = e.upAndConnect(ns, "web-static", dir, 1)
	time.Sleep(3 * time.Second)
	if strings.Contains(up.Output(), "converged, ") {
		t.Errorf("a reconnect resent something:\n%s", up.Output())
	}
}

// TestStalePodInStatus: a pod created while `up` was stopped is stale in `status` (table and -o json)
// until `up` runs again and converges it; the pod `up` converged before is not.
func TestStalePodInStatus(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", nil)
	dir := e.copyExamples()
	up := e.upAndConnect(ns, "web-static", dir, 1)
	first := e.pods(ns, "web-static")[0].Name
	e.eventually(10*time.Second, "no stale pod", func() error { return e.stale(dir, ns, nil) })

	up.kill()
	e.scale(ns, "web-static", 2)
	e.eventually(rollout, "a second pod", func() error {
		if n := len(e.pods(ns, "web-static")); n != 2 {
			return fmt.Errorf("%d running pods", n)
		}
		return nil
	})
	var second string
	for _, p := range e.pods(ns, "web-static") {
		if p.Name != first {
			second = p.Name
		}
	}
	e.eventually(10*time.Second, "the new pod stale", func() error { return e.stale(dir, ns, []string{second}) })
	table, err := e.run(dir, "status", "-n", ns)
	if err != nil || !strings.Contains(table, "web-static: pod "+second+" is stale") || strings.Contains(table, "pod "+first+" is stale") {
		t.Errorf("status (%v):\n%s", err, table)
	}

	e.upAndConnect(ns, "web-static", dir, 2)
	e.eventually(20*time.Second, "no stale pod after up converged", func() error { return e.stale(dir, ns, nil) })
}

// stale checks that exactly the pods named are stale in `status -o json`.
func (e *env) stale(dir, ns string, want []string) error {
	out, err := e.runJSON(dir, "status", "-n", ns, "-o", "json")
	if err != nil {
		return err
	}
	var ds []cmd.DeploymentStatus
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	var got []string
	for _, d := range ds {
		for _, p := range d.Pods {
			if p.Stale {
				got = append(got, p.Name)
			}
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		return fmt.Errorf("stale pods %v, want %v", got, want)
	}
	return nil
}
