package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// stepsRules runs a script printing one 2 MB line when huge.sh changes, and a step that never exits
// (with a 3 s timeout) when hang.txt changes.
const stepsRules = `container: web
sync:
  - from: ./web-static/www
    to: /www
run:
  - cmd: /bin/busybox sh /www/huge.sh
    trigger: ["huge.sh"]
  - cmd: /bin/busybox sleep 1000
    trigger: ["hang.txt"]
    timeout: 3s
restart: process
`

// TestStepsCannotWedge: a step printing a 2 MB line completes with its output drained, and a step that
// never exits is stopped at its timeout and reported as such by `up` and `logs`; edits after each
// still land in the pod.
func TestStepsCannotWedge(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) { d.Annotations["fastdev.dev/rules"] = stepsRules })
	dir := e.copyExamples()
	www := filepath.Join(dir, "web-static/www")
	up := e.upAndConnect(ns, "web-static", dir, 1)

	e.writeFile(filepath.Join(www, "huge.sh"), "/bin/busybox head -c 2097152 /dev/zero | /bin/busybox tr '\\000' x\necho\necho huge step done\n", 0o644)
	up.waitOutput("[/bin/busybox sh /www/huge.sh] huge step done", 60*time.Second)
	up.waitOutput(`steps: "/bin/busybox sh /www/huge.sh"`, 10*time.Second)
	if !strings.Contains(up.Output(), "[line cut: 2097152 bytes in all") {
		t.Errorf("the 2 MB line is not shown cut in up's output")
	}
	e.writeFile(filepath.Join(www, "index.html"), "hello after a huge line\n", 0o644)
	e.serves(ns, "web-static", "/", "hello after a huge line", 1, 20*time.Second)

	start := time.Now()
	e.writeFile(filepath.Join(www, "hang.txt"), "go\n", 0o644)
	want := `FAILED: step "/bin/busybox sleep 1000" timed out after 3s and was stopped with its processes (raise the rules' run[].timeout of this step`
	up.waitOutput(want, 60*time.Second)
	if took := time.Since(start); took < 3*time.Second {
		t.Errorf("the step was stopped after %s, before its 3s timeout", took)
	}
	e.writeFile(filepath.Join(www, "index.html"), "hello after a hung step\n", 0o644)
	e.serves(ns, "web-static", "/", "hello after a hung step", 1, 30*time.Second)

	e.eventually(30*time.Second, "the timed-out step in logs --errors -o json", func() error {
		out, err := e.runJSON(dir, "logs", "-n", ns, "--errors", "-f=false", "-o", "json")
		if err != nil {
			return err
		}
		for _, it := range e.jsonItems(out) {
			if it.Kind == "error" && it.Type == "step" && strings.Contains(it.Text, "/bin/busybox sleep 1000 (timed out after 3s") &&
				strings.Contains(it.Text, "run[].timeout") {
				return nil
			}
		}
		return fmt.Errorf("no timed-out step in:\n%s", out)
	})
}

// crashRules syncs /www and gives the app fresh process state on each update (restart: container).
const crashRules = `container: web
sync:
  - from: ./web-static/www
    to: /www
restart: container
`

var reLatency = regexp.MustCompile(`edit->running (\S+) `)

