//go:build unix

package synclet

import (
	"context"
	"crypto/sha256"
	"errors"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
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
	if _, err := c.Changed(context.Background(), 0); !errors.Is(err, syncletclient.ErrNoDownload) {
		t.Fatalf("Changed = %v, want ErrNoDownload", err)
	}
}

// TestChanged: only what changed after the moment is listed, also a file whose mtime a tool set back
// (cp -p, tar), and without since nothing but the synclet's clock.
func TestChanged(t *testing.T) {
	p := newPod(t, archive.Limits{})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(p.root, "old"), 0o755))
	must(os.WriteFile(filepath.Join(p.root, "old/a.txt"), []byte("before"), 0o644))
	c := p.client(devKey)
	defer c.Close()
	ctx := context.Background()
	first, err := c.Changed(ctx, -1)
	must(err)
	if first.Now == 0 || len(first.Roots) != 0 {
		t.Fatalf("Changed without since = %+v, want only Now", first)
	}
	time.Sleep(20 * time.Millisecond) // past the file system's clock tick
	must(os.MkdirAll(filepath.Join(p.root, "gen"), 0o755))
	must(os.WriteFile(filepath.Join(p.root, "gen/x.txt"), []byte("after"), 0o600))
	must(os.WriteFile(filepath.Join(p.root, "copied.txt"), []byte("kept its date"), 0o644))
	long := time.Now().Add(-48 * time.Hour)
	must(os.Chtimes(filepath.Join(p.root, "copied.txt"), long, long))
	must(os.Symlink("gen/x.txt", filepath.Join(p.root, "link")))
	got, err := c.Changed(ctx, first.Now)
	must(err)
	if got.Now <= first.Now || len(got.Roots) != 1 {
		t.Fatalf("Changed = %+v", got)
	}
	var paths []string
	for _, e := range got.Roots[0].Entries {
		paths = append(paths, e.Path)
		if e.Path == "gen/x.txt" && (e.Kind != tree.File || e.Mode != 0o600 || e.Hash != tree.Digest(sha256.Sum256([]byte("after")))) {
			t.Errorf("gen/x.txt listed as %+v", e)
		}
	}
	slices.Sort(paths)
	if want := []string{"copied.txt", "gen", "gen/x.txt"}; !slices.Equal(paths, want) {
		t.Errorf("changed paths %q, want %q (not the older ones, not the link)", paths, want)
	}
	if _, err := c.Changed(ctx, math.MaxInt64); err != nil {
		t.Errorf("Changed in the future: %v", err)
	}
	req, err := http.NewRequest(http.MethodGet, p.http.URL+protocol.PathChanged+"?since=yesterday", nil)
	must(err)
	req.Header.Set(protocol.VersionHeader, protocol.Version)
	resp, err := authed.Do(req)
	must(err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("since=yesterday: status %d, want 400", resp.StatusCode)
	}
}
