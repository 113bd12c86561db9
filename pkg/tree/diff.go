package tree

import (
	"path"
	"slices"
	"sort"
	"strings"
)

// Diff is what must change on a remote tree to make it equal to a local one.
type Diff struct {
	// Put are the local entries to create or replace remotely, parents before children.
	Put []Entry
	// Delete are remote paths to remove; a removed directory is listed alone, not its content.
	Delete []string
}

// Empty reports whether the trees are already equal.
func (d Diff) Empty() bool { return len(d.Put) == 0 && len(d.Delete) == 0 }

// Compare returns the changes that turn remote into local. When only is non-nil, just those paths (and
// what lies below them) are compared, which is how an edit batch avoids comparing the whole tree.
// keep tells which remote-only paths must survive (for example ignored files the image provides).
func Compare(local, remote Manifest, only []string, keep SkipFunc) Diff {
	if only != nil {
		if cands, ok := candidates(local, remote, only); ok {
			return compareEntries(local, remote, cands, keep)
		}
	}
	var d Diff
	inScope := func(string) bool { return true }
	if only != nil {
		inScope = scope(only)
	}
	for p, l := range local {
		if !inScope(p) {
			continue
		}
		if r, ok := remote[p]; !ok || !l.Same(r) {
			d.Put = append(d.Put, l)
		}
	}
	var del []string
	for p, r := range remote {
		if !inScope(p) {
			continue
		}
		if removed(p, r, local, keep) {
			del = append(del, p)
		}
	}
	return finish(d, spare(del, local, remote, keep))
}

// removed reports whether the remote entry r at p goes: it is gone locally (and not kept), or it is a
// directory where the local tree has something else, or the other way round.
func removed(p string, r Entry, local Manifest, keep SkipFunc) bool {
	l, ok := local[p]
	if ok && (l.Kind == Dir) == (r.Kind == Dir) {
		return false
	}
	return ok || keep == nil || !keep(p, r.Kind == Dir)
}

// spare takes out of del the directories the local tree lacks that hold a kept remote path (at any
// depth): deleting one would delete what keep says must survive. What else they hold is still deleted
// path by path when it is in del. The walk over remote it needs is made only when del has a directory,
// which an edit batch rarely has.
func spare(del []string, local, remote Manifest, keep SkipFunc) []string {
	if keep == nil || !slices.ContainsFunc(del, func(p string) bool { return remote[p].Kind == Dir }) {
		return del
	}
	held := map[string]bool{} // directories with a kept path below them
	for q, r := range remote {
		if _, ok := local[q]; ok || !keep(q, r.Kind == Dir) {
			continue
		}
		for dir := path.Dir(q); dir != "." && !held[dir]; dir = path.Dir(dir) {
			held[dir] = true
		}
	}
	out := del[:0]
	for _, p := range del {
		if _, ok := local[p]; ok || !held[p] {
			out = append(out, p)
		}
	}
	return out
}

func finish(d Diff, del []string) Diff {
	sort.Slice(d.Put, func(i, j int) bool { return d.Put[i].Path < d.Put[j].Path })
	sort.Strings(del)
	// a directory's removal covers its content: list only the top-most removed paths
	for _, p := range del {
		if n := len(d.Delete); n > 0 && strings.HasPrefix(p, d.Delete[n-1]+"/") {
			continue
		}
		d.Delete = append(d.Delete, p)
	}
	return d
}

// candidates returns every path a comparison limited to only can involve - the paths themselves and
// their parents - when none of them is a directory on either side, so nothing can lie below them.
// An edit batch of a few files is then compared in time proportional to its size, not to the tree's
// (a walk over a 100,000-entry manifest per pod and per edit cost tens of milliseconds). It returns
// false when a directory is involved: only a walk finds what is below it.
func candidates(local, remote Manifest, only []string) (map[string]bool, bool) {
	out := make(map[string]bool, 2*len(only))
	for _, p := range only {
		p = path.Clean(p)
		if p == "." || local[p].Kind == Dir || remote[p].Kind == Dir {
			return nil, false
		}
		out[p] = true
		for dir := path.Dir(p); dir != "." && !out[dir]; dir = path.Dir(dir) {
			out[dir] = true
		}
	}
	return out, true
}

func compareEntries(local, remote Manifest, cands map[string]bool, keep SkipFunc) Diff {
	var d Diff
	var del []string
	for p := range cands {
		l, lok := local[p]
		r, rok := remote[p]
		if lok && (!rok || !l.Same(r)) {
			d.Put = append(d.Put, l)
		}
		if rok && removed(p, r, local, keep) {
			del = append(del, p)
		}
	}
	return finish(d, spare(del, local, remote, keep))
}

// scope returns a predicate true for the given paths, what lies below them, and their parent directories
// (a changed file's parent may be new too).
func scope(paths []string) func(string) bool {
	exact := map[string]bool{}
	var prefixes []string
	for _, p := range paths {
		p = path.Clean(p)
		if p == "." {
			return func(string) bool { return true }
		}
		exact[p] = true
		prefixes = append(prefixes, p+"/")
		for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
			exact[dir] = true
		}
	}
	return func(p string) bool {
		if exact[p] {
			return true
		}
		for _, pre := range prefixes {
			if strings.HasPrefix(p, pre) {
				return true
			}
		}
		return false
	}
}

// Apply records in m that d was applied, so that m mirrors the remote tree afterwards.
func (m Manifest) Apply(d Diff) {
	for _, p := range d.Delete {
		if m[p].Kind != Dir {
			delete(m, p) // nothing can be below it
			continue
		}
		prefix := p + "/"
		for q := range m {
			if q == p || strings.HasPrefix(q, prefix) {
				delete(m, q)
			}
		}
	}
	for _, e := range d.Put {
		if old, ok := m[e.Path]; ok && old.Kind == Dir && e.Kind != Dir {
			prefix := e.Path + "/"
			for q := range m {
				if strings.HasPrefix(q, prefix) {
					delete(m, q)
				}
			}
		}
		m[e.Path] = e
	}
}

// Clone returns a copy of m.
func (m Manifest) Clone() Manifest {
	out := make(Manifest, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
