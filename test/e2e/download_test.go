package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

// downloadRules is web-static's rules with a step that generates gen/out.txt from src.txt (after
// sleeping as many seconds as /www/delay says), gen/** downloaded and cache/** the pod's own.
const downloadRules = `container: web
sync:
  - from: ./web-static/www
    to: /www
    keep: ["cache/**"]
    download: ["gen/**"]
run:
  - cmd: /bin/busybox sh -c '/bin/busybox sleep $(/bin/busybox cat /www/delay 2>/dev/null || echo 0); /bin/busybox mkdir -p /www/gen && /bin/busybox cat /www/src.txt > /www/gen/out.txt'
    trigger: ["src.txt"]
restart: process
`

// waitLocal waits until the local file p holds want.
func (e *env) waitLocal(p, want string, timeout time.Duration) {
	e.t.Helper()
	e.eventually(timeout, fmt.Sprintf("%s holding %q", p, want), func() error {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if string(b) != want {
			return fmt.Errorf("it holds %q", b)
		}
		return nil
	})
}

// noBounce waits a few seconds, then checks that every update `up` printed since its output had from
// bytes ran steps, i.e. was the edit that made the pod write the file: a downloaded file sent back
// would be an update without steps (the step's trigger does not match it).
func (e *env) noBounce(up *proc, from int) {
	e.t.Helper()
	time.Sleep(3 * time.Second)
	for _, l := range strings.Split(up.Output()[from:], "\n") {
		if strings.Contains(l, " sent, ") && strings.Contains(l, " deleted") && !strings.Contains(l, "steps:") {
			e.t.Errorf("a downloaded file was sent back: %q\n%s", l, up.Output())
		}
	}
}

// TestDownload: files matching download that a step or a `run` command changes in the pod come back to
// the local tree with the pod's content and are not sent back; a `run` command's file under keep stays
// in the pod only, through the next converge; a local file changed while the step ran keeps its
// content, the pod's version lands beside it and `up` says so.
func TestDownload(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) { d.Annotations["fastdev.dev/rules"] = downloadRules })
	dir := e.copyExamples()
	www := filepath.Join(dir, "web-static/www")
	out := filepath.Join(www, "gen/out.txt")
	up := e.upAndConnect(ns, "web-static", dir, 1)
	pod := e.pods(ns, "web-static")[0].Name

	// a step writes gen/out.txt in the pod
	from := len(up.Output())
	e.writeFile(filepath.Join(www, "src.txt"), "from a step v1\n", 0o644)
	e.waitLocal(out, "from a step v1\n", 60*time.Second)
	up.waitOutput("downloaded "+out+" from pod "+pod+" (a step changed it)", 10*time.Second)
	e.noBounce(up, from)

	// a run command writes gen/run.txt (downloaded) and cache/k.txt (kept: stays in the pod only)
	from = len(up.Output())
	r := e.runCmd(e.kubeconfig, "", "run", "-n", ns, "web-static", "--", "/bin/busybox", "sh", "-c",
		"/bin/busybox mkdir -p /www/gen /www/cache && echo from run > /www/gen/run.txt && echo kept > /www/cache/k.txt")
	if r.code != 0 {
		t.Fatalf("run: %+v", r)
	}
	e.waitLocal(filepath.Join(www, "gen/run.txt"), "from run\n", 20*time.Second)
	up.waitOutput("downloaded "+filepath.Join(www, "gen/run.txt")+" from pod "+pod+" (a `kubectl fastdev run` command changed it)", 10*time.Second)
	e.noBounce(up, from)
	if _, err := os.Stat(filepath.Join(www, "cache")); !os.IsNotExist(err) {
		t.Errorf("a kept path came back: %v", err)
	}
	up.stop()
	up = e.upAndConnect(ns, "web-static", dir, 1)
	e.writeFile(filepath.Join(www, "index.html"), "hello after the converge\n", 0o644)
	e.serves(ns, "web-static", "/", "hello after the converge", 1, 30*time.Second)
	if got := e.inPod(ns, pod, "cat /www/cache/k.txt /www/gen/run.txt"); got != "kept\nfrom run\n" {
		t.Errorf("after the converge the pod holds %q, want the kept and the downloaded file", got)
	}

	// a conflict: the developer edits gen/out.txt while the step that rewrites it runs
	e.writeFile(filepath.Join(www, "delay"), "6\n", 0o644)
	e.serves(ns, "web-static", "/delay", "6", 1, 20*time.Second)
	e.writeFile(filepath.Join(www, "src.txt"), "from a step v2\n", 0o644)
	time.Sleep(2 * time.Second)
	e.writeFile(out, "my local edit\n", 0o644)
	e.waitLocal(out+".fastdev-pod", "from a step v2\n", 60*time.Second)
	up.waitOutput("web-static: download conflict: a step changed gen/out.txt in pod "+pod+", and "+out+" changed", 10*time.Second)
	if b, err := os.ReadFile(out); err != nil || string(b) != "my local edit\n" {
		t.Errorf("the local file was overwritten: %q %v", b, err)
	}
	// the developer's version is what the pod gets; the copy is never synced
	e.serves(ns, "web-static", "/gen/out.txt", "my local edit", 1, 20*time.Second)
	e.httpStatus(ns, "web-static", "/gen/out.txt.fastdev-pod", 404, 10*time.Second)
	if strings.Contains(up.Output(), "FAILED") {
		t.Errorf("an update failed:\n%s", up.Output())
	}
}

