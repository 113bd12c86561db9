package main

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestWebGoWarmCache builds the web-go image, unpacks it, edits the sample and runs the in-pod build
// step inside it, chrooted as the non-root app user with the image's environment, the way the pod
// runs it: the cache is warm only if the sample's own package is the one thing compiled.
func TestWebGoWarmCache(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the web-go image, which compiles part of the standard library on the host (about a minute)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root, to chroot into the unpacked image")
	}
	for _, c := range []string{"unshare", "chroot", "mount"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("needs %s: %v", c, err)
		}
	}
	out := t.TempDir()
	var stdout bytes.Buffer
	if err := run(context.Background(), options{out: out, only: []string{"web-go"}, examples: examples}, &stdout); err != nil {
		t.Fatal(err)
	}
	t.Log(strings.TrimSpace(stdout.String()))

	root := t.TempDir()
	env := unpack(t, filepath.Join(out, "web-go.tar"), "fastdev.local/web-go:dev", root)
	mainGo := filepath.Join(root, "app", "src", "main.go")
	src, err := os.ReadFile(mainGo)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), `const message = "`, `const message = "edited `, 1)
	if edited == string(src) {
		t.Fatal("the sample's main.go has no `const message = \"...` to edit")
	}
	if err := os.WriteFile(mainGo, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}

	// A private mount namespace gives the chroot /proc (the go command finds GOROOT through
	// /proc/self/exe) and /dev, and takes both away when it exits.
	script := `mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" &&
		exec chroot --userspec=1000:1000 "$1" go -C /app/src build -v -o /app/bin/server .`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", root)
	cmd.Env = env
	start := time.Now()
	output, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("in-image go build: %v\n%s", err, output)
	}
	if got := strings.TrimSpace(string(output)); got != "example.com/web-go" {
		t.Errorf("in-image build compiled:\n%s\nwant only example.com/web-go: the image's build cache is not warm", got)
	}
	t.Logf("in-image go build after an edit, as uid 1000: %v", took.Round(10*time.Millisecond))
	bin, err := os.ReadFile(filepath.Join(root, "app", "bin", "server"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(bin, []byte("edited hello")) {
		t.Error("/app/bin/server was not replaced by the edited build")
	}
}

// unpack extracts the flattened filesystem of the archive's image into root, keeping modes, and
// returns the image's environment.
func unpack(t *testing.T, archive, ref, root string) []string {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, filepath.FromSlash(h.Name))
		// Extract lists the top layer first, so a directory may arrive after its contents.
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, p)
		case tar.TypeReg:
			var f *os.File
			if f, err = os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
				_, err = io.Copy(f, tr)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
		default:
			t.Fatalf("%s: unexpected tar type %c", h.Name, h.Typeflag)
		}
		if err == nil && h.Typeflag != tar.TypeSymlink {
			err = os.Chmod(p, unixMode(h.Mode))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"proc", "dev"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The image's / is 0755; t.TempDir's 0700 would lock the app user out of everything.
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return cf.Config.Env
}

func unixMode(m int64) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}