// TestAppCrashThenFix: an app that crashes at start is started again by the supervisor in the same
// container (no kubelet back-off, no container restart), and the fix that follows lands in under 2 s.
func TestAppCrashThenFix(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		d.Annotations["fastdev.dev/rules"] = crashRules
		// the app runs /www/start.sh (synced) before the server, so an edit can make it crash at start
		d.Spec.Template.Spec.Containers[0].Command = []string{"/bin/busybox", "sh", "-c",
			"if [ -f /www/start.sh ]; then . /www/start.sh; fi; exec /bin/busybox httpd -f -v -p 8080 -h /www"}
	})
	dir := e.copyExamples()
	www := filepath.Join(dir, "web-static/www")
	up := e.upAndConnect(ns, "web-static", dir, 1)
	e.serves(ns, "web-static", "/", "hello from web-static v1", 1, 30*time.Second)
	pod := e.pods(ns, "web-static")[0].Name

	e.writeFile(filepath.Join(www, "start.sh"), "echo crashing on purpose; exit 3\n", 0o644)
	// long enough for several crashes: the kubelet's back-off would be 10 s, then 20 s, by now
	e.eventually(30*time.Second, "the app crashing and restarted by the supervisor", func() error {
		logs := e.kubectl("-n", ns, "logs", pod, "-c", "web")
		if n := strings.Count(logs, "exited with code 3; starting it again in"); n < 3 {
			return fmt.Errorf("%d restarts by the supervisor in:\n%s", n, logs)
		}
		return nil
	})

	before := len(reLatency.FindAllString(up.Output(), -1))
	start := time.Now()
	e.writeFile(filepath.Join(www, "start.sh"), "echo fixed\n", 0o644)
	e.serves(ns, "web-static", "/", "hello from web-static v1", 1, 20*time.Second)
	t.Logf("fix written -> served in %s (polling through a port-forward included)", time.Since(start))
	e.eventually(10*time.Second, "up's line for the fix", func() error {
		if m := reLatency.FindAllStringSubmatch(up.Output(), -1); len(m) > before {
			d, err := time.ParseDuration(m[len(m)-1][1])
			if err != nil {
				return err
			}
			if d >= 2*time.Second {
				t.Errorf("the fix landed %s after the edit, want under 2s", d)
			}
			return nil
		}
		return fmt.Errorf("no new edit->running line in:\n%s", up.Output())
	})
	e.crashedInPlace(ns, dir, 3)
}

// crashedInPlace checks that no web container of ns restarted (the supervisor restarted the app in
// it), and that `logs` reports the app's exit with code.
func (e *env) crashedInPlace(ns, dir string, code int) {
	t := e.t
	t.Helper()
	for _, p := range e.pods(ns, "web-static") {
		for _, s := range p.Status.ContainerStatuses {
			if s.Name == "web" && s.RestartCount != 0 {
				t.Errorf("container web of %s restarted %d times: the kubelet handled the crash", p.Name, s.RestartCount)
			}
		}
	}
	out, err := e.runJSON(dir, "logs", "-n", ns, "--errors", "-f=false", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range e.jsonItems(out) {
		if it.Kind == "exit" && it.Type == "AppExited" && it.Container == "web" && it.ExitCode == code {
			return
		}
	}
	t.Errorf("logs shows no app exit with code %d:\n%s", code, out)
}

// TestAppOOMKilledStillReported: an injected app over its memory limit is the kernel's and the
// kubelet's business: the supervisor does not restart it in place, and the container is reported as
// OOMKilled.
func TestAppOOMKilledStillReported(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		d.Annotations["fastdev.dev/rules"] = crashRules
		c := &d.Spec.Template.Spec.Containers[0]
		c.Command = []string{"/bin/busybox", "sh", "-c",
			"if [ -f /www/start.sh ]; then . /www/start.sh; fi; exec /bin/busybox httpd -f -v -p 8080 -h /www"}
		c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}
	})
	dir := e.copyExamples()
	up := e.upAndConnect(ns, "web-static", dir, 1)
	// dd's 64 MiB block is written by the kernel as it reads /dev/zero: over the 32 MiB limit
	e.writeFile(filepath.Join(dir, "web-static/www/start.sh"),
		"echo allocating 64 MiB; exec /bin/busybox dd if=/dev/zero of=/dev/null bs=64M count=1\n", 0o644)
	up.waitOutput("edit->running", 30*time.Second)
	e.eventually(rollout, "the app container reported as OOMKilled", func() error {
		out, err := e.runJSON(dir, "logs", "-n", ns, "--errors", "-f=false", "-o", "json")
		if err != nil {
			return err
		}
		for _, it := range e.jsonItems(out) {
			if it.Kind == "exit" && it.Type == "OOMKilled" && it.Container == "web" && it.ExitCode == 137 {
				return nil
			}
		}
		return fmt.Errorf("no OOMKilled exit of container web in:\n%s", out)
	})
}
