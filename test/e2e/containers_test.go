package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// twoContainerRules develops both app containers of the pod, each with its own sync, step and restart:
// web copies index.html to copy.html and has its process restarted; worker copies page.txt to
// built.txt and gets a fresh start of its container's processes. The copies are the pod's (keep).
const twoContainerRules = `containers:
  - container: web
    sync:
      - from: ./web-static/www
        to: /www
        keep: ["copy.html"]
    run:
      - cmd: /bin/busybox cp /www/index.html /www/copy.html
        trigger: ["index.html"]
    restart: process
  - container: worker
    sync:
      - from: ./worker
        to: /site
        keep: ["built.txt"]
    run:
      - cmd: /bin/busybox cp /site/page.txt /site/built.txt
        trigger: ["page.txt"]
    restart: container
`

// TestTwoAppContainers: a pod with two app containers, each with its own rules, steps and restart
// mode: an edit for one runs only its step and restarts only it (the other's process keeps running,
// neither container is restarted by the kubelet), and `down` restores the template exactly.
func TestTwoAppContainers(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		d.Annotations["fastdev.dev/rules"] = twoContainerRules
		spec := &d.Spec.Template.Spec
		web := &spec.Containers[0]
		web.Command = []string{"/bin/busybox", "sh", "-c", "echo app-start web; exec /bin/busybox httpd -f -v -p 8080 -h /www"}
		worker := corev1.Container{Name: "worker", Image: web.Image, ImagePullPolicy: web.ImagePullPolicy,
			Command: []string{"/bin/busybox", "sh", "-c", "echo app-start worker; exec /bin/busybox sleep 1000000"}}
		spec.Containers = append(spec.Containers, worker)
	})
	e.waitAvailable(ns, "web-static", rollout)
	before, beforeJSON := e.rawTemplate(ns, "web-static")
	dir := e.copyExamples()
	www := filepath.Join(dir, "web-static/www")
	e.writeFile(filepath.Join(dir, "worker/page.txt"), "page v1\n", 0o644)
	up := e.upAndConnect(ns, "web-static", dir, 1)
	pod := e.pods(ns, "web-static")[0].Name
	c := appContainers{e: e, ns: ns, pod: pod}

	// the first sync brings page.txt (the image has no /site): worker's step runs
	c.waitFile("worker", "/site/built.txt", "page v1")
	web, worker := c.settled()

	e.writeFile(filepath.Join(dir, "worker/page.txt"), "page v2\n", 0o644)
	c.waitFile("worker", "/site/built.txt", "page v2")
	c.waitStarts("worker", worker+1)
	if n := c.starts("web"); n != web {
		t.Errorf("an edit for worker started web's app again (%d starts, was %d)", n, web)
	}
	if out := c.sh("web", "cat /www/copy.html 2>&1 || true"); strings.Contains(out, "two containers") {
		t.Errorf("web's step ran for worker's edit: copy.html holds %q", out)
	}

	web, worker = c.settled()
	e.writeFile(filepath.Join(www, "index.html"), "hello from two containers\n", 0o644)
	c.waitFile("web", "/www/copy.html", "hello from two containers")
	c.waitStarts("web", web+1)
	e.serves(ns, "web-static", "/", "hello from two containers", 1, 30*time.Second)
	time.Sleep(3 * time.Second) // room for a wrong restart of worker to show
	if n := c.starts("worker"); n != worker {
		t.Errorf("an edit for web started worker's app again (%d starts, was %d)", n, worker)
	}
	if out := c.sh("worker", "cat /site/built.txt"); !strings.Contains(out, "page v2") {
		t.Errorf("worker's built.txt after web's edit: %q", out)
	}
	c.noKubeletRestarts()

	up.stop()
	if out, err := e.run(dir, "down", "-n", ns, "web-static"); err != nil || !strings.Contains(out, "web-static: restored") {
		t.Fatalf("down: %v\n%s", err, out)
	}
	if after, afterJSON := e.rawTemplate(ns, "web-static"); !reflect.DeepEqual(after, before) {
		t.Errorf("pod template after up and down:\n%s\nwant, as before up:\n%s", afterJSON, beforeJSON)
	}
}

// appContainers looks into the app containers of one pod.
type appContainers struct {
	e       *env
	ns, pod string
}

// sh runs a busybox shell script in container c.
func (a appContainers) sh(c, script string) string {
	a.e.t.Helper()
	return a.e.kubectl("-n", a.ns, "exec", a.pod, "-c", c, "--", "/bin/busybox", "sh", "-c", script)
}

// starts counts the app starts container c's log shows (its app prints "app-start NAME").
func (a appContainers) starts(c string) int {
	a.e.t.Helper()
	return strings.Count(a.e.kubectl("-n", a.ns, "logs", a.pod, "-c", c), "app-start "+c)
}

