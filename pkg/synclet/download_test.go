//go:build unix

package synclet

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
)

// TestServeFile: the file endpoint serves regular files inside the root and nothing else.
func TestServeFile(t *testing.T) {
	p := newPod(t, archive.Limits{})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(p.root, "gen"), 0o755))
	must(os.WriteFile(filepath.Join(p.root, "gen", "x.txt"), []byte("made in the pod\n"), 0o644))
	must(os.Symlink("../outside/canary", filepath.Join(p.root, "out")))
	must(os.Symlink("gen/x.txt", filepath.Join(p.root, "in")))
	must(syscall.Mkfifo(filepath.Join(p.root, "fifo"), 0o644))
	big, err := os.Create(filepath.Join(p.root, "big"))
	must(err)
	must(big.Truncate(protocol.MaxDownload + 1)) // sparse: costs no disk
	must(big.Close())
	c := p.client(devKey)
	defer c.Close()
	ctx := context.Background()
	b, err := c.File(ctx, 0, "gen/x.txt")
	if err != nil || string(b) != "made in the pod\n" {
		t.Fatalf("File(gen/x.txt) = %q, %v", b, err)
	}
	for rel, code := range map[string]int{
		"gone.txt":          http.StatusGone,
		"big":               http.StatusRequestEntityTooLarge,
		"gen":               http.StatusConflict,
		"fifo":              http.StatusConflict, // never opened: it would block
		"out":               http.StatusConflict, // a link, not followed
		"in":                http.StatusConflict,
		"../outside/canary": http.StatusBadRequest,
		"/etc/passwd":       http.StatusBadRequest,
		"gen/../gen/x.txt":  http.StatusBadRequest,
		"":                  http.StatusBadRequest,
	} {
		_, err := c.File(ctx, 0, rel)
		var se *syncletclient.StatusError
		if !errors.As(err, &se) || se.Code != code {
			t.Errorf("File(%q) = %v, want status %d", rel, err, code)
		}
	}
	if _, err := c.File(ctx, 1, "gen/x.txt"); err == nil || !strings.Contains(err.Error(), "unknown sync root") {
		t.Errorf("File in root 1 = %v, want unknown sync root", err)
	}
	if _, err := c.File(ctx, 0, "gen/x.txt"); err != nil {
		t.Fatal(err)
	}
	// an unauthenticated client is refused like on every endpoint
	req, err := http.NewRequest(http.MethodGet, p.http.URL+protocol.PathFile+"?root=0&path=gen/x.txt", nil)
	must(err)
	req.Header.Set(protocol.VersionHeader, protocol.Version)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("file without a key: status %d, want 401", resp.StatusCode)
	}
	p.checkOutside(t)
}

// TestFileFromOlderSynclet: a synclet without the endpoint (the mux's 404) is ErrNoDownload.
func TestFileFromOlderSynclet(t *testing.T) {
	srv := newPod(t, archive.Limits{})
	srv.http.Config.Handler = srv.srv.auth(http.NewServeMux())
	c := srv.client(devKey)
	defer c.Close()
	if _, err := c.File(context.Background(), 0, "x"); !errors.Is(err, syncletclient.ErrNoDownload) {
		t.Fatalf("File = %v, want ErrNoDownload", err)
	}
}
