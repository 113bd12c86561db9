package archive

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// ent is one tar entry of a hand-made update stream.
type ent struct {
	hdr  tar.Header
	body string
}

func file(name, body string, mode int64) ent {
	return ent{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(body))}, body: body}
}

func dir(name string, mode int64) ent {
	return ent{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: mode}}
}

func symlink(name, target string) ent {
	return ent{hdr: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}}
}

// stream builds an update: meta (marshalled unless it is already a []byte) as the first entry, then ents.
func stream(t testing.TB, meta any, ents ...ent) []byte {
	t.Helper()
	raw, ok := meta.([]byte)
	if !ok {
		var err error
		if raw, err = json.Marshal(meta); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	all := append([]ent{{hdr: tar.Header{Name: protocol.MetaEntry, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(raw))}, body: string(raw)}}, ents...)
	for _, e := range all {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("writing header %q: %v", h.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sandbox is a directory holding the sync roots and, beside them, a directory with a canary file
// that nothing applied to the roots may touch.
type sandbox struct {
	base, outside string
	roots         []string
	before        string
}

const canary = "the developer's secret\n"

func newSandbox(t testing.TB, roots int) *sandbox {
	t.Helper()
	s := &sandbox{base: t.TempDir()}
	s.outside = filepath.Join(s.base, "outside")
	if err := os.Mkdir(s.outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.outside, "canary"), []byte(canary), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range roots {
		r := filepath.Join(s.base, "root"+string(rune('0'+i)))
		if err := os.Mkdir(r, 0o755); err != nil {
			t.Fatal(err)
		}
		s.roots = append(s.roots, r)
	}
	s.before = s.outsideState(t)
	// an update may leave a directory without write or search permission: give them back so that
	// t.TempDir can remove the sandbox when the tests do not run as root
	t.Cleanup(func() {
		_ = filepath.WalkDir(s.base, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	return s
}

// applier opens the sandbox's roots; it is closed when the test ends.
func (s *sandbox) applier(t testing.TB, limits Limits) *Applier {
	t.Helper()
	a, err := NewApplier(s.roots, limits)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// outsideState describes everything in the sandbox except what is inside the roots: names, types,
// modes and contents. The roots' own mode is part of it: no entry may chmod a root.
func (s *sandbox) outsideState(t testing.TB) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(s.base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.base, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		line := rel + " " + fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += " " + string(b)
		}
		lines = append(lines, line)
		for _, r := range s.roots {
			if p == r {
				return filepath.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// checkOutside fails the test if anything outside the roots changed.
func (s *sandbox) checkOutside(t testing.TB) {
	t.Helper()
	if now := s.outsideState(t); now != s.before {
		t.Fatalf("something outside the sync roots changed:\nbefore:\n%s\nafter:\n%s", s.before, now)
	}
}

// checkLinks fails the test if a symlink inside a root resolves to a path outside it.
func (s *sandbox) checkLinks(t testing.TB) {
	t.Helper()
	for _, r := range s.roots {
		if p, target := escapingLink(t, r); p != "" {
			t.Fatalf("symlink %s resolves to %s, outside its root %s", p, target, r)
		}
	}
}

// escapingLink returns a symlink under root that resolves outside it, and where it resolves to.
func escapingLink(t testing.TB, root string) (string, string) {
	t.Helper()
	var bad, where string
	root, err := filepath.EvalSymlinks(root)
	if err != nil {
		t.Fatal(err)
	}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || bad != "" || d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil // dangling or a loop: the kernel cannot follow it anywhere
		}
		if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
			bad, where = p, real
		}
		return nil
	})
	return bad, where
}

// tempFiles lists the temporary files an interrupted write could leave in a root.
func tempFiles(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && isTemp(d.Name()) {
			out = append(out, p)
		}
		return nil
	})
	return out
}
