package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

// settleRules runs a step counting its runs in the pod whenever a .txt file changes.
const settleRules = `container: web
sync:
  - from: ./web-static/www
    to: /www
run:
  - cmd: /bin/busybox sh /www/count.sh
    trigger: ["*.txt"]
restart: none
`

const settleFiles = 1000

// TestSettle: a lone edit is sent after the settle time, not the quiet window (up is given a long
// --quiet, so the update line's quiet part tells them apart), and a branch switch rewriting 1,000
// files that trigger a step runs that step at most twice.
func TestSettle(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) { d.Annotations["fastdev.dev/rules"] = settleRules })
	dir := e.copyExamples()
	www := filepath.Join(dir, "web-static/www")
	e.writeFile(filepath.Join(www, "count.sh"), "echo run >> /tmp/settle-runs\n", 0o644)
	for i := range settleFiles {
		e.writeFile(filepath.Join(www, "src", fmt.Sprintf("f%04d.txt", i)), "main\n", 0o644)
	}
	up := e.upAndConnect(ns, "web-static", dir, 1, "--plain", "--quiet", "400ms")
	e.serves(ns, "web-static", "/", "hello from web-static v1", 1, 30*time.Second)

	e.writeFile(filepath.Join(www, "index.html"), "hello from web-static settled\n", 0o644)
	e.serves(ns, "web-static", "/", "hello from web-static settled", 1, 20*time.Second)
	up.waitOutput("edit->running", 10*time.Second)
	if q := lastQuiet(t, up.Output()); q >= 400*time.Millisecond {
		t.Errorf("a lone edit waited %s, the whole --quiet window (400ms), not the settle time", q)
	}

	pod := e.pods(ns, "web-static")[0].Name
	before := e.stepRuns(ns, pod)
	// a branch switch: every file removed and written anew, as fast as git does
	for i := range settleFiles {
		f := filepath.Join(www, "src", fmt.Sprintf("f%04d.txt", i))
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("branch\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	last := fmt.Sprintf("/src/f%04d.txt", settleFiles-1)
	e.serves(ns, "web-static", last, "branch", 1, 60*time.Second)
	e.serves(ns, "web-static", "/src/f0000.txt", "branch", 1, 20*time.Second)
	// every update the switch caused has reported once the step ran for its last file
	time.Sleep(3 * time.Second)
	runs := e.stepRuns(ns, pod) - before
	t.Logf("the branch switch ran the step %d time(s)", runs)
	if runs < 1 || runs > 2 {
		t.Errorf("a %d-file branch switch ran the triggered step %d times, want 1 or 2; up said:\n%s", settleFiles, runs, up.Output())
	}
}

// stepRuns counts the runs of settleRules' step in pod.
func (e *env) stepRuns(ns, pod string) int {
	e.t.Helper()
	out := e.kubectl("-n", ns, "exec", pod, "-c", "web", "--", "/bin/busybox", "sh", "-c", "cat /tmp/settle-runs 2>/dev/null | /bin/busybox wc -l")
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		e.t.Fatalf("counting step runs: %q: %v", out, err)
	}
	return n
}

var quietPart = regexp.MustCompile(`edit->running \S+ \(quiet (\S+),`)

// lastQuiet is the quiet part of up's last update line.
func lastQuiet(t *testing.T, out string) time.Duration {
	t.Helper()
	m := quietPart.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		t.Fatalf("no update line with a quiet part in:\n%s", out)
	}
	d, err := time.ParseDuration(m[len(m)-1][1])
	if err != nil {
		t.Fatalf("update line's quiet part: %v", err)
	}
	return d
}