// nodeDownloadRules is web-node's rules with the lockfile brought back.
const nodeDownloadRules = `container: web
sync:
  - from: ./web-node/src
    to: /app/src
    keep: ["node_modules"]
    download: ["package-lock.json"]
run:
  - cmd: npm install --offline
    trigger: ["package.json", "package-lock.json"]
restart: process
`

// TestDownloadNodeLockfile: an in-pod `npm install` after a dependency is added to package.json
// rewrites package-lock.json; it comes back to the local tree and does not run the install again.
func TestDownloadNodeLockfile(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(restrictedNS)
	e.applyExample(ns, "web-node", func(d *appsv1.Deployment) { d.Annotations["fastdev.dev/rules"] = nodeDownloadRules })
	dir := e.copyExamples()
	lock := filepath.Join(dir, "web-node/src/package-lock.json")
	up := e.upAndConnect(ns, "web-node", dir, 1)
	e.serves(ns, "web-node", "/", "hello from web-node v1", 1, 30*time.Second)

	from := len(up.Output())
	e.editSample(filepath.Join(dir, "web-node/src/package.json"), `"ms": "2.1.3"`, `"escape-html": "1.0.3",
    "ms": "2.1.3"`)
	e.eventually(120*time.Second, "package-lock.json naming escape-html", func() error {
		b, err := os.ReadFile(lock)
		if err != nil || !strings.Contains(string(b), `"node_modules/escape-html"`) {
			return fmt.Errorf("not yet (%v)", err)
		}
		return nil
	})
	up.waitOutput("web-node: downloaded "+lock+" from pod", 10*time.Second)
	e.noBounce(up, from)
	if n := strings.Count(up.Output(), `steps: "npm install --offline"`); n != 1 {
		t.Errorf("the install ran %d times, want once:\n%s", n, up.Output())
	}
}

// TestDownloadTwoReplicas: both replicas run the step and make the same file; it is written once, from
// the pod named in the line, and sent to neither.
func TestDownloadTwoReplicas(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		d.Annotations["fastdev.dev/rules"] = downloadRules
		two := int32(2)
		d.Spec.Replicas = &two
	})
	dir := e.copyExamples()
	www := filepath.Join(dir, "web-static/www")
	out := filepath.Join(www, "gen/out.txt")
	up := e.upAndConnect(ns, "web-static", dir, 2)
	from := len(up.Output())
	e.writeFile(filepath.Join(www, "src.txt"), "from both replicas\n", 0o644)
	e.waitLocal(out, "from both replicas\n", 60*time.Second)
	e.serves(ns, "web-static", "/gen/out.txt", "from both replicas", 2, 30*time.Second)
	e.noBounce(up, from)
	if n := strings.Count(up.Output(), "downloaded "+out+" from pod "); n != 1 {
		t.Errorf("%d download lines, want 1:\n%s", n, up.Output())
	}
	if strings.Contains(up.Output(), "conflict") {
		t.Errorf("a conflict between replicas that made the same file:\n%s", up.Output())
	}
}
