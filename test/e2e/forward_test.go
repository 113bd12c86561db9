package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// freePort returns a local port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var forwardURL = regexp.MustCompile(`(\S+): forwarding (http://127\.0\.0\.1:\d+) -> port (\d+)`)

// forwardOf waits until p (an `up`) reports its forward of app's port remote, and returns the URL.
func (e *env) forwardOf(p *proc, app string, remote int) string {
	e.t.Helper()
	var url string
	e.eventually(rollout, fmt.Sprintf("a forward of %s port %d", app, remote), func() error {
		for _, m := range forwardURL.FindAllStringSubmatch(p.Output(), -1) {
			if m[1] == app && m[3] == fmt.Sprint(remote) {
				url = m[2]
				return nil
			}
		}
		return errors.New("not reported yet")
	})
	return url
}

// sample is one request a client made through a forward.
type sample struct {
	start, end time.Time
	body       string
	err        error
}

// fetcher requests url every 20 ms, each request on a connection of its own (so each is a new
// forwarded connection), and keeps every outcome.
type fetcher struct {
	mu      sync.Mutex
	samples []sample
	stop    chan struct{}
	done    chan struct{}
}

func fetch(url string) *fetcher {
	f := &fetcher{stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	go func() {
		defer close(f.done)
		for {
			s := sample{start: time.Now()}
			resp, err := client.Get(url)
			if err == nil {
				var b []byte
				b, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				s.body = strings.TrimSpace(string(b))
			}
			s.err, s.end = err, time.Now()
			f.mu.Lock()
			f.samples = append(f.samples, s)
			f.mu.Unlock()
			select {
			case <-f.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return f
}

func (f *fetcher) end() []sample {
	close(f.stop)
	<-f.done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.samples
}

// window is a span in which every request must succeed with body want: from 1 s after the new
// process (or pod) was ready to the next change (a request still in flight then may meet the
// next restart, and is not judged).
type window struct {
	what     string
	from, to time.Time
	want     string
}

// checkWindows fails the test for a request refused by the local listener at any time (the
// listener closed), and for any failed or stale request inside a window.
func checkWindows(t *testing.T, samples []sample, windows []window) {
	t.Helper()
	for _, s := range samples {
		if errors.Is(s.err, syscall.ECONNREFUSED) {
			t.Fatalf("the local listener refused a connection at %s: the forward closed", s.start.Format(time.StampMilli))
		}
	}
	for _, w := range windows {
		n := 0
		for _, s := range samples {
			if s.start.Before(w.from) || !s.end.Before(w.to) {
				continue
			}
			n++
			if s.err != nil || s.body != w.want {
				t.Errorf("%s: a request %s after the new process was ready got %q, %v; want %q",
					w.what, s.start.Sub(w.from.Add(-time.Second)).Round(time.Millisecond), s.body, s.err, w.want)
			}
		}
		if n == 0 {
			t.Errorf("%s: no request in the window", w.what)
		}
	}
	failed := 0
	for _, s := range samples {
		if s.err != nil {
			failed++
			if t.Failed() {
				t.Logf("failed request at %s: %v", s.start.Format("15:04:05.000"), s.err)
			}
		}
	}
	if t.Failed() {
		for _, w := range windows {
			t.Logf("window %s: %s-%s", w.what, w.from.Format("15:04:05.000"), w.to.Format("15:04:05.000"))
		}
	}
	t.Logf("%d requests through the forward, %d failed (outside the windows: during a restart or replacement); new content first served %s after ready at worst",
		len(samples), failed, worstFirst(samples, windows))
}

// worstFirst is the longest time, over the windows, from the new process being ready (1 s before
// the window) to the first request that returned the new content.
func worstFirst(samples []sample, windows []window) time.Duration {
	var worst time.Duration
	for _, w := range windows {
		ready := w.from.Add(-time.Second)
		for _, s := range samples {
			if s.err == nil && s.body == w.want && !s.end.Before(ready) {
				worst = max(worst, s.end.Sub(ready))
				break
			}
		}
	}
	return worst.Round(time.Millisecond)
}

// TestForwardRestarts: a client fetching through `up`'s forward every 20 ms while 30 edits restart
// the process and the pod is deleted once: the listener never closes, and from 1 s after each new
// process (or pod) is ready every request succeeds with the new content.
func TestForwardRestarts(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", nil)
	dir := e.copyExamples()
	index := filepath.Join(dir, "web-static/www/index.html")
	port := freePort(t)
	up := e.upAndConnect(ns, "web-static", dir, 1, "--plain", "--forward", fmt.Sprintf("%d:8080", port))
	url := e.forwardOf(up, "web-static", 8080)
	if want := fmt.Sprintf("http://127.0.0.1:%d", port); url != want {
		t.Fatalf("forward at %s, want %s", url, want)
	}
	e.eventually(10*time.Second, "the forward in status -o json", func() error {
		out, err := e.runJSON(dir, "status", "-n", ns, "-o", "json")
		if err != nil || !strings.Contains(out, `"url": "`+url+`"`) {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	e.eventually(30*time.Second, "the first answer through the forward", func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	})
	f := fetch(url + "/")
	var windows []window
	for k := 2; k <= 31; k++ {
		want := fmt.Sprintf("hello from web-static v%d", k)
		edit := time.Now()
		e.writeFile(index, want+"\n", 0o644)
		// the k-1th timed update is the process restarted with v<k>
		up.waitOutputCount("edit->running", k-1, 20*time.Second)
		ready := time.Now()
		time.Sleep(1500 * time.Millisecond)
		windows = append(windows, window{what: fmt.Sprintf("restart %d (edit->ready %s)", k-1, ready.Sub(edit).Round(time.Millisecond)),
			from: ready.Add(time.Second), to: time.Now(), want: want})
	}
	old := e.pods(ns, "web-static")[0].Name
	if err := e.cs.CoreV1().Pods(ns).Delete(context.Background(), old, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	newPod := e.replacement(up, ns, "web-static", old)
	ready := time.Now()
	time.Sleep(2 * time.Second)
	windows = append(windows, window{what: fmt.Sprintf("pod %s replaced by %s (deletion->converged %s)", old, newPod, ready.Sub(deleted).Round(time.Millisecond)),
		from: ready.Add(time.Second), to: time.Now(), want: "hello from web-static v31"})
	samples := f.end()
	checkWindows(t, samples, windows)
}

// replacement waits until a new pod of app (not old) is connected and converged by up, and returns it.
func (e *env) replacement(up *proc, ns, app, old string) string {
	e.t.Helper()
	var name string
	e.eventually(rollout, "a replacement pod converged", func() error {
		for _, p := range e.pods(ns, app) {
			if p.Name != old && strings.Contains(up.Output(), app+"/"+p.Name+": converged") {
				name = p.Name
				return nil
			}
		}
		return errors.New("not yet")
	})
	return name
}

// waitOutputCount waits until the output contains want at least n times.
func (p *proc) waitOutputCount(want string, n int, timeout time.Duration) {
	p.e.t.Helper()
	p.e.eventually(timeout, fmt.Sprintf("%d × %q", n, want), func() error {
		if c := strings.Count(p.Output(), want); c < n {
			return fmt.Errorf("%d so far", c)
		}
		return nil
	})
}

// whoScript is a CGI script of busybox httpd that answers with the pod's name.
const whoScript = "#!/bin/sh\necho 'Content-Type: text/plain'\necho\n/bin/busybox hostname\n"

// TestForwardReplicas: with two replicas, connections through the forward (opened by default on
// the container's declared port) reach both pods in turn; deleting one moves them to the others.
func TestForwardReplicas(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		two := int32(2)
		d.Spec.Replicas = &two
	})
	dir := e.copyExamples()
	e.writeFile(filepath.Join(dir, "web-static/www/cgi-bin/who"), whoScript, 0o755)
	up := e.upAndConnect(ns, "web-static", dir, 2, "--plain")
	url := e.forwardOf(up, "web-static", 8080) + "/cgi-bin/who"
	e.serves(ns, "web-static", "/cgi-bin/who", "web-static-", 2, 30*time.Second)
	pods := e.pods(ns, "web-static") // the injected ones: serves waited for the rollout's end

	seen := e.spread(url, 20)
	for _, p := range pods {
		if seen[p.Name] < 5 {
			t.Errorf("pod %s got %d of 20 connections (want them spread: %v)", p.Name, seen[p.Name], seen)
		}
	}
	gone := pods[0].Name
	if err := e.cs.CoreV1().Pods(ns).Delete(context.Background(), gone, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	// the replacement is seconds from ready (init containers, synclet): the other pod takes them all
	if seen := e.spread(url, 10); seen[gone] > 0 || seen["error"] > 0 || seen[pods[1].Name] == 0 {
		t.Errorf("after deleting %s, 10 connections went to %v; want them on %s", gone, seen, pods[1].Name)
	}
	newPod := e.replacement(up, ns, "web-static", gone)
	e.eventually(30*time.Second, "connections reaching the new pod "+newPod, func() error {
		if seen := e.spread(url, 10); seen[newPod] == 0 || seen[gone] > 0 {
			return fmt.Errorf("connections went to %v", seen)
		}
		return nil
	})
}

// spread makes n requests through url, each on a connection of its own, and counts the answers
// by pod name; a failed request counts under "error".
func (e *env) spread(url string, n int) map[string]int {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	seen := map[string]int{}
	for range n {
		resp, err := client.Get(url)
		if err != nil {
			seen["error"]++
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			seen["error"]++
			continue
		}
		seen[strings.TrimSpace(string(b))]++
	}
	return seen
}

// TestForwardBadSpecs: a bad forward is an error naming the key or flag, and nothing is patched.
func TestForwardBadSpecs(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	dir := e.copyExamples()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	base := "container: web\nsync:\n  - from: ./web-static/www\n    to: /www\n"
	cases := []struct {
		name, rules string
		args        []string
		want        []string
	}{
		{"port zero", base + "forward: [\"0:8080\"]\n", nil, []string{"line 5", `key "forward[0]"`, "local port 0 is out of range: ports are 1-65535"}},
		{"port too big", base + "forward: [\"8080:70000\"]\n", nil, []string{"line 5", "remote port 70000 is out of range"}},
		{"duplicate local port", base + "forward: [\"18080:8080\", \"18080:9090\"]\n", nil, []string{`key "forward[1]"`, "local port 18080 is forwarded twice"}},
		{"flag out of range", base, []string{"--forward", "70000"}, []string{"--forward 70000", "out of range"}},
		{"port in use", base + fmt.Sprintf("forward: [\"%d:8080\"]\n", busyPort), nil,
			[]string{"nothing was changed", fmt.Sprintf("local port %d (forward[0] of its rules (line 5)) is not free", busyPort), "address already in use"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.sub(t)
			name := fmt.Sprintf("badfwd-%d", i)
			d := e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
				d.Name = name
				d.Annotations["fastdev.dev/rules"] = c.rules
			})
			e.upRefused(dir, d, c.want, c.args...)
		})
	}
}
