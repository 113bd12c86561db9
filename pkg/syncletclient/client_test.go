package syncletclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/auth"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// serve returns a client of a server answering every request with code and body, and the last request's headers.
func serve(t *testing.T, code int, body string) (*Client, func() http.Header) {
	t.Helper()
	var mu sync.Mutex
	var seen http.Header
	c := gated(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Clone()
		mu.Unlock()
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body)) // the client's reading is under test, not this write
	}))
	t.Cleanup(c.Close)
	return c, func() http.Header { mu.Lock(); defer mu.Unlock(); return seen }
}

// gated returns a client of h behind a real auth.Gate that accepts the client's key.
func gated(t *testing.T, h http.Handler) *Client {
	t.Helper()
	key, err := auth.Generate("dev@test")
	if err != nil {
		t.Fatal(err)
	}
	gate, err := auth.NewGate(key.Public().String())
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(gate.Wrap(h))
	hs.Config.ConnContext = gate.ConnContext
	hs.Start()
	t.Cleanup(hs.Close)
	return New(strings.TrimPrefix(hs.URL, "http://"), key)
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()

	c, seen := serve(t, http.StatusUnauthorized, "bad token")
	err := c.Health(ctx, time.Second)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized || se.Msg != "bad token" {
		t.Errorf("a 401 gives %v, want a *StatusError with the reply", err)
	}
	if got := seen().Get("Authorization"); got != "" {
		t.Errorf("Authorization %q: the key is proven once per connection, nothing secret travels with requests", got)
	}
	if got := seen().Get(protocol.VersionHeader); got != protocol.Version {
		t.Errorf("%s %q, want %q", protocol.VersionHeader, got, protocol.Version)
	}

	c, _ = serve(t, http.StatusOK, "{not json")
	if _, err := c.Status(ctx); err == nil || !strings.Contains(err.Error(), "reading status") {
		t.Errorf("a malformed status gives %v", err)
	}
	if _, err := c.Manifest(ctx); err == nil || !strings.Contains(err.Error(), "reading manifest") {
		t.Errorf("a malformed manifest gives %v", err)
	}
	if err := c.Health(ctx, time.Second); err != nil {
		t.Errorf("a 200 is healthy: %v", err)
	}
}
