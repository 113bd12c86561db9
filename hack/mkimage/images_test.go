package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const examples = "../../manifests/examples"

// file is one entry of an image's flattened filesystem.
type file struct {
	typ    byte
	mode   int64
	target string
	data   string
}

func (f file) String() string {
	return fmt.Sprintf("{type %q mode %#o target %q, %d bytes read}", f.typ, f.mode, f.target, len(f.data))
}

// readImage opens file as the docker archive of ref and returns its config and flattened filesystem.
func readImage(t *testing.T, path, ref string) (*v1.Config, map[string]file) {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatalf("%s is not an archive of %s: %v", path, ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]file{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return &cf.Config, files
		}
		if err != nil {
			t.Fatal(err)
		}
		var data []byte
		if h.Typeflag == tar.TypeReg && h.Size < 1<<16 {
			if data, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
		files["/"+strings.TrimSuffix(h.Name, "/")] = file{h.Typeflag, h.Mode, h.Linkname, string(data)}
	}
}

func staticBusybox(t *testing.T) string {
	t.Helper()
	if err := checkStatic("-busybox", "/bin/busybox"); err != nil {
		t.Skipf("needs a static /bin/busybox (apt-get install busybox-static): %v", err)
	}
	return "/bin/busybox"
}

func TestSmallImages(t *testing.T) {
	bb := staticBusybox(t)
	out := t.TempDir()
	var stdout bytes.Buffer
	o := options{out: out, only: []string{"pause", "synclet", "web-static"}, version: "v9.9.9",
		syncletBin: bb, pauseBin: bb, examples: examples, busybox: bb}
	if err := run(context.Background(), o, &stdout); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(stdout.String()), "\n"); len(lines) != 3 {
		t.Errorf("want one line per image, got %q", stdout.String())
	}
	tmp := file{typ: tar.TypeDir, mode: 0o1777}
	users := func(fs map[string]file, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(fs["/etc/passwd"].data, w) || !strings.Contains(fs["/etc/group"].data, strings.Split(w, ":")[0]+":x:") {
				t.Errorf("/etc/passwd or /etc/group lacks %q:\n%s%s", w, fs["/etc/passwd"].data, fs["/etc/group"].data)
			}
		}
	}

	t.Run("pause", func(t *testing.T) {
		cfg, fs := readImage(t, filepath.Join(out, "pause.tar"), "fastdev.local/pause:3.10")
		if got := strings.Join(cfg.Entrypoint, " "); got != "/pause" {
			t.Errorf("entrypoint %q, want /pause", got)
		}
		if f := fs["/pause"]; f.mode != 0o755 || len(fs) != 1 {
			t.Errorf("want only /pause 0755, got %v", fs)
		}
	})
	t.Run("synclet", func(t *testing.T) {
		cfg, fs := readImage(t, filepath.Join(out, "synclet.tar"), "kubectl-fastdev/synclet:v9.9.9")
		if got := strings.Join(cfg.Entrypoint, " "); got != "/synclet" {
			t.Errorf("entrypoint %q, want /synclet", got)
		}
		if f := fs["/synclet"]; f.typ != tar.TypeReg || f.mode != 0o755 {
			t.Errorf("/synclet is %+v, want a 0755 file", f)
		}
		if fs["/tmp"] != tmp {
			t.Errorf("/tmp is %+v, want %+v", fs["/tmp"], tmp)
		}
		users(fs, "root:x:0:0:", "nobody:x:65534:65534:")
		if strings.Contains(fs["/etc/passwd"].data, "app:") {
			t.Error("the synclet image has no use for the sample apps' user")
		}
		for p := range fs {
			if !map[string]bool{"/synclet": true, "/tmp": true, "/etc": true, "/etc/passwd": true, "/etc/group": true}[p] {
				t.Errorf("unexpected %s in the synclet image", p)
			}
		}
	})
	t.Run("web-static", func(t *testing.T) {
		cfg, fs := readImage(t, filepath.Join(out, "web-static.tar"), "fastdev.local/web-static:dev")
		if cfg.User != appUser {
			t.Errorf("user %q, want %q", cfg.User, appUser)
		}
		if f := fs["/bin/busybox"]; f.typ != tar.TypeReg || f.mode != 0o755 {
			t.Errorf("/bin/busybox is %+v, want a 0755 file", f)
		}
		for _, applet := range []string{"sh", "httpd", "ls", "cat", "wget"} {
			if f := fs["/bin/"+applet]; f.typ != tar.TypeSymlink || f.target != "busybox" {
				t.Errorf("/bin/%s is %+v, want a symlink to busybox", applet, f)
			}
		}
		want, err := os.ReadFile(filepath.Join(examples, "web-static", "www", "index.html"))
		if err != nil {
			t.Fatal(err)
		}
		if f := fs["/www/index.html"]; f.data != string(want) || f.mode != 0o644 {
			t.Errorf("/www/index.html is %+v, want the sample's %q", f, want)
		}
		if fs["/tmp"] != tmp {
			t.Errorf("/tmp is %+v, want %+v", fs["/tmp"], tmp)
		}
		users(fs, "root:x:0:0:", "nobody:x:65534:65534:", "app:x:1000:1000:")
	})
}

