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
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
)

// TestNewServerRefuses: the synclet will not listen beyond loopback, serve without a token, or take / as
// a sync root.
func TestNewServerRefuses(t *testing.T) {
	root := t.TempDir()
	ok := ServerConfig{Listen: "127.0.0.1:17220", Roots: []string{root}, To: []string{"/app"}, Token: token, Log: log.New(io.Discard, "", 0)}
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
		{"no token", func(c *ServerConfig) { c.Token = "" }, "FASTDEV_TOKEN"},
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

// TestServerAuth: every request but the health check needs the injection token (401), then the
// protocol version (409), before any handler runs. Its length is the table's: one row per rule.
func TestServerAuth(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	update := func() io.Reader {
		var b bytes.Buffer
		if _, err := archive.Write(&b, protocol.UpdateMeta{}, nil); err != nil {
			t.Fatal(err)
		}
		return &b
	}
	cases := []struct {
		name, method, path, auth, version string
		body                              func() io.Reader
		code                              int
		want                              string
	}{
		{"health needs nothing", "GET", protocol.PathHealth, "", "", nil, 200, "ok"},
		{"manifest without token", "GET", protocol.PathManifest, "", protocol.Version, nil, 401, "missing or wrong injection token"},
		{"status without token", "GET", protocol.PathStatus, "", protocol.Version, nil, 401, "injection token"},
		{"update without token", "POST", protocol.PathUpdate, "", protocol.Version, update, 401, "injection token"},
		{"wrong token", "GET", protocol.PathManifest, "Bearer nope", protocol.Version, nil, 401, "injection token"},
		{"token with a suffix", "GET", protocol.PathManifest, "Bearer " + token + "x", protocol.Version, nil, 401, "injection token"},
		{"token prefix", "GET", protocol.PathManifest, "Bearer " + token[:10], protocol.Version, nil, 401, "injection token"},
		{"token without Bearer", "GET", protocol.PathManifest, token, protocol.Version, nil, 401, "injection token"},
		{"basic auth", "GET", protocol.PathManifest, "Basic " + token, protocol.Version, nil, 401, "injection token"},
		{"wrong token and version", "GET", protocol.PathManifest, "Bearer nope", "0", nil, 401, "injection token"},
		{"no version", "GET", protocol.PathManifest, "Bearer " + token, "", nil, 409, "run `kubectl fastdev up` again"},
		{"other version", "POST", protocol.PathUpdate, "Bearer " + token, "2", update, 409, `protocol version "2", this synclet speaks "1"`},
		{"path around the health check", "GET", protocol.PathHealth + "/../manifest", "", protocol.Version, nil, 401, "injection token"},
		{"health with a suffix", "GET", protocol.PathHealth + "x", "", protocol.Version, nil, 401, "injection token"},
		{"right token and version", "GET", protocol.PathManifest, "Bearer " + token, protocol.Version, nil, 200, `"roots"`},
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
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
			resp, err := hc.Do(req)
			if err != nil {
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

// TestClientReportsRefusalCode: the client reports a refusal with its code, so the CLI can tell a stale
// token apart.
func TestClientReportsRefusalCode(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	_, err := p.client("stale-token").Manifest(context.Background())
	var se *syncletclient.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
		t.Fatalf("client with a wrong token: %v", err)
	}
}
