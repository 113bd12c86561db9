package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// errChanged is a local file that is no longer the regular file the scan found (replaced by a link,
// or moved under a link, meanwhile). It wraps fs.ErrNotExist: Write leaves the file out, like one that
// vanished, and the next scan applies the symlink policy to what is there now.
var errChanged = fmt.Errorf("changed into or under a symlink since it was scanned: %w", fs.ErrNotExist)

// opener opens the local files of one update, each inside the sync root it was scanned under
// (os.Root: every component opened without following a link out of it), and checks that what it
// opened is the regular file now at that path, not something a link swapped in between the scan and
// the send points to.
type opener struct {
	roots map[string]*os.Root
}

func (o *opener) close() {
	for _, r := range o.roots {
		// read-only handles: closing one reports nothing worth acting on
		_ = r.Close()
	}
}

// open opens p's local file for reading.
func (o *opener) open(p Put) (*os.File, error) {
	rel := filepath.FromSlash(p.Entry.Path)
	dir, ok := strings.CutSuffix(p.Local, string(filepath.Separator)+rel)
	if !ok || rel == "" || !filepath.IsLocal(rel) {
		// not laid out as a root and a path under it: open it alone, refusing a link at its name
		f, err := os.Open(p.Local)
		if err != nil {
			return nil, err
		}
		return same(f, func() (fs.FileInfo, error) { return os.Lstat(p.Local) })
	}
	r, err := o.root(dir)
	if err != nil {
		return nil, err
	}
	f, err := r.Open(rel)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && throughLink(r, rel) {
			return nil, errChanged
		}
		return nil, err
	}
	return same(f, func() (fs.FileInfo, error) { return r.Lstat(rel) })
}

func (o *opener) root(dir string) (*os.Root, error) {
	if r, ok := o.roots[dir]; ok {
		return r, nil
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the sync directory %s: %w", dir, err)
	}
	if o.roots == nil {
		o.roots = map[string]*os.Root{}
	}
	o.roots[dir] = r
	return r, nil
}

// same returns f if it is the regular file lstat finds at its path now; otherwise it closes f and
// returns errChanged.
func same(f *os.File, lstat func() (fs.FileInfo, error)) (*os.File, error) {
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close() // the Stat error is the one to report
		return nil, err
	}
	lfi, err := lstat()
	if err != nil || !lfi.Mode().IsRegular() || !os.SameFile(fi, lfi) {
		_ = f.Close() // read-only: nothing to flush
		return nil, errChanged
	}
	return f, nil
}

// throughLink reports whether rel, or a directory on the way to it, is now a symlink under r.
func throughLink(r *os.Root, rel string) bool {
	p := ""
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		p = filepath.Join(p, part)
		fi, err := r.Lstat(p)
		if err != nil {
			return false
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return true
		}
	}
	return false
}
