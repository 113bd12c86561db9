package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// tarEntry is what a test checks about one entry of a layer read back from an archive.
type tarEntry struct {
	typ    byte
	mode   int64
	target string
	data   string
}

func (e tarEntry) String() string {
	return fmt.Sprintf("{type %q mode %#o target %q data %q}", e.typ, e.mode, e.target, e.data)
}

func readLayer(t *testing.T, l v1.Layer) (map[string]tarEntry, []string) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]tarEntry{}
	var order []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return got, order
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(Epoch) {
			t.Errorf("%s: owner %d:%d mtime %v, want 0:0 and %v", h.Name, h.Uid, h.Gid, h.ModTime, Epoch)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = tarEntry{typ: h.Typeflag, mode: h.Mode, target: h.Linkname, data: string(data)}
		order = append(order, h.Name)
	}
}

func TestBuildWriteReadBack(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "tool")
	if err := os.WriteFile(host, []byte("#!tool\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(dir, "www")
	for name, content := range map[string]string{"index.html": "hi\n", "sub/a.txt": "a\n", "testdata/x": "x\n"} {
		p := filepath.Join(tree, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("index.html", filepath.Join(tree, "home.html")); err != nil {
		t.Fatal(err)
	}

	base := NewLayer().
		Dir("/tmp", ModeSticky|0o777).
		File("/etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\n")).
		HostFile("/usr/local/bin/tool", 0o755, host).
		Symlink("/bin/tool", "../usr/local/bin/tool")
	app := NewLayer().Tree("/www", tree, TreeOptions{
		Skip: func(rel string, d fs.DirEntry) bool { return rel == "testdata" },
	})
	cfg := Config{
		Entrypoint: []string{"/bin/tool"},
		Cmd:        []string{"--serve"},
		Env:        []string{"PATH=/bin", "HOME=/tmp"},
		WorkingDir: "/www",
		User:       "1000:1000",
	}
	img, err := Build(cfg, base, app)
	if err != nil {
		t.Fatal(err)
	}
	const ref = "fastdev.local/test:dev"
	out := filepath.Join(dir, "test.tar")
	if err := WriteFile(out, ref, img); err != nil {
		t.Fatal(err)
	}

	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(out, &tag) // fails unless the archive is tagged ref
	if err != nil {
		t.Fatal(err)
	}
	cf, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture == "" {
		t.Errorf("platform %s/%s, want linux/<arch> so containerd imports it", cf.OS, cf.Architecture)
	}
	gotCfg := Config{cf.Config.Entrypoint, cf.Config.Cmd, cf.Config.Env, cf.Config.WorkingDir, cf.Config.User}
	if !reflect.DeepEqual(gotCfg, cfg) {
		t.Errorf("config %+v, want %+v", gotCfg, cfg)
	}

	layers, err := back.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 2 {
		t.Fatalf("%d layers, want 2", len(layers))
	}
	got, order := readLayer(t, layers[0])
	want := map[string]tarEntry{
		"bin/":               {typ: tar.TypeDir, mode: 0o755},
		"bin/tool":           {typ: tar.TypeSymlink, mode: 0o777, target: "../usr/local/bin/tool"},
		"etc/":               {typ: tar.TypeDir, mode: 0o755},
		"etc/passwd":         {typ: tar.TypeReg, mode: 0o644, data: "root:x:0:0:root:/root:/sbin/nologin\n"},
		"tmp/":               {typ: tar.TypeDir, mode: 0o1777},
		"usr/":               {typ: tar.TypeDir, mode: 0o755},
		"usr/local/":         {typ: tar.TypeDir, mode: 0o755},
		"usr/local/bin/":     {typ: tar.TypeDir, mode: 0o755},
		"usr/local/bin/tool": {typ: tar.TypeReg, mode: 0o755, data: "#!tool\n"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("base layer:\n got %v\nwant %v", got, want)
	}
	wantOrder := []string{"bin/", "bin/tool", "etc/", "etc/passwd", "tmp/", "usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/tool"}
	if !reflect.DeepEqual(order, wantOrder) {
		t.Errorf("base layer order %v, want parents first %v", order, wantOrder)
	}

	got, _ = readLayer(t, layers[1])
	want = map[string]tarEntry{
		"www/":           {typ: tar.TypeDir, mode: 0o755},
		"www/home.html":  {typ: tar.TypeSymlink, mode: 0o777, target: "index.html"},
		"www/index.html": {typ: tar.TypeReg, mode: 0o644, data: "hi\n"},
		"www/sub/":       {typ: tar.TypeDir, mode: 0o755},
		"www/sub/a.txt":  {typ: tar.TypeReg, mode: 0o644, data: "a\n"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tree layer (host modes 0600/0700 normalised, testdata skipped):\n got %v\nwant %v", got, want)
	}

	// Same inputs, same bytes: what makes a re-import a no-op.
	again, err := Build(cfg, base, app)
	if err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(dir, "again.tar")
	if err := WriteFile(out2, ref, again); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(out2)
	if !bytes.Equal(a, b) {
		t.Error("writing the same image twice gave different archives")
	}
}

func TestTreeFileModes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "run"), nil, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "d", "f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts TreeOptions
		want map[string]int64
	}{
		{"host exec bit decides", TreeOptions{}, map[string]int64{"c/": 0o755, "c/run": 0o755, "c/d/": 0o755, "c/d/f": 0o644}},
		{"explicit modes", TreeOptions{DirMode: ModeSticky | 0o777, FileMode: 0o666},
			map[string]int64{"c/": 0o1777, "c/run": 0o666, "c/d/": 0o1777, "c/d/f": 0o666}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewLayer().Tree("/c", dir, tt.opts).V1()
			if err != nil {
				t.Fatal(err)
			}
			got, _ := readLayer(t, l)
			modes := map[string]int64{}
			for p, e := range got {
				modes[p] = e.mode
			}
			if !reflect.DeepEqual(modes, tt.want) {
				t.Errorf("modes %v, want %v", modes, tt.want)
			}
		})
	}
}

func TestLayerErrors(t *testing.T) {
	tests := []struct {
		name  string
		layer *Layer
		want  string
	}{
		{"relative path", NewLayer().File("etc/passwd", 0o644, nil), "clean absolute path"},
		{"unclean path", NewLayer().Dir("/a/../b", 0o755), "clean absolute path"},
		{"root", NewLayer().Dir("/", 0o755), "clean absolute path"},
		{"fs.FileMode sticky bit is not a unix mode", NewLayer().Dir("/tmp", int64(fs.ModeSticky|0o777)), "not a unix mode"},
		{"missing host file", NewLayer().HostFile("/x", 0o755, "/does/not/exist"), "no such file"},
		{"host directory as file", NewLayer().HostFile("/x", 0o755, "/"), "not a regular file"},
		{"empty symlink", NewLayer().Symlink("/x", ""), "empty target"},
		{"first error wins", NewLayer().Dir("rel", 0o755).Dir("/ok", 0o7777777), "clean absolute path"},
		{"file as a parent", NewLayer().File("/a", 0o644, nil).File("/a/b", 0o644, nil), "parent /a is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(Config{}, tt.layer)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
