package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/events"
)

// webURL is the line `up` prints for its web view.
var webURL = regexp.MustCompile(`web view: (http://127\.0\.0\.1:\d+/\?token=[0-9a-f]+)`)

// browser starts a headless Chromium (Debian's package: `hack/cluster/cluster.sh deps` installs it)
// with the flags that keep it off the network and quick on a closed machine, and a fresh profile.
func (e *env) browser(width, height int) context.Context {
	t := e.t
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("no chromium: install it with `hack/cluster/cluster.sh deps` (Debian's chromium package): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true)}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return ctx
}

// pageEval evaluates a JavaScript expression in the page until check accepts its value.
func (e *env) pageEval(ctx context.Context, timeout time.Duration, what, expr string, check func(string) bool) string {
	e.t.Helper()
	var got string
	e.eventually(timeout, what, func() error {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		v, err := chromedp.Run(cctx, chromedp.Evaluate[string](expr))
		if err != nil {
			return err
		}
		if got = v; !check(v) {
			return fmt.Errorf("the page has %q", v)
		}
		return nil
	})
	return got
}

// screenshot saves the browser's view as a test artifact: under $ARTIFACTS if set, else the test's
// temporary directory.
func (e *env) screenshot(ctx context.Context, name string) string {
	t := e.t
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv("ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
	return p
}

// TestWebView: `up` prints its web view's URL; in a real browser the page shows the pod, an edit's
// edit->running latency appears in the chart, a broken Go build shows the compiler error with its
// local path and an editor link, and the fix clears it; a narrow window does not scroll sideways. A
// request with a foreign Host header (DNS rebinding) and one without the token are refused; the
// editor link is reachable with the keyboard.
func TestWebView(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-go", nil)
	dir := e.copyExamples()
	main := filepath.Join(dir, "web-go/src/main.go")
	up := e.upAndConnect(ns, "web-go", dir, 1)
	m := webURL.FindStringSubmatch(up.Output())
	if m == nil {
		t.Fatalf("no web view URL in up's output:\n%s", up.Output())
	}
	refused(t, m[1])

	ctx := e.browser(1280, 1000)
	if err := chromedp.Do(ctx, chromedp.Navigate(m[1])); err != nil {
		t.Fatalf("opening %s: %v", m[1], err)
	}
	pod := e.pods(ns, "web-go")[0].Name
	e.pageEval(ctx, 30*time.Second, "the pod's row", `document.querySelector('#pod-rows tr[data-pod]')?.textContent ?? ''`,
		func(s string) bool { return strings.Contains(s, pod) && strings.Contains(s, "Running") })
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || strings.Contains(loc, "token") {
		t.Errorf("the token stays in the address bar: %q %v", loc, err)
	}

	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	v2 := strings.Replace(string(src), "hello from web-go v1", "hello from web-go v2", 1)
	e.writeFile(main, v2, 0o644)
	e.pageEval(ctx, 90*time.Second, "the edit's latency in the chart",
		`[...document.querySelectorAll('#chart g.upd')].map(g => g.dataset.latency).join(',') + ' ' + document.getElementById('p50').textContent`,
		func(s string) bool { return strings.Contains(s, "p50 edit → running") && !strings.HasPrefix(s, " ") })
	e.screenshot(ctx, "web-view-latency.png")

	broken := strings.Replace(v2, "fmt.Fprintln(w, message)", "fmt.Fprintln(w, messagee)", 1)
	line, col := position(broken, "messagee")
	e.writeFile(main, broken, 0o644)
	abs := fmt.Sprintf("%s:%d:%d", main, line, col)
	href := (&url.URL{Scheme: "vscode", Host: "file", Path: abs}).String()
	e.pageEval(ctx, 90*time.Second, "the compiler error with its local path and editor link",
		`[...document.querySelectorAll('#error-list article')].map(a => a.textContent + ' ' +
			[...a.querySelectorAll('a')].map(l => l.getAttribute('href')).join(' ')).join('\n')`,
		func(s string) bool {
			return strings.Contains(s, "undefined: messagee") && strings.Contains(s, abs) && strings.Contains(s, href)
		})
	e.screenshot(ctx, "web-view.png")
	tabTo(t, ctx, href)

	e.writeFile(main, v2, 0o644)
	e.pageEval(ctx, 90*time.Second, "the error cleared after the fix", `String(document.querySelectorAll('#error-list article').length)`,
		func(s string) bool { return s == "0" })

	if err := chromedp.Do(ctx, chromedp.EmulateViewport(420, 900)); err != nil {
		t.Fatal(err)
	}
	e.pageEval(ctx, 10*time.Second, "a narrow window without sideways scrolling",
		`String(document.documentElement.scrollWidth <= window.innerWidth)`, func(s string) bool { return s == "true" })
	e.screenshot(ctx, "web-view-narrow.png")
}

// refused checks that the web view refuses a foreign Host header and a request without the token.
func refused(t *testing.T, pageURL string) {
	t.Helper()
	u, err := url.Parse(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct{ name, url, host string }{
		{"a foreign Host header", pageURL, "rebind.example:" + u.Port()},
		{"no token", "http://" + u.Host + "/state", ""},
	} {
		req, err := http.NewRequest(http.MethodGet, c.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.host != "" {
			req.Host = c.host
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %s, want 403 Forbidden", c.name, resp.Status)
		}
	}
}

// tabTo presses Tab until the keyboard's focus is on the link to href: the console is reachable
// without a mouse.
func tabTo(t *testing.T, ctx context.Context, href string) {
	t.Helper()
	var focused []string
	for range 30 {
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.activeElement?.tagName ?? '') + ' ' + (document.activeElement?.getAttribute('href') ?? '')`))
		if err != nil {
			t.Fatal(err)
		}
		if v == "A "+href {
			return
		}
		focused = append(focused, v)
	}
	t.Errorf("Tab never reached the editor link %s; it went through %q", href, focused)
}

// TestFirstSyncProgress: the first sync of a big tree (10,000 files, 160 MiB) shows how far it has
// come: a plain line every few seconds with files and bytes of the totals, the rate and the time
// left, and the same numbers for the web view's bar.
func TestFirstSyncProgress(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", nil)
	dir := e.copyExamples()
	const files, size = 10000, 16 << 10
	// each file its own lines, compressing about as source does: a tree of one repeated phrase shrinks
	// a thousandfold on the wire (updates travel zstd-compressed) and its sync left no time for progress
	content := func(i int) string { return sourceLike(i, size) }
	for i := range files {
		p := filepath.Join(dir, "web-static/www/big", fmt.Sprintf("d%02d/f%05d.txt", i%100, i))
		if i < 100 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(p, []byte(content(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	up := e.start(dir, "up", "-n", ns, "web-static")
	up.waitOutput("web view: ", 60*time.Second)
	m := webURL.FindStringSubmatch(up.Output())
	if m == nil {
		t.Fatalf("no web view URL in up's output:\n%s", up.Output())
	}
	states := webStates(t, m[1])
	var seen bool
	e.eventually(rollout, "the web view's progress of the first sync", func() error {
		for !seen {
			select {
			case s := <-states:
				for _, p := range s.Pods {
					if p.Progress != nil && p.Progress.TotalFiles >= files && p.Progress.TotalBytes >= files*size &&
						p.Progress.Files > 0 && p.Progress.Files <= p.Progress.TotalFiles {
						seen = true
					}
				}
			default:
				return fmt.Errorf("not yet")
			}
		}
		return nil
	})
	line := regexp.MustCompile(`web-static/web-static-\S+: sending \d+/10\d{3} files, [\d.]+ [KM]iB/1[56]\d\.\d MiB, [\d.]+ [KMG]iB/s, \d+s left`)
	e.eventually(rollout, "a plain progress line", func() error {
		if !line.MatchString(up.Output()) {
			return fmt.Errorf("no progress line yet")
		}
		return nil
	})
	e.waitConnected(up, ns, "web-static", 1)
	e.serves(ns, "web-static", "/big/d07/f00007.txt", content(7)[:64], 1, rollout)
}

// webStates opens the web view's event stream (the token exchanged for the cookie, as a browser
// does) and passes on the states it sends.
func webStates(t *testing.T, pageURL string) <-chan events.State {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(resp.Cookies()) != 1 {
		t.Fatalf("no cookie for the token: %s", resp.Status)
	}
	u, _ := url.Parse(pageURL)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+u.Host+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(resp.Cookies()[0])
	stream, err := http.DefaultClient.Do(req)
	if err != nil || stream.StatusCode != http.StatusOK {
		t.Fatalf("event stream: %v %v", err, stream)
	}
	out := make(chan events.State, 1000)
	go func() {
		defer stream.Body.Close()
		sc := bufio.NewScanner(stream.Body)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			var s events.State
			if !ok || json.Unmarshal([]byte(data), &s) != nil {
				continue
			}
			select {
			case out <- s:
			default: // the test reads as it goes; should it fall behind, later states still come
			}
		}
	}()
	return out
}

// TestWebViewTerminalAndOff: the live view shows the web view's URL under its title, and the URL opens
// the page; with --web=false no view is served and no URL printed.
func TestWebViewTerminalAndOff(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", nil)
	dir := e.copyExamples()
	term := e.startTerminal(dir, 160, 45, "up", "-n", ns, "web-static")
	s := term.waitScreen(rollout, "the web view's URL under the title", func(s string) error {
		lines := strings.Split(s, "\n")
		if len(lines) < 2 || !strings.HasPrefix(lines[0], "kubectl fastdev up · namespace ") || !webURL.MatchString(lines[1]) {
			return fmt.Errorf("no URL under the title")
		}
		return nil
	})
	page := webURL.FindStringSubmatch(s)[1]
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second, Jar: jar}).Get(page) // the token exchange, then the page with the cookie
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("the printed URL: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	term.keys("q")
	e.eventually(30*time.Second, "up to stop on q", func() error {
		if !strings.Contains(term.screen(), "EXITED 0") {
			return fmt.Errorf("still running")
		}
		return nil
	})

	off := e.upAndConnect(ns, "web-static", dir, 1, "--web=false")
	if strings.Contains(off.Output(), "web view") {
		t.Errorf("--web=false printed a web view:\n%s", off.Output())
	}
	off.stop()
}
