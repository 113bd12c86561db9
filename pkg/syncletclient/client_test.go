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

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// serve returns a client of a server answering every request with code and body, and the last request's headers.
func serve(t *testing.T, code int, body string) (*Client, func() http.Header) {
	t.Helper()
	var mu sync.Mutex
	var seen http.Header
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Clone()
		mu.Unlock()
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body)) // the client's reading is under test, not this write
	}))
	t.Cleanup(hs.Close)
	c := New(strings.TrimPrefix(hs.URL, "http://"), "tok")
	t.Cleanup(c.Close)
	return c, func() http.Header { mu.Lock(); defer mu.Unlock(); return seen }
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()

	c, seen := serve(t, http.StatusUnauthorized, "bad token")
	err := c.Health(ctx, time.Second)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized || se.Msg != "bad token" {
		t.Errorf("a 401 gives %v, want a *StatusError with the reply", err)
	}
	if got := seen().Get("Authorization"); got != "Bearer tok" {
		t.Errorf("Authorization %q", got)
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
