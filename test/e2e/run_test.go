package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// runRules is web-static's rules with a path the pod owns, where commands write.
const runRules = `container: web
sync:
  - from: ./web-static/www
    to: /www
    keep: ["gen/**"]
restart: process
`

// ran is one `kubectl fastdev run` as a script sees it.
type ran struct {
	stdout, stderr string
	code           int
}

// runCmd runs kubectl-fastdev as the user of kubeconfig kc, with stdin, and returns its streams apart
// and its exit code.
func (e *env) runCmd(kc, stdin string, args ...string) ran {
	t := e.t
	t.Helper()
	cmd := exec.Command(e.binary, append([]string{"--kubeconfig", kc}, args...)...)
	var out, errOut strings.Builder
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errOut
	err := cmd.Run()
	r := ran{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("kubectl-fastdev %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("kubectl-fastdev %s: exit %d\nstdout: %q\nstderr: %q", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

// runExample applies web-static with 2 replicas, a working directory and an environment variable the
// commands must see, and injects it with `up`, which keeps running.
func (e *env) runExample(ns string, mutate func(*appsv1.Deployment)) (string, *proc) {
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		d.Annotations["fastdev.dev/rules"] = runRules
		two := int32(2)
		d.Spec.Replicas = &two
		c := &d.Spec.Template.Spec.Containers[0]
		c.WorkingDir = "/www"
		c.Env = append(c.Env, corev1.EnvVar{Name: "RUN_E2E", Value: "from the pod spec"})
		if mutate != nil {
			mutate(d)
		}
	})
	dir := e.copyExamples()
	return dir, e.upAndConnect(ns, "web-static", dir, 2)
}

// TestRun runs commands in the dev container of web-static: the exit code passes through (0, 3, 127
// explained), stdout and stderr stay apart, the command sees the container's environment and working
// directory, stdin with -i, a file written into a sync root stays (a keep path) through later edits
// and the next converge,
// --all runs in both replicas with prefixed output, an edit lands while a long command runs, and a
// Deployment that is not injected is refused naming `up`.
func TestRun(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	dir, up := e.runExample(ns, nil)
	sh := func(script string) []string {
		return []string{"run", "-n", ns, "web-static", "--", "/bin/busybox", "sh", "-c", script}
	}

	r := e.runCmd(e.kubeconfig, "", sh("echo out; echo err >&2; echo \"$RUN_E2E in $(/bin/busybox pwd)\"; exit 3")...)
	if r.code != 3 || r.stdout != "out\nfrom the pod spec in /www\n" || r.stderr != "err\n" {
		t.Errorf("exit 3 with stdout and stderr apart: got %+v", r)
	}
	if r = e.runCmd(e.kubeconfig, "", sh("true")...); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("exit 0: got %+v", r)
	}
	r = e.runCmd(e.kubeconfig, "", "run", "-n", ns, "web-static", "--", "no-such-command")
	if r.code != 127 || !strings.Contains(r.stderr, "could not start") || !strings.Contains(r.stderr, "PATH") {
		t.Errorf("a command that is not there: got %+v", r)
	}
	if r = e.runCmd(e.kubeconfig, "hello\nworld\n", "run", "-n", ns, "web-static", "-i", "--", "/bin/busybox", "tr", "a-z", "A-Z"); r.code != 0 || r.stdout != "HELLO\nWORLD\n" {
		t.Errorf("-i: got %+v", r)
	}

	// a file the command writes into a sync root is there afterwards, and a kept path outlives later edits
	r = e.runCmd(e.kubeconfig, "", sh("/bin/busybox mkdir -p gen && echo generated in the pod > gen/out.txt && /bin/busybox hostname")...)
	pod := strings.TrimSpace(r.stdout)
	if r.code != 0 || pod == "" {
		t.Fatalf("writing into the sync root: %+v", r)
	}
	e.writeFile(filepath.Join(dir, "web-static/www/index.html"), "hello after run\n", 0o644)
	e.serves(ns, "web-static", "/", "hello after run", 2, 20*time.Second)
	if got := e.inPod(ns, pod, "cat /www/gen/out.txt"); got != "generated in the pod\n" {
		t.Errorf("the file the command wrote, after an edit: %q", got)
	}

	// --all: every ready replica, each line prefixed with its pod; the first non-zero exit code wins
	r = e.runCmd(e.kubeconfig, "", "run", "-n", ns, "web-static", "--all", "--", "/bin/busybox", "sh", "-c",
		"echo one; echo two >&2; [ \"$(/bin/busybox hostname)\" = "+pod+" ] && exit 4; exit 0")
	if r.code != 4 {
		t.Errorf("--all: exit code %d, want 4 (the replica %s exits 4)", r.code, pod)
	}
	pods := e.pods(ns, "web-static")
	if len(pods) != 2 {
		t.Fatalf("%d pods", len(pods))
	}
	for _, p := range pods {
		if !strings.Contains(r.stdout, "["+p.Name+"] one\n") || !strings.Contains(r.stderr, "["+p.Name+"] two\n") {
			t.Errorf("--all: no prefixed output of %s", p.Name)
		}
	}

	// an edit lands while a long command runs
	long := e.start(dir, sh("/bin/busybox sleep 15; echo slept")...)
	time.Sleep(2 * time.Second)
	e.writeFile(filepath.Join(dir, "web-static/www/index.html"), "edited while a command runs\n", 0o644)
	e.serves(ns, "web-static", "/", "edited while a command runs", 2, 10*time.Second)
	select {
	case <-long.done:
		t.Errorf("the command ended before the edit landed: %s", long.Output())
	default:
	}
	<-long.done
	if long.err != nil || !strings.Contains(long.Output(), "slept") {
		t.Errorf("the long command: %v\n%s", long.err, long.Output())
	}

	// the command runs whether or not up does; the next converge (up again) leaves the kept file
	up.stop()
	if r = e.runCmd(e.kubeconfig, "", sh("cat gen/out.txt")...); r.code != 0 || r.stdout != "generated in the pod\n" {
		t.Errorf("without up: %+v", r)
	}
	up = e.upAndConnect(ns, "web-static", dir, 2)
	if r = e.runCmd(e.kubeconfig, "", sh("cat gen/out.txt")...); r.code != 0 || r.stdout != "generated in the pod\n" {
		t.Errorf("after a converge: %+v", r)
	}
	up.stop()

	e.applyExample(ns, "web-go", nil)
	r = e.runCmd(e.kubeconfig, "", "run", "-n", ns, "web-go", "--", "true")
	if r.code != 1 || !strings.Contains(r.stderr, "not injected") || !strings.Contains(r.stderr, "kubectl fastdev up web-go") {
		t.Errorf("a Deployment that is not injected: %+v", r)
	}
}

