package e2e

import (
	"context"
	"fmt"
	"net/http"
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
