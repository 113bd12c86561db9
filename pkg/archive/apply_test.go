package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// localTree writes a developer's tree with every kind of entry the synclet keeps, and returns its manifest.
func localTree(t *testing.T) (string, tree.Manifest) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]struct {
		body string
		mode fs.FileMode
	}{
		"index.html":           {"<h1>v1</h1>\n", 0o644},
		"sub dir/ünïcode.txt":  {"ü\n", 0o600},
		"bin/run.sh":           {"#!/bin/sh\necho ran\n", 0o755},
		"bin/zero":             {"", 0o644},
		"deep/a/b/c/d/leaf.go": {"package d\n", 0o644},
	}
	for p, f := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(f.body), f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "private"), 0o700); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"latest": "sub dir/ünïcode.txt", "bin/home": "../index.html", "dangling": "not-yet"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	m, err := tree.Scan(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return dir, m
}

func putsFor(dir string, m tree.Manifest) []Put {
	var puts []Put
	for _, p := range m.Paths() {
		puts = append(puts, Put{Root: 0, Local: filepath.Join(dir, filepath.FromSlash(p)), Entry: m[p]})
	}
	return puts
}

func sameTree(t *testing.T, got, want tree.Manifest) {
	t.Helper()
	for p, w := range want {
		if g, ok := got[p]; !ok || !g.Same(w) {
			t.Errorf("%s: pod has %+v, want %+v", p, got[p], w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: in the pod, not in the local tree", p)
		}
	}
}

// TestWriteApplyRoundTrip: what Write sends, Apply lands exactly (contents, modes, directories, links),
// and deletions in a later update remove what they name.
func TestWriteApplyRoundTrip(t *testing.T) {
	local, m := localTree(t)
	s := newSandbox(t, 1)
	a := s.applier(t, DefaultLimits)
	var b bytes.Buffer
	sent, err := Write(&b, protocol.UpdateMeta{ID: "1"}, putsFor(local, m))
	if err != nil || len(sent) != len(m) {
		t.Fatalf("Write sent %d of %d entries: %v", len(sent), len(m), err)
	}
	meta, st, err := a.Apply(&b)
	if err != nil {
		t.Fatal(err)
	}
	if meta.ID != "1" || st.Files != 5 || st.Links != 3 || st.Dirs != 8 {
		t.Errorf("meta %+v, stats %+v", meta, st)
	}
	got, err := a.ScanRoot(0)
	if err != nil {
		t.Fatal(err)
	}
	sameTree(t, got, m)

	// edit one file, delete a directory and a link
	if err := os.WriteFile(filepath.Join(local, "index.html"), []byte("<h1>v2</h1>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(local, "deep")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(local, "latest")); err != nil {
		t.Fatal(err)
	}
	m2, err := tree.Scan(local, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if _, err := Write(&b, protocol.UpdateMeta{Deletes: []string{"0/deep", "0/latest"}}, []Put{{Root: 0, Local: filepath.Join(local, "index.html"), Entry: m2["index.html"]}}); err != nil {
		t.Fatal(err)
	}
	if _, st, err = a.Apply(&b); err != nil || st.Deletes != 2 || st.Files != 1 {
		t.Fatalf("second update: %+v, %v", st, err)
	}
	if got, err = a.ScanRoot(0); err != nil {
		t.Fatal(err)
	}
	sameTree(t, got, m2)
	s.checkOutside(t)
	s.checkLinks(t)
}

// TestApplyRefuses: every entry that could land outside a root, or is not a file, directory or symlink,
// is refused, and nothing outside the roots changes. Its length is the table's: one row per refusal.
func TestApplyRefuses(t *testing.T) {
	type setup func(t *testing.T, root string)
	appLink := func(name, target string) setup { // a link the app (not the synclet) made in the tree
		return func(t *testing.T, root string) {
			if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name  string
		setup setup
		meta  protocol.UpdateMeta
		ents  []ent
		want  string
	}{
		{name: "dot-dot", ents: []ent{file("0/../outside/canary", "pwned", 0o644)}, want: "escapes its sync root"},
		{name: "dot-dot below a directory", ents: []ent{file("0/a/../../outside/x", "pwned", 0o644)}, want: "escapes its sync root"},
		{name: "absolute name", ents: []ent{file("/outside/canary", "pwned", 0o644)}, want: "unknown sync root"},
		{name: "absolute below a root", ents: []ent{file("0//outside/x", "pwned", 0o644)}, want: "escapes its sync root"},
		{name: "the root itself", ents: []ent{dir("0/.", 0)}, want: "escapes its sync root"},
		{name: "root that does not exist", ents: []ent{file("1/x", "x", 0o644)}, want: `unknown sync root "1"`},
		{name: "symlink to an absolute path", ents: []ent{symlink("0/etc", "/etc")}, want: "points outside its sync root"},
		{name: "symlink to the parent", ents: []ent{symlink("0/up", "..")}, want: "points outside its sync root"},
		{name: "symlink out from a subdirectory", ents: []ent{dir("0/a/", 0o755), symlink("0/a/l", "../../outside/canary")}, want: "points outside its sync root"},
		{name: "symlink down and back up through a link", ents: []ent{symlink("0/x", "."), symlink("0/l", "x/..")}, want: `has ".." after a name`},
		{name: "symlink inside a symlinked directory", ents: []ent{symlink("0/d", "."), symlink("0/d/l", "..")}, want: "d is a symlink in the pod"},
		{name: "file in a symlinked directory pointing out", setup: appLink("out", "../outside"), ents: []ent{file("0/out/pwned", "x", 0o644)}, want: "out is a symlink in the pod"},
		{name: "directory in a symlinked directory pointing out", setup: appLink("out", "../outside"), ents: []ent{dir("0/out/sub/", 0o777)}, want: "out is a symlink in the pod"},
		{name: "delete through a symlinked directory pointing out", setup: appLink("out", "../outside"), meta: protocol.UpdateMeta{Deletes: []string{"0/out/canary"}}, want: "path escapes from parent"},
		{name: "delete with dot-dot", meta: protocol.UpdateMeta{Deletes: []string{"0/../outside"}}, want: "escapes its sync root"},
		{name: "delete the root", meta: protocol.UpdateMeta{Deletes: []string{"0/."}}, want: "escapes its sync root"},
		{name: "hardlink out", ents: []ent{{hdr: tar.Header{Name: "0/h", Typeflag: tar.TypeLink, Linkname: "../outside/canary"}}}, want: "not allowed"},
		{name: "hardlink inside", ents: []ent{file("0/a", "a", 0o644), {hdr: tar.Header{Name: "0/h", Typeflag: tar.TypeLink, Linkname: "0/a"}}}, want: "not allowed"},
		{name: "character device", ents: []ent{{hdr: tar.Header{Name: "0/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}}}, want: "not allowed"},
		{name: "block device", ents: []ent{{hdr: tar.Header{Name: "0/sda", Typeflag: tar.TypeBlock, Devmajor: 8, Mode: 0o660}}}, want: "not allowed"},
		{name: "fifo", ents: []ent{{hdr: tar.Header{Name: "0/fifo", Typeflag: tar.TypeFifo, Mode: 0o644}}}, want: "not allowed"},
		{name: "sparse file", ents: []ent{{hdr: tar.Header{Name: "0/sparse", Typeflag: tar.TypeGNUSparse, Format: tar.FormatGNU}}}, want: "not allowed"},
		{name: "step without a command", meta: protocol.UpdateMeta{Steps: []protocol.Step{{Display: "make"}}}, ents: []ent{file("0/x", "x", 0o644)}, want: "has no command"},
		{name: "unknown restart", meta: protocol.UpdateMeta{Restart: "reboot"}, ents: []ent{file("0/x", "x", 0o644)}, want: `restart "reboot"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSandbox(t, 1)
			if c.setup != nil {
				c.setup(t, s.roots[0])
			}
			s.before = s.outsideState(t)
			a := s.applier(t, DefaultLimits)
			_, _, err := a.Apply(bytes.NewReader(stream(t, c.meta, c.ents...)))
			s.checkOutside(t)
			if c.setup == nil {
				s.checkLinks(t)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if tmp := tempFiles(t, s.roots[0]); len(tmp) > 0 {
				t.Errorf("temporary files left behind: %v", tmp)
			}
			if strings.Contains(c.want, "no command") || strings.Contains(c.want, "restart") {
				if names := list(t, s.roots[0]); len(names) > 0 {
					t.Errorf("bad metadata, yet files were written: %v", names)
				}
			}
		})
	}
}

// TestRootRefusesLinkedParent proves the last line of defence on its own: even if a link to the outside
// appears in a parent after the checks (the app can make one at any time), os.Root refuses every
// operation the applier performs through it.
func TestRootRefusesLinkedParent(t *testing.T) {
	s := newSandbox(t, 1)
	if err := os.Symlink("../outside", filepath.Join(s.roots[0], "out")); err != nil {
		t.Fatal(err)
	}
	s.before = s.outsideState(t)
	a := s.applier(t, DefaultLimits)
	r := a.Root(0)
	u := newBatch(a.roots, maxOpenDirs)
	defer u.close()
	ops := map[string]func() error{
		"replace a file": func() error {
			return u.replace(0, "out/canary", func(dir *os.Root, tmp string) error {
				f, err := dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if err == nil {
					f.Close()
				}
				return err
			})
		},
		"make a link": func() error {
			return u.replace(0, "out/l", func(dir *os.Root, tmp string) error { return dir.Symlink("x", tmp) })
		},
		"mkdir":         func() error { return r.MkdirAll("out/sub", 0o755) },
		"chmod":         func() error { return r.Chmod("out/canary", 0o777) },
		"remove":        func() error { return r.RemoveAll("out/canary") },
		"lstat":         func() error { _, err := r.Lstat("out/canary"); return err },
		"rename out":    func() error { return r.Rename("out/canary", "stolen") },
		"open for read": func() error { f, err := r.Open("out/canary"); f.Close(); return err },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			err := op()
			if err == nil || !strings.Contains(err.Error(), "path escapes from parent") {
				t.Fatalf("error %v, want os.Root's refusal", err)
			}
			s.checkOutside(t)
		})
	}
}

// TestApplyReplacesLinksNotTargets: a file, directory or deletion at the path of a link pointing out
// acts on the link, never on what it points to.
func TestApplyReplacesLinksNotTargets(t *testing.T) {
	cases := []struct {
		name string
		meta protocol.UpdateMeta
		ents []ent
		want fs.FileMode // type of "out" afterwards; 0: gone
	}{
		{"file over the link", protocol.UpdateMeta{}, []ent{file("0/out", "mine\n", 0o644)}, 0o644},
		{"directory over the link", protocol.UpdateMeta{}, []ent{dir("0/out/", 0o755)}, fs.ModeDir | 0o755},
		{"link over the link", protocol.UpdateMeta{}, []ent{symlink("0/out", "elsewhere")}, fs.ModeSymlink | 0o777},
		{"delete the link", protocol.UpdateMeta{Deletes: []string{"0/out"}}, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSandbox(t, 1)
			if err := os.Symlink("../outside/canary", filepath.Join(s.roots[0], "out")); err != nil {
				t.Fatal(err)
			}
			s.before = s.outsideState(t)
			a := s.applier(t, DefaultLimits)
			if _, _, err := a.Apply(bytes.NewReader(stream(t, c.meta, c.ents...))); err != nil {
				t.Fatal(err)
			}
			s.checkOutside(t)
			s.checkLinks(t)
			fi, err := os.Lstat(filepath.Join(s.roots[0], "out"))
			switch {
			case c.want == 0 && !errors.Is(err, fs.ErrNotExist):
				t.Fatalf("link still there: %v", err)
			case c.want != 0 && (err != nil || fi.Mode() != c.want):
				t.Fatalf("out is %v (%v), want %v", fi.Mode(), err, c.want)
			}
		})
	}
}

func TestNewApplierRefusesSlash(t *testing.T) {
	for _, d := range []string{"/", "//", "/.", "/../", "/tmp/.."} {
		if a, err := NewApplier([]string{t.TempDir(), d}, DefaultLimits); err == nil || !strings.Contains(err.Error(), "refusing / as a sync root") {
			if a != nil {
				a.Close()
			}
			t.Errorf("%q: %v", d, err)
		}
	}
	if _, err := NewApplier([]string{filepath.Join(t.TempDir(), "missing")}, DefaultLimits); err == nil || !strings.Contains(err.Error(), "opening sync root") {
		t.Errorf("missing root: %v", err)
	}
}

func TestClimbsAfterName(t *testing.T) {
	for target, want := range map[string]bool{
		"x": false, "./x": false, "../x": false, "../../a/b": false, "x/": false, "a/./b": false,
		"x/..": true, "x/../y": true, "../a/../b": true, "./x/..": true, "a//../b": true,
	} {
		if got := tree.ClimbsAfterName(target); got != want {
			t.Errorf("ClimbsAfterName(%q) = %v, want %v", target, got, want)
		}
	}
}

// list returns the names at the top of dir, sorted.
func list(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}
