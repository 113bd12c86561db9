package synclet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/auth"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
)

// TestNewServerRefuses: the synclet will not listen beyond loopback, serve without keys, or take / as
// a sync root.
func TestNewServerRefuses(t *testing.T) {
	root := t.TempDir()
	ok := ServerConfig{Listen: "127.0.0.1:17220", Roots: []string{root}, To: []string{"/app"}, Keys: devKey.Public().String(), Log: log.New(io.Discard, "", 0)}
	cases := []struct {
		name string
		edit func(*ServerConfig)
		want string
	}{
		{"every interface", func(c *ServerConfig) { c.Listen = "0.0.0.0:17220" }, "loopback only"},
		{"empty host", func(c *ServerConfig) { c.Listen = ":17220" }, "loopback only"},
		{"IPv6 any", func(c *ServerConfig) { c.Listen = "[::]:17220" }, "loopback only"},
		{"pod address", func(c *ServerConfig) { c.Listen = "10.244.0.7:17220" }, "loopback only"},
		{"host name", func(c *ServerConfig) { c.Listen = "localhost:17220" }, "loopback only"}, // a name may resolve anywhere
		{"no port", func(c *ServerConfig) { c.Listen = "127.0.0.1" }, "--listen"},
		{"no keys", func(c *ServerConfig) { c.Keys = "" }, "FASTDEV_AUTHORIZED_KEYS"},
		{"a token, not a key", func(c *ServerConfig) { c.Keys = "0123456789abcdef" }, "FASTDEV_AUTHORIZED_KEYS"},
		{"slash as root", func(c *ServerConfig) { c.Roots = []string{"/"} }, "refusing / as a sync root"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.edit(&cfg)
			if _, err := NewServer(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	for _, addr := range []string{"127.0.0.1:17220", "127.0.0.2:1", "[::1]:17220"} {
		cfg := ok
		cfg.Listen = addr
		if _, err := NewServer(cfg); err != nil {
			t.Errorf("%s refused: %v", addr, err)
		}
	}
}

// TestServerAuth: every request but the health check needs the protocol version (409), then a
// connection that proved an authorized key (401), before any handler runs; nothing a request carries
// (a public key as a bearer token, a header) stands in for the proof. One row per rule.
func TestServerAuth(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	update := func() io.Reader {
		var b bytes.Buffer
		if _, err := archive.Write(&b, protocol.UpdateMeta{}, nil); err != nil {
			t.Fatal(err)
		}
		return &b
	}
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	other := &http.Client{Transport: &http.Transport{DialContext: auth.Dialer(mustKey("eve@elsewhere"), nil)}}
	pub := devKey.Public().String()
	cases := []struct {
		name       string
		hc         *http.Client
		method     string
		path, auth string
		version    string
		body       func() io.Reader
		code       int
		want       string
	}{
		{"health needs nothing", plain, "GET", protocol.PathHealth, "", "", nil, 200, "ok"},
		{"manifest unproven", plain, "GET", protocol.PathManifest, "", protocol.Version, nil, 401, "proven no key"},
		{"status unproven", plain, "GET", protocol.PathStatus, "", protocol.Version, nil, 401, "proven no key"},
		{"update unproven", plain, "POST", protocol.PathUpdate, "", protocol.Version, update, 401, "proven no key"},
		{"run unproven", plain, "POST", protocol.PathRun, "", protocol.Version, update, 401, "proven no key"},
		{"public key as a token", plain, "GET", protocol.PathManifest, "Bearer " + pub, protocol.Version, nil, 401, "proven no key"},
		{"proof without a challenge", plain, "POST", protocol.PathAuth, "", protocol.Version, func() io.Reader { return strings.NewReader(`{"key":"` + pub + `","signature":"AAAA"}`) }, 401, "no challenge"},
		{"no version", plain, "GET", protocol.PathManifest, "", "", nil, 409, "run `kubectl fastdev up` again"},
		{"old version", plain, "POST", protocol.PathUpdate, "Bearer x", "1", update, 409, `protocol version "1", this synclet speaks "2"`},
		{"path around the health check", plain, "GET", protocol.PathHealth + "/../manifest", "", protocol.Version, nil, 401, "proven no key"},
		{"health with a suffix", plain, "GET", protocol.PathHealth + "x", "", protocol.Version, nil, 401, "proven no key"},
		{"another key", other, "GET", protocol.PathManifest, "", protocol.Version, nil, 401, "is not authorized in this pod"},
		{"another key, update", other, "POST", protocol.PathUpdate, "", protocol.Version, update, 401, "is not authorized in this pod"},
		{"the developer's key", authed, "GET", protocol.PathManifest, "", protocol.Version, nil, 200, `"roots"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader
			if c.body != nil {
				body = c.body()
			}
			req, err := http.NewRequest(c.method, p.http.URL+c.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			if c.version != "" {
				req.Header.Set(protocol.VersionHeader, c.version)
			}
			resp, err := c.hc.Do(req)
			var refused *auth.RefusedError
			if errors.As(err, &refused) {
				resp = &http.Response{StatusCode: refused.Code, Body: io.NopCloser(strings.NewReader(refused.Msg))}
			} else if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.code || !strings.Contains(string(b), c.want) {
				t.Fatalf("%d %q, want %d with %q", resp.StatusCode, b, c.code, c.want)
			}
			p.srv.statusMu.Lock()
			st := p.srv.status
			p.srv.statusMu.Unlock()
			if st.Updates != 0 {
				t.Fatalf("a refused request reached the update handler: %+v", st)
			}
		})
	}
}

// TestClientReportsRefusalCode: the client reports a refused key with its code, so the CLI can tell
// a pod injected without this machine's key apart.
func TestClientReportsRefusalCode(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	_, err := p.client(mustKey("eve@elsewhere")).Manifest(context.Background())
	var se *syncletclient.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized || !strings.Contains(se.Msg, "eve@elsewhere") {
		t.Fatalf("client with another key: %v", err)
	}
}