func (a appContainers) waitStarts(c string, n int) {
	a.e.t.Helper()
	a.e.eventually(30*time.Second, fmt.Sprintf("%s's app started %d times", c, n), func() error {
		if got := a.starts(c); got < n {
			return fmt.Errorf("%d starts", got)
		}
		return nil
	})
}

// settled waits until neither app has started for 3 s and returns their start counts.
func (a appContainers) settled() (int, int) {
	a.e.t.Helper()
	web, worker := -1, -1
	a.e.eventually(60*time.Second, "both apps settled", func() error {
		w, k := a.starts("web"), a.starts("worker")
		if w != web || k != worker {
			web, worker = w, k
			time.Sleep(3 * time.Second)
			return fmt.Errorf("starts still changing: web %d, worker %d", w, k)
		}
		return nil
	})
	return web, worker
}

func (a appContainers) waitFile(c, file, want string) {
	a.e.t.Helper()
	a.e.eventually(60*time.Second, fmt.Sprintf("%s in %s holding %q", file, c, want), func() error {
		if out := a.sh(c, "cat "+file+" 2>&1 || true"); !strings.Contains(out, want) {
			return fmt.Errorf("%q", out)
		}
		return nil
	})
}

// noKubeletRestarts fails the test if the kubelet restarted an app container: the supervisors did.
func (a appContainers) noKubeletRestarts() {
	a.e.t.Helper()
	p, err := a.e.cs.CoreV1().Pods(a.ns).Get(context.Background(), a.pod, metav1.GetOptions{})
	if err != nil {
		a.e.t.Fatal(err)
	}
	for _, s := range p.Status.ContainerStatuses {
		if s.RestartCount != 0 {
			a.e.t.Errorf("container %s restarted %d times", s.Name, s.RestartCount)
		}
	}
}

// TestTwoAppContainersOneUser: app containers that may run as different users (their run directory
// is private to one) are refused by `up` before anything is patched, with the fix: one runAsUser.
func TestTwoAppContainersOneUser(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	other := int64(2000)
	d := e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		d.Annotations["fastdev.dev/rules"] = twoContainerRules
		spec := &d.Spec.Template.Spec
		spec.Containers = append(spec.Containers, corev1.Container{Name: "worker", Image: spec.Containers[0].Image,
			ImagePullPolicy: spec.Containers[0].ImagePullPolicy, Command: []string{"/bin/busybox", "sleep", "1000000"},
			SecurityContext: &corev1.SecurityContext{RunAsUser: &other}})
	})
	dir := e.copyExamples()
	e.writeFile(filepath.Join(dir, "worker/page.txt"), "page v1\n", 0o644)
	e.upRefused(dir, d, []string{"nothing was changed", `line 11, key "containers"`, `containers "web" (user of image`, `"worker" (user 2000)`, "securityContext.runAsUser"})
}