func TestRunErrors(t *testing.T) {
	bb := staticBusybox(t)
	text := filepath.Join(t.TempDir(), "text")
	if err := os.WriteFile(text, []byte("not a program"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    options
		want string
	}{
		{"no out", options{}, "-out is required"},
		{"unknown image", options{out: t.TempDir(), only: []string{"web-rust"}}, `unknown image "web-rust"`},
		{"synclet without version", options{out: t.TempDir(), only: []string{"synclet"}, syncletBin: bb}, "-version is required"},
		{"synclet without binary", options{out: t.TempDir(), only: []string{"synclet"}, version: "v1"}, "-synclet-bin is required"},
		{"pause not a program", options{out: t.TempDir(), only: []string{"pause"}, pauseBin: text}, "-pause-bin " + text},
		{"missing examples", options{out: t.TempDir(), only: []string{"web-static"}, busybox: bb, examples: "/nonexistent"}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.o, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

type dirEntry struct {
	name string
	dir  bool
}

func (d dirEntry) Name() string               { return d.name }
func (d dirEntry) IsDir() bool                { return d.dir }
func (d dirEntry) Type() fs.FileMode          { return map[bool]fs.FileMode{true: fs.ModeDir}[d.dir] }
func (d dirEntry) Info() (fs.FileInfo, error) { return nil, fs.ErrInvalid }

func TestGorootSkip(t *testing.T) {
	skip := gorootSkip("/usr/local/go/pkg/tool/linux_amd64")
	tests := []struct {
		rel  string
		dir  bool
		keep bool
	}{
		{"bin", true, true},
		{"bin/go", false, true},
		{"bin/gofmt", false, false},
		{"go.env", false, true},
		{"VERSION", false, true},
		{"doc", true, false},
		{"test", true, false},
		{"lib", true, false},
		{"pkg", true, true},
		{"pkg/include", true, true},
		{"pkg/include/textflag.h", false, true},
		{"pkg/tool", true, true},
		{"pkg/tool/linux_amd64", true, true},
		{"pkg/tool/linux_amd64/compile", false, true},
		{"pkg/tool/linux_amd64/link", false, true},
		{"pkg/tool/linux_amd64/asm", false, true},
		{"pkg/tool/linux_amd64/vet", false, true},
		{"pkg/tool/linux_amd64/cover", false, false},
		{"pkg/tool/linux_arm64", true, false},
		{"pkg/linux_amd64_race", true, false},
		{"src", true, true},
		{"src/go.mod", false, true},
		{"src/net/http/server.go", false, true},
		{"src/net/http/server_test.go", false, false},
		{"src/net/http/testdata", true, false},
		{"src/runtime/asm_amd64.s", false, true},
		{"src/runtime/race/race_linux_arm64.syso", false, false},
		{"src/vendor/golang.org/x/net/http2/hpack/hpack.go", false, true},
		{"src/cmd", true, false},
		{"src/cmdline/x.go", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			if got := !skip(tt.rel, dirEntry{filepath.Base(tt.rel), tt.dir}); got != tt.keep {
				t.Errorf("keep %s = %v, want %v", tt.rel, got, tt.keep)
			}
		})
	}
}
