package archive

import (
	dlist "container/list"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// maxOpenDirs bounds the directories one Apply keeps open at once. Entries arrive sorted, so the
// directories in use are the few on the current path: 64 keeps every one of them open, while an update
// touching a whole tree (a branch switch, a first sync of 100,000 directories) does not hold a
// descriptor per directory until it ends and run the synclet out of its file limit.
const maxOpenDirs = 64

// batch holds what one Apply reuses from entry to entry: an os.Root opened on each directory written
// into, so a file's create, write, mode and rename each resolve one name instead of walking its whole
// path from the sync root again (a first sync of 10,000 files spent most of its time there), and a
// random prefix for temporary names, numbered per file. At most max directories stay open: the one
// used least recently is closed first (and opened again if a later entry needs it).
type batch struct {
	roots  []*os.Root
	dirs   map[string]*dlist.Element // by entry name of the directory; values are *openDir
	lru    *dlist.List               // front: used most recently
	max    int
	prefix string
	n      int
}

// openDir is one directory a batch holds open.
type openDir struct {
	key  string
	root *os.Root
}

func newBatch(roots []*os.Root, maxOpen int) *batch {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return &batch{roots: roots, dirs: map[string]*dlist.Element{}, lru: dlist.New(), max: max(maxOpen, 1),
		prefix: ".fastdev-" + hex.EncodeToString(b[:]) + "-"}
}

func (u *batch) close() {
	for _, el := range u.dirs {
		u.drop(el)
	}
}

// drop closes one open directory and forgets it.
func (u *batch) drop(el *dlist.Element) {
	d := el.Value.(*openDir)
	d.root.Close()
	delete(u.dirs, d.key)
	u.lru.Remove(el)
}

// dir returns directory rel of sync root i, created if missing, as an os.Root: like the sync root, it
// refuses every path that leaves it.
func (u *batch) dir(i int, rel string) (*os.Root, error) {
	if rel == "." {
		return u.roots[i], nil
	}
	key := protocol.EntryName(i, rel)
	if el, ok := u.dirs[key]; ok {
		u.lru.MoveToFront(el)
		return el.Value.(*openDir).root, nil
	}
	if err := u.roots[i].MkdirAll(rel, 0o755); err != nil {
		return nil, err
	}
	if err := ownerWritable(u.roots[i], rel); err != nil {
		return nil, err
	}
	r, err := u.roots[i].OpenRoot(rel)
	if err != nil {
		return nil, err
	}
	for len(u.dirs) >= u.max {
		u.drop(u.lru.Back())
	}
	u.dirs[key] = u.lru.PushFront(&openDir{key: key, root: r})
	return r, nil
}

// ownerWritable gives directory rel of root the owner bits it lacks (tree.DirOwnerBits), so the synclet
// can write into a directory it did not create that way: one the seed copied from the image with mode
// 0555, or one an older synclet made 0555.
func ownerWritable(root *os.Root, rel string) error {
	fi, err := root.Stat(rel)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&tree.DirOwnerBits == tree.DirOwnerBits {
		return nil // a missing path or a non-directory fails, with its own error, where it is used
	}
	return root.Chmod(rel, fi.Mode().Perm()|tree.DirOwnerBits)
}

// forget drops the opened directories at or below rel of root i, which an entry is about to replace.
func (u *batch) forget(i int, rel string) {
	key := protocol.EntryName(i, rel)
	for k, el := range u.dirs {
		if k == key || strings.HasPrefix(k, key+"/") {
			u.drop(el)
		}
	}
}

// replace creates rel's new content under a temporary name next to it with create, then renames it over
// rel (removing a directory that was there), so readers see the old or the new file, never a mix.
func (u *batch) replace(i int, rel string, create func(dir *os.Root, tmp string) error) error {
	dir, err := u.dir(i, path.Dir(rel))
	if err != nil {
		return err
	}
	u.n++
	tmp := u.prefix + strconv.Itoa(u.n) + ".tmp"
	name := path.Base(rel)
	// on failure the temporary file is removed as well as may be: the first error is the one to report,
	// and a temporary file left behind is removed by the next ScanRoot
	if err := create(dir, tmp); err != nil {
		_ = dir.Remove(tmp)
		return err
	}
	if err := dir.Rename(tmp, name); err != nil {
		// a directory is in the way (rename refuses to put a file over one): remove it and try again
		fi, lerr := dir.Lstat(name)
		if lerr != nil || !fi.IsDir() {
			_ = dir.Remove(tmp)
			return err
		}
		u.forget(i, rel)
		if err := dir.RemoveAll(name); err != nil {
			_ = dir.Remove(tmp)
			return err
		}
		if err := dir.Rename(tmp, name); err != nil {
			_ = dir.Remove(tmp)
			return err
		}
	}
	return nil
}