// TestTwoAppContainersRunForwardLogs: in a pod with two listed app containers, each with its own
// environment, working directory and declared port: `run -c worker` runs in worker's environment
// (its own supervisor), the default and -c web in web's, an unlisted name is refused listing both;
// without forward: both containers' declared ports are forwarded; an error in worker's output maps
// through worker's own sync entry and working directory.
func TestTwoAppContainersRunForwardLogs(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		d.Annotations["fastdev.dev/rules"] = twoContainerRules
		spec := &d.Spec.Template.Spec
		web := &spec.Containers[0]
		web.WorkingDir = "/www"
		web.Env = append(web.Env, corev1.EnvVar{Name: "WHO", Value: "web"})
		// worker prints crash.txt (a traceback the test syncs) at each start, then serves /site on 9090
		spec.Containers = append(spec.Containers, corev1.Container{Name: "worker", Image: web.Image, ImagePullPolicy: web.ImagePullPolicy,
			WorkingDir: "/site", Env: []corev1.EnvVar{{Name: "WHO", Value: "worker"}},
			Ports:   []corev1.ContainerPort{{Name: "worker", ContainerPort: 9090}},
			Command: []string{"/bin/busybox", "sh", "-c", "echo app-start worker; cat /site/crash.txt 2>/dev/null; exec /bin/busybox httpd -f -p 9090 -h /site"}})
	})
	e.waitAvailable(ns, "web-static", rollout)
	dir := e.copyExamples()
	e.writeFile(filepath.Join(dir, "worker/page.txt"), "page v1\n", 0o644)
	up := e.upAndConnect(ns, "web-static", dir, 1)
	c := appContainers{e: e, ns: ns, pod: e.pods(ns, "web-static")[0].Name}
	c.waitFile("worker", "/site/built.txt", "page v1")

	run := func(args ...string) ran {
		return e.runCmd(e.kubeconfig, "", append(append([]string{"run", "-n", ns, "web-static"}, args...),
			"--", "/bin/busybox", "sh", "-c", `echo "$WHO in $(/bin/busybox pwd)"`)...)
	}
	for _, tc := range []struct {
		flags []string
		want  string
	}{{nil, "web in /www\n"}, {[]string{"-c", "web"}, "web in /www\n"}, {[]string{"-c", "worker"}, "worker in /site\n"}} {
		if r := run(tc.flags...); r.code != 0 || r.stdout != tc.want {
			t.Errorf("run %v: got %+v, want %q", tc.flags, r, tc.want)
		}
	}
	if r := run("-c", "proxy"); r.code != 1 || !strings.Contains(r.stderr, "-c proxy") || !strings.Contains(r.stderr, "web, worker") {
		t.Errorf("run -c proxy (not listed): got %+v, want a refusal listing web, worker", r)
	}
	// shell completion of -c offers the listed containers (cobra's __complete prints one a line, then :DIRECTIVE)
	if out, err := e.runJSON(dir, "__complete", "run", "-n", ns, "web-static", "-c", "w"); err != nil || !strings.HasPrefix(out, "web\nworker\n:") {
		t.Errorf("completing -c w: %v\n%s", err, out)
	}

	web, worker := e.forwardOf(up, "web-static", 8080), e.forwardOf(up, "web-static", 9090)
	e.eventually(30*time.Second, "both forwards serving", func() error {
		for url, want := range map[string]string{web + "/": "", worker + "/page.txt": "page v1"} {
			body, err := httpGet(url)
			if err != nil || !strings.Contains(body, want) {
				return fmt.Errorf("%s: %q %v", url, body, err)
			}
		}
		return nil
	})

	_, starts := c.settled()
	e.writeFile(filepath.Join(dir, "worker/app.py"), "import sys\n\nraise ValueError('boom')\n", 0o644)
	e.writeFile(filepath.Join(dir, "worker/crash.txt"), "Traceback (most recent call last):\n  File \"./app.py\", line 3, in <module>\nValueError: boom\nafter\n", 0o644)
	c.waitStarts("worker", starts+1)
	e.eventually(60*time.Second, "worker's traceback mapped to worker/app.py:3", func() error {
		out, err := e.runJSON(dir, "logs", "-n", ns, "--errors", "-f=false", "-o", "json")
		if err != nil {
			return err
		}
		for _, it := range e.jsonItems(out) {
			if it.Kind == "error" && it.Container == "worker" && strings.Contains(it.Text, "ValueError: boom") {
				if len(it.Locations) != 1 || it.Locations[0].Local != "worker/app.py:3" {
					return fmt.Errorf("mapped to %+v", it.Locations)
				}
				return nil
			}
		}
		return fmt.Errorf("no error item from worker in:\n%s", out)
	})
	up.stop()
}

// httpGet fetches url and returns its body.
func httpGet(url string) (string, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestInitTwoContainers: a pod with two app containers and a local directory with a subdirectory
// named after each: `init --apply` writes the containers: list form, one item per container with
// its own sync, and `up` with those rules takes an edit for each to its own container.
func TestInitTwoContainers(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		withoutRules(d)
		spec := &d.Spec.Template.Spec
		web := &spec.Containers[0]
		spec.Containers = append(spec.Containers, corev1.Container{Name: "worker", Image: web.Image, ImagePullPolicy: web.ImagePullPolicy,
			WorkingDir: "/site", Command: []string{"/bin/busybox", "httpd", "-f", "-p", "9090", "-h", "/site"}})
	})
	e.waitAvailable(ns, "web-static", rollout)
	dir := e.copyExamples()
	e.writeFile(filepath.Join(dir, "proj/web/index.html"), "web v1\n", 0o644)
	e.writeFile(filepath.Join(dir, "proj/worker/page.txt"), "worker v1\n", 0o644)
	out, err := e.run(dir, "init", "-n", ns, "web-static", "--dir", "proj", "--apply")
	if err != nil {
		t.Fatalf("init --apply: %v\n%s", err, out)
	}
	for _, want := range []string{"containers:", "- container: web", "- from: ./proj/web", "to: /www", "- container: worker", "- from: ./proj/worker", "to: /site"} {
		if !strings.Contains(out, want) {
			t.Errorf("init's proposal lacks %q:\n%s", want, out)
		}
	}
	up := e.upAndConnect(ns, "web-static", dir, 1)
	defer up.stop()
	c := appContainers{e: e, ns: ns, pod: e.pods(ns, "web-static")[0].Name}
	e.serves(ns, "web-static", "/", "web v1", 1, 30*time.Second)
	c.waitFile("worker", "/site/page.txt", "worker v1")
	e.writeFile(filepath.Join(dir, "proj/worker/page.txt"), "worker v2\n", 0o644)
	e.writeFile(filepath.Join(dir, "proj/web/index.html"), "web v2\n", 0o644)
	c.waitFile("worker", "/site/page.txt", "worker v2")
	e.serves(ns, "web-static", "/", "web v2", 1, 30*time.Second)
	if got := c.sh("web", "ls /www"); strings.Contains(got, "page.txt") {
		t.Errorf("worker's file reached web's /www: %q", got)
	}
}
