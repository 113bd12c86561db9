package tree

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// randomTree returns a consistent manifest (every entry's parent directory is an entry) of up to n
// paths over a small name space, so that two random trees overlap.
func randomTree(rng *rand.Rand, n int) Manifest {
	m := Manifest{}
	names := []string{"a", "b", "c", "d"}
	for range n {
		depth := 1 + rng.Intn(3)
		p := ""
		for i := range depth {
			p = path.Join(p, names[rng.Intn(len(names))])
			if i < depth-1 {
				if e, ok := m[p]; ok && e.Kind != Dir {
					break // a file already sits here
				}
				m[p] = Entry{Path: p, Kind: Dir, Mode: 0o755}
				continue
			}
			if _, ok := m[p]; ok {
				break
			}
			switch rng.Intn(4) {
			case 0:
				m[p] = Entry{Path: p, Kind: Dir, Mode: 0o755}
			case 1:
				m[p] = Entry{Path: p, Kind: Symlink, Mode: 0o777, Target: names[rng.Intn(4)]}
			default:
				m[p] = Entry{Path: p, Kind: File, Mode: 0o644, Size: int64(rng.Intn(3)), Hash: Digest{byte(rng.Intn(3))}}
			}
		}
	}
	return m
}

// compareByWalk is the reference: every entry of both trees, filtered by scope.
func compareByWalk(local, remote Manifest, only []string, keep SkipFunc) Diff {
	in := scope(only)
	var d Diff
	var del []string
	for p, l := range local {
		if r, ok := remote[p]; in(p) && (!ok || !l.Same(r)) {
			d.Put = append(d.Put, l)
		}
	}
	for p, r := range remote {
		if in(p) && removed(p, r, local, keep) && !holdsKept(p, local, remote, keep) {
			del = append(del, p)
		}
	}
	return finish(d, del)
}

// holdsKept reports a directory p the local tree lacks with a kept remote path below it, which
// therefore is not deleted.
func holdsKept(p string, local, remote Manifest, keep SkipFunc) bool {
	if _, ok := local[p]; ok || keep == nil {
		return false
	}
	for q, r := range remote {
		if _, ok := local[q]; !ok && strings.HasPrefix(q, p+"/") && keep(q, r.Kind == Dir) {
			return true
		}
	}
	return false
}

// TestCompareSparesKeptPaths: a directory gone locally is not deleted in the pod while it holds a kept
// path; its other content is deleted path by path.
func TestCompareSparesKeptPaths(t *testing.T) {
	local := Manifest{"src": {Path: "src", Kind: Dir, Mode: 0o755}}
	remote := Manifest{
		"src":                {Path: "src", Kind: Dir, Mode: 0o755},
		"data":               {Path: "data", Kind: Dir, Mode: 0o755},
		"data/uploads":       {Path: "data/uploads", Kind: Dir, Mode: 0o755},
		"data/uploads/a.png": {Path: "data/uploads/a.png", Kind: File, Mode: 0o644},
		"data/old.txt":       {Path: "data/old.txt", Kind: File, Mode: 0o644},
		"tmp":                {Path: "tmp", Kind: Dir, Mode: 0o755},
		"tmp/x":              {Path: "tmp/x", Kind: File, Mode: 0o644},
	}
	keep := func(rel string, _ bool) bool { return strings.HasPrefix(rel, "data/uploads/") }
	for _, only := range [][]string{nil, {"data"}, {"data", "tmp"}} {
		got := Compare(local, remote, only, keep)
		want := []string{"data/old.txt", "tmp"}
		if len(only) == 1 {
			want = want[:1]
		}
		if !reflect.DeepEqual(got.Delete, want) || len(got.Put) != 0 {
			t.Errorf("only %v: deletes %v, puts %v; want deletes %v", only, got.Delete, got.Put, want)
		}
	}
}

// TestCompareOnlyMatchesWalk checks the per-path comparison of an edit batch against a walk of both
// whole trees, on random trees and batches, with and without kept remote paths.
func TestCompareOnlyMatchesWalk(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	keep := func(rel string, _ bool) bool { return strings.HasSuffix(rel, "c") }
	for i := range 20000 {
		local, remote := randomTree(rng, 1+rng.Intn(12)), randomTree(rng, 1+rng.Intn(12))
		var only []string
		for range 1 + rng.Intn(3) {
			all := append(local.Paths(), remote.Paths()...)
			all = append(all, "b/x", "d")
			only = append(only, all[rng.Intn(len(all))])
		}
		k := keep
		if i%2 == 0 {
			k = nil
		}
		got, want := Compare(local, remote, only, k), compareByWalk(local, remote, only, k)
		if !reflect.DeepEqual(norm(got), norm(want)) {
			t.Fatalf("case %d: only %v\nlocal %v\nremote %v\ngot  %+v\nwant %+v", i, only, local.Paths(), remote.Paths(), got, want)
		}
	}
}

func norm(d Diff) Diff {
	if d.Put == nil {
		d.Put = []Entry{}
	}
	if d.Delete == nil {
		d.Delete = []string{}
	}
	return d
}

