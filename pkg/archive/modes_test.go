package archive

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// TestApplyKeepsDirectoriesWritable: a local directory of mode 0555 lands writable for its owner (the
// synclet), a later file inside it lands, and the pod's manifest compares equal to the local tree, so
// nothing is resent on the next comparison.
func TestApplyKeepsDirectoriesWritable(t *testing.T) {
	local := t.TempDir()
	ro := filepath.Join(local, "ro")
	if err := os.Mkdir(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ro, "a.txt"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(ro, 0o755) }) // so the temporary directory can be removed
	s := newSandbox(t, 1)
	a := s.applier(t, DefaultLimits)
	m := applyAll(t, a, local, nil)
	pod, err := a.ScanRoot(0)
	if err != nil {
		t.Fatal(err)
	}
	if got := pod["ro"].Mode; got != 0o755 {
		t.Errorf("pod's ro has mode %v, want 0755 (0555 plus the owner's bits)", got)
	}
	if d := tree.Compare(m, pod, nil, nil); !d.Empty() {
		t.Errorf("after the update the pod differs from the local tree: %+v", d)
	}

	// a later update puts a file into the directory without sending the directory again
	if err := os.Chmod(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ro, "b.txt"), []byte("b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	applyAll(t, a, local, []string{"ro/b.txt"})
	if b, err := os.ReadFile(filepath.Join(s.roots[0], "ro", "b.txt")); err != nil || string(b) != "b\n" {
		t.Fatalf("ro/b.txt in the pod: %q, %v", b, err)
	}
}

// TestApplyIntoReadOnlyDirectoryOfThePod: a directory the pod already holds as 0555 (the seed copied it
// from the image) is made writable for its owner when an update writes or deletes inside it.
func TestApplyIntoReadOnlyDirectoryOfThePod(t *testing.T) {
	s := newSandbox(t, 1)
	a := s.applier(t, DefaultLimits)
	seeded := filepath.Join(s.roots[0], "seeded")
	if err := os.Mkdir(seeded, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(seeded, "old.txt"), []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(seeded, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(seeded, 0o755) })
	b := stream(t, protocol.UpdateMeta{Deletes: []string{"0/seeded/old.txt"}}, file("0/seeded/new.txt", "new\n", 0o644))
	if _, _, err := a.Apply(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(seeded)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("seeded has mode %v, want 0755", fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(seeded, "old.txt")); !os.IsNotExist(err) {
		t.Errorf("old.txt was not deleted: %v", err)
	}
}

// TestSameIgnoresDirectoryOwnerBits: directories compare without the owner's bits, files with all of theirs.
func TestSameIgnoresDirectoryOwnerBits(t *testing.T) {
	d := tree.Entry{Path: "d", Kind: tree.Dir, Mode: 0o555}
	if !d.Same(tree.Entry{Path: "d", Kind: tree.Dir, Mode: 0o755}) {
		t.Error("a 0555 directory differs from the pod's 0755")
	}
	if d.Same(tree.Entry{Path: "d", Kind: tree.Dir, Mode: 0o775}) {
		t.Error("group bits are not compared")
	}
	f := tree.Entry{Path: "f", Kind: tree.File, Mode: 0o444}
	if f.Same(tree.Entry{Path: "f", Kind: tree.File, Mode: 0o644}) {
		t.Error("a file's owner bits are not compared")
	}
}

// applyAll sends local's entries (only those named, when only is non-nil) as one update and returns
// the local manifest.
func applyAll(t *testing.T, a *Applier, local string, only []string) tree.Manifest {
	t.Helper()
	m, err := tree.Scan(local, nil)
	if err != nil {
		t.Fatal(err)
	}
	var puts []Put
	for _, p := range m.Paths() {
		if only != nil && !contains(only, p) {
			continue
		}
		puts = append(puts, Put{Root: 0, Local: filepath.Join(local, filepath.FromSlash(p)), Entry: m[p]})
	}
	var b bytes.Buffer
	if _, err := Write(&b, protocol.UpdateMeta{ID: "1"}, puts); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Apply(&b); err != nil {
		t.Fatalf("applying %d entries: %v", len(puts), err)
	}
	return m
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestWriteUnknownModes: where the local system does not know modes (Windows), a file is sent with
// the planned mode (the pod's, tree.SendMode), not the one the file system reports; elsewhere with
// its own.
func TestWriteUnknownModes(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "run.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := tree.Stat(p, "run.sh")
	if err != nil {
		t.Fatal(err)
	}
	e.Mode = 0o755 // as planned for a pod holding an executable run.sh
	defer func(k bool) { modesKnown = k }(modesKnown)
	for _, known := range []bool{false, true} {
		modesKnown = known
		var b bytes.Buffer
		if _, err := Write(&b, protocol.UpdateMeta{}, []Put{{Local: p, Entry: e}}); err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(&b)
		var mode int64 = -1
		for {
			hdr, err := tr.Next()
			if err != nil {
				break
			}
			if strings.HasSuffix(hdr.Name, "run.sh") {
				mode = hdr.Mode
			}
		}
		if want := map[bool]int64{false: 0o755, true: 0o644}[known]; mode != want {
			t.Errorf("modes known %v: sent mode %o, want %o", known, mode, want)
		}
	}
}
