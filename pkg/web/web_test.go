package web

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/events"
)

// testServer is a server on a real loopback listener (its port is in the allowed Host names).
func testServer(t *testing.T) (*Server, *events.Model) {
	t.Helper()
	m := events.New("kubectl fastdev up · namespace dev", "/src", []string{"web"})
	s, err := Listen(DefaultAddress, m)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if err := s.Serve(); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, m
}

func base(s *Server) string { return "http://" + s.ln.Addr().String() }

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, url string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestGuard: only the printed URL's token, then its cookie, opens the page; a foreign Host (DNS
// rebinding), another site's request, a wrong token and a write are refused.
func TestGuard(t *testing.T) {
	s, _ := testServer(t)
	resp := get(t, s.URL(), nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("token exchange: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	c := resp.Cookies()
	if len(c) != 1 || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Value != s.token {
		t.Fatalf("cookie: %+v", c)
	}
	cookie := c[0].Name + "=" + c[0].Value
	port := s.ln.Addr().(*net.TCPAddr).Port
	cases := []struct {
		name   string
		path   string
		header map[string]string
		want   int
	}{
		{"page with the cookie", "/", map[string]string{"Cookie": cookie}, 200},
		{"localhost is this host too", "/state", map[string]string{"Cookie": cookie, "Host": "localhost:" + strconv.Itoa(port)}, 200},
		{"same-origin fetch", "/state", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin", "Origin": base(s)}, 200},
		{"no cookie", "/", nil, 403},
		{"wrong cookie", "/", map[string]string{"Cookie": c[0].Name + "=x"}, 403},
		{"wrong token", "/?token=abc", nil, 403},
		{"foreign host (DNS rebinding)", "/state", map[string]string{"Cookie": cookie, "Host": "evil.example:" + strconv.Itoa(port)}, 403},
		{"loopback on another port", "/state", map[string]string{"Cookie": cookie, "Host": "127.0.0.1:1"}, 403},
		{"cross-site", "/state", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site"}, 403},
		{"same-site, other port", "/state", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-site"}, 403},
		{"foreign origin", "/state", map[string]string{"Cookie": cookie, "Origin": "http://evil.example"}, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := get(t, base(s)+tc.path, tc.header).StatusCode; got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodPost, base(s)+"/state", nil)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %s", resp.Status)
	}
	if csp := get(t, base(s)+"/", map[string]string{"Cookie": cookie}).Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP: %q", csp)
	}
}

// TestListenLoopbackOnly: --web must name a loopback address.
func TestListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "192.0.2.1:0", "example.com:0", "127.0.0.1"} {
		if s, err := Listen(addr, events.New("", "", nil)); err == nil {
			s.Close()
			t.Errorf("%s: listened", addr)
		} else if !strings.Contains(err.Error(), "--web "+addr) {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

// TestEventStream: the page's stream sends the state at once and again after a change.
func TestEventStream(t *testing.T) {
	s, m := testServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base(s)+"/events", nil)
	req.AddCookie(&http.Cookie{Name: s.cookie, Value: s.token})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	first := nextState(t, r)
	if first.Title != "kubectl fastdev up · namespace dev" || len(first.Workloads) != 1 {
		t.Fatalf("first state: %+v", first)
	}
	m.Updated(events.Update{Workload: "web", Pod: "web-1", Files: 1, LatencyMs: 250, QuietMs: 20, SendMs: 200})
	next := nextState(t, r)
	if next.Seq <= first.Seq || len(next.Updates) != 1 || next.P50Ms != 250 || len(next.Pods) != 1 {
		t.Fatalf("after an update: %+v", next)
	}
}

func nextState(t *testing.T, r *bufio.Reader) events.State {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var s events.State
			if err := json.Unmarshal([]byte(data), &s); err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
}

// TestNoExternalRequests: the assets name no other origin (scripts, styles, fonts, images).
func TestNoExternalRequests(t *testing.T) {
	url := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import`)
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, p)
		if err != nil {
			return err
		}
		if loc := url.FindIndex(b); loc != nil {
			t.Errorf("%s names another origin: %q", p, b[loc[0]:min(loc[1]+40, len(b))])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStateHandler answers the model's state as JSON (what the page draws).
func TestStateHandler(t *testing.T) {
	m := events.New("t", "/", []string{"web"})
	m.Forwarding("web", "http://127.0.0.1:18080", 8080)
	s := &Server{model: m}
	rec := httptest.NewRecorder()
	s.state(rec, httptest.NewRequest(http.MethodGet, "/state", nil))
	var st events.State
	if err := json.NewDecoder(io.Reader(rec.Body)).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if len(st.Forwards) != 1 || st.Forwards[0].URL != "http://127.0.0.1:18080" {
		t.Fatalf("state: %+v", st)
	}
}

// TestListenBusy: a port in use names the fixes.
func TestListenBusy(t *testing.T) {
	s, _ := testServer(t)
	_, err := Listen(s.ln.Addr().String(), events.New("", "", nil))
	if err == nil || !strings.Contains(err.Error(), "pick another port, or --web=false") {
		t.Fatalf("got %v", err)
	}
}