// TestApplyMirrorsRemote: applying a diff to the remote manifest gives the local one (no keep).
func TestApplyMirrorsRemote(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for i := range 5000 {
		local, remote := randomTree(rng, 1+rng.Intn(12)), randomTree(rng, 1+rng.Intn(12))
		remote.Apply(Compare(local, remote, nil, nil))
		if !reflect.DeepEqual(remote, local) {
			t.Fatalf("case %d: after Apply\n got %v\nwant %v", i, remote.Paths(), local.Paths())
		}
	}
}

// TestRescanMatchesScan changes a real directory at random and checks that rescanning only the changed
// paths gives the manifest a full scan gives.
func TestRescanMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	root := t.TempDir()
	m, err := Scan(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"a", "b", "c"}
	for i := range 400 {
		rel := names[rng.Intn(3)]
		for range rng.Intn(3) {
			rel = path.Join(rel, names[rng.Intn(3)])
		}
		p := filepath.Join(root, filepath.FromSlash(rel))
		changed := rel
		if throughLink(root, rel) {
			continue // writing through a link would change another path than rel
		}
		// a random change may be impossible (a directory where a file sits on the path, a write
		// through a dangling link): it then changes less or nothing, which the rescan must see too,
		// so its error is no failure
		switch rng.Intn(4) {
		case 0:
			_ = os.RemoveAll(p)
		case 1:
			_ = os.MkdirAll(p, 0o755)
		case 2:
			if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
				_ = errors.Join(os.RemoveAll(p), os.WriteFile(p, []byte(fmt.Sprint(i)), 0o644))
			}
		case 3:
			if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
				_ = errors.Join(os.RemoveAll(p), os.Symlink("a", p))
			}
		}
		// a parent that had to be created (or replaced a file) changed too: report the top-most one
		for dir := path.Dir(rel); dir != "."; dir = path.Dir(dir) {
			if e, ok := m[dir]; !ok || e.Kind != Dir {
				changed = dir
			}
		}
		if err := Rescan(root, nil, m, []string{changed}); err != nil {
			t.Fatal(err)
		}
		want, err := Scan(root, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m, want) {
			got := m.Paths()
			sort.Strings(got)
			t.Fatalf("step %d (%s): rescan %v, scan %v", i, changed, got, want.Paths())
		}
	}
}

func throughLink(root, rel string) bool {
	for dir := path.Dir(rel); dir != "."; dir = path.Dir(dir) {
		if fi, err := os.Lstat(filepath.Join(root, dir)); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return true
		}
	}
	return false
}

// BenchmarkCompareOneEdit is one edited file in a 100,000-entry tree: the comparison each pod makes per edit.
func BenchmarkCompareOneEdit(b *testing.B) {
	local := Manifest{}
	for d := range 1000 {
		dir := fmt.Sprintf("pkg%04d", d)
		local[dir] = Entry{Path: dir, Kind: Dir, Mode: 0o755}
		for f := range 100 {
			p := fmt.Sprintf("%s/file%04d.txt", dir, f)
			local[p] = Entry{Path: p, Kind: File, Mode: 0o644, Size: 10, Hash: Digest{1}}
		}
	}
	remote := local.Clone()
	e := local["pkg0500/file0050.txt"]
	e.Hash = Digest{2}
	local[e.Path] = e
	b.ResetTimer()
	for range b.N {
		if d := Compare(local, remote, []string{e.Path}, nil); len(d.Put) != 1 {
			b.Fatal(d)
		}
	}
}

// TestFilterDrop: entries Drop refuses are left out of a scan and of a rescan alike, a dropped directory
// is not walked, and Drop sees entries with their link targets.
func TestFilterDrop(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"keep", "gone/sub"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"keep/a.txt", "gone/sub/b.txt"} {
		if err := os.WriteFile(filepath.Join(root, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"in": "keep/a.txt", "out": "../elsewhere", "keep/abs": "/etc"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	var dropped []string
	f := Filter{Drop: func(e Entry) bool {
		drop := e.Path == "gone" || (e.Kind == Symlink && !LinkStaysInside(e.Path, e.Target))
		if drop {
			dropped = append(dropped, e.Path)
		}
		return drop
	}}
	m, err := f.Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"in", "keep", "keep/a.txt"}
	if got := m.Paths(); !reflect.DeepEqual(got, want) {
		t.Errorf("scan kept %v, want %v", got, want)
	}
	sort.Strings(dropped)
	if want := []string{"gone", "keep/abs", "out"}; !reflect.DeepEqual(dropped, want) {
		t.Errorf("dropped %v, want %v", dropped, want)
	}
	if m["keep/a.txt"].Hash == (Digest{}) {
		t.Error("a kept file was not hashed")
	}

	// the link out becomes a link in: a rescan of it keeps it; a rescan of the dropped tree keeps dropping it
	if err := os.Remove(filepath.Join(root, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("keep", filepath.Join(root, "out")); err != nil {
		t.Fatal(err)
	}
	dropped = nil
	if err := f.Rescan(root, m, []string{"out", "gone", "keep"}); err != nil {
		t.Fatal(err)
	}
	want = []string{"in", "keep", "keep/a.txt", "out"}
	if got := m.Paths(); !reflect.DeepEqual(got, want) {
		t.Errorf("rescan kept %v, want %v", got, want)
	}
	sort.Strings(dropped)
	if want := []string{"gone", "keep/abs"}; !reflect.DeepEqual(dropped, want) {
		t.Errorf("rescan dropped %v, want %v", dropped, want)
	}
}