// TestRunInterrupt: Ctrl-C (SIGINT to the CLI) exits 130 and stops the remote command with the child
// it started: the file they append to stops growing.
func TestRunInterrupt(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	_, up := e.runExample(ns, nil)
	up.stop()
	r := e.runCmd(e.kubeconfig, "", "run", "-n", ns, "web-static", "--", "/bin/busybox", "hostname")
	pod := strings.TrimSpace(r.stdout)
	p := e.start(".", "run", "-n", ns, "web-static", "--", "/bin/busybox", "sh", "-c",
		"/bin/busybox mkdir -p gen; (while true; do echo bg >> gen/ticks; /bin/busybox sleep 0.1; done) & while true; do echo fg >> gen/ticks; /bin/busybox sleep 0.1; done")
	lines := func() int {
		n, err := strconv.Atoi(strings.TrimSpace(e.inPod(ns, pod, "cat /www/gen/ticks 2>/dev/null | /bin/busybox wc -l")))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	e.eventually(30*time.Second, "the command writing", func() error {
		if lines() < 10 {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	start := time.Now()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the CLI did not exit within 5s of SIGINT")
	}
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) || ee.ExitCode() != 130 {
		t.Errorf("exit after SIGINT: %v, want code 130", p.err)
	}
	t.Logf("CLI exited %s after SIGINT", time.Since(start))
	// SIGINT reaches the group at once; SIGKILL follows after the supervisor's grace (5 s)
	e.eventually(15*time.Second, "the command and its child stopped", func() error {
		a := lines()
		time.Sleep(time.Second)
		if b := lines(); b != a {
			return fmt.Errorf("the file still grows: %d -> %d lines", a, b)
		}
		return nil
	})
	t.Logf("the command stopped within %s of SIGINT", time.Since(start))
	if ps := e.inPod(ns, pod, "/bin/busybox ps"); strings.Contains(ps, "ticks") {
		t.Errorf("the command still runs in the pod:\n%s", ps)
	}
}

// TestRunRBAC: a developer bound only to the Role of manifests/rbac.yaml (no pods/exec) runs a command
// in a namespace enforcing the restricted Pod Security Standard; it runs as the app's user.
func TestRunRBAC(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	user, kc := e.newUser()
	e.bindRole(ns, user, e.developerRole())
	e.canExactly(kc, ns) // which checks, among others, that the user may not create pods/exec
	e.applyExample(ns, "web-static", nonRoot)
	e.waitAvailable(ns, "web-static", rollout)
	dir := e.copyExamples()
	up := e.startAs(kc, dir, "up", "-n", ns, "web-static")
	e.waitConnected(up, ns, "web-static", 1)
	r := e.runCmd(kc, "", "run", "-n", ns, "web-static", "--", "/bin/busybox", "sh", "-c", "/bin/busybox id -u; exit 5")
	if r.code != 5 || r.stdout != "1000\n" {
		t.Errorf("run as the developer: %+v", r)
	}
}
