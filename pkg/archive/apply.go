package archive

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// Limits bound what one update may contain, so a malformed or hostile stream cannot fill the pod.
type Limits struct {
	MaxFileSize int64 // largest single file
	MaxTotal    int64 // all file content of one update
	MaxEntries  int   // entries of one update
}

// DefaultLimits fit any source tree a developer syncs, while refusing runaway streams.
var DefaultLimits = Limits{MaxFileSize: 2 << 30, MaxTotal: 8 << 30, MaxEntries: 1 << 20}

// maxMeta bounds the metadata entry (a deletion list of a whole large tree fits easily).
const maxMeta = 64 << 20

// Stats count what an update changed.
type Stats struct {
	Files, Dirs, Links, Deletes int
	Bytes                       int64
}

// Applier writes updates under a fixed set of sync roots.
type Applier struct {
	roots  []*os.Root
	limits Limits
}

// NewApplier opens the sync root directories; "/" is refused as a root.
func NewApplier(dirs []string, limits Limits) (*Applier, error) {
	a := &Applier{limits: limits}
	for _, d := range dirs {
		if path.Clean(d) == "/" {
			return nil, errors.New("refusing / as a sync root")
		}
		r, err := os.OpenRoot(d)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("opening sync root: %w", err)
		}
		a.roots = append(a.roots, r)
	}
	return a, nil
}

// Close releases the roots.
func (a *Applier) Close() {
	for _, r := range a.roots {
		r.Close()
	}
}

// Root returns sync root i, for reading manifests.
func (a *Applier) Root(i int) *os.Root { return a.roots[i] }

// Apply reads an update stream: the metadata entry first, then removes its deletions, then writes each
// entry. Every file is written to a temporary name and renamed into place, so the app never reads a
// half-written file. It stops at the first error; what was applied before stays applied, and the CLI's
// next manifest comparison repairs the rest.
func (a *Applier) Apply(r io.Reader) (protocol.UpdateMeta, Stats, error) {
	var meta protocol.UpdateMeta
	var st Stats
	tr := tar.NewReader(r)
	hdr, err := tr.Next()
	if err != nil {
		return meta, st, fmt.Errorf("reading update: %w", err)
	}
	if hdr.Name != protocol.MetaEntry {
		return meta, st, fmt.Errorf("malformed update: first entry is %q, want %s", hdr.Name, protocol.MetaEntry)
	}
	if hdr.Size > maxMeta {
		return meta, st, fmt.Errorf("malformed update: metadata of %d bytes is over the %d byte limit", hdr.Size, maxMeta)
	}
	if err := json.NewDecoder(io.LimitReader(tr, maxMeta)).Decode(&meta); err != nil {
		return meta, st, fmt.Errorf("malformed update metadata: %w", err)
	}
	if err := meta.Validate(); err != nil {
		return meta, st, fmt.Errorf("malformed update metadata: %w", err)
	}
	for _, name := range meta.Deletes {
		i, rel, err := protocol.SplitEntryName(name, len(a.roots))
		if err != nil {
			return meta, st, err
		}
		if err := ownerWritable(a.roots[i], path.Dir(rel)); err != nil {
			return meta, st, fmt.Errorf("deleting %s: %w", name, err)
		}
		if err := a.roots[i].RemoveAll(rel); err != nil {
			return meta, st, fmt.Errorf("deleting %s: %w", name, err)
		}
		st.Deletes++
	}
	checked := map[string]bool{} // entry names of directories seen to be real (not links) in this update
	u := newBatch(a.roots, maxOpenDirs)
	defer u.close()
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return meta, st, nil
		}
		if err != nil {
			return meta, st, fmt.Errorf("malformed update: %w", err)
		}
		if n >= a.limits.MaxEntries {
			return meta, st, fmt.Errorf("update has more than %d entries", a.limits.MaxEntries)
		}
		i, rel, err := protocol.SplitEntryName(hdr.Name, len(a.roots))
		if err != nil {
			return meta, st, err
		}
		if err := realParents(a.roots[i], i, rel, checked); err != nil {
			return meta, st, fmt.Errorf("writing %s: %w", hdr.Name, err)
		}
		if err := a.entry(u, i, rel, hdr, tr, &st); err != nil {
			return meta, st, fmt.Errorf("writing %s: %w", hdr.Name, err)
		}
		if hdr.Typeflag == tar.TypeSymlink {
			clear(checked) // the link may have replaced a directory seen before
		}
	}
}

// realParents refuses an entry below a symlink. The CLI only sends entries below real directories (a
// scan does not descend into links), and a symlink's target is checked against where the link lexically
// is, which is where it really is only when none of its parents is a link: "d -> ." then "d/l -> .."
// would otherwise leave a link to the root's parent. os.Root still keeps every write itself inside the
// root. checked caches the directories already checked, by entry name.
func realParents(root *os.Root, i int, rel string, checked map[string]bool) error {
	var dirs []string
	for d := path.Dir(rel); d != "."; d = path.Dir(d) {
		dirs = append(dirs, d)
	}
	for j := len(dirs) - 1; j >= 0; j-- {
		d := dirs[j]
		if checked[protocol.EntryName(i, d)] {
			continue
		}
		fi, err := root.Lstat(d)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // created below as real directories
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symlink in the pod: entries are written only below real directories (the next sync replaces it)", d)
		}
		checked[protocol.EntryName(i, d)] = true
	}
	return nil
}

func (a *Applier) entry(u *batch, i int, rel string, hdr *tar.Header, r io.Reader, st *Stats) error {
	root := a.roots[i]
	mode := fs.FileMode(hdr.Mode).Perm()
	switch hdr.Typeflag {
	case tar.TypeDir:
		if fi, err := root.Lstat(rel); err == nil && !fi.IsDir() {
			u.forget(i, rel)
			if err := root.Remove(rel); err != nil {
				return err
			}
		}
		if err := root.MkdirAll(rel, 0o755); err != nil {
			return err
		}
		st.Dirs++
		return root.Chmod(rel, mode|tree.DirOwnerBits)
	case tar.TypeReg:
		if hdr.Size < 0 || hdr.Size > a.limits.MaxFileSize {
			return fmt.Errorf("file of %d bytes is over the %d byte limit", hdr.Size, a.limits.MaxFileSize)
		}
		if st.Bytes+hdr.Size > a.limits.MaxTotal {
			return fmt.Errorf("update is over the %d byte limit", a.limits.MaxTotal)
		}
		st.Files++
		st.Bytes += hdr.Size
		return u.replace(i, rel, func(dir *os.Root, tmp string) error {
			f, err := dir.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			if _, err := io.CopyN(f, r, hdr.Size); err != nil {
				f.Close()
				return err
			}
			if err := f.Chmod(mode); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		})
	case tar.TypeSymlink:
		if tree.ClimbsAfterName(hdr.Linkname) {
			return fmt.Errorf("symlink to %q has \"..\" after a name, which can resolve outside its sync root: point it at its target without going down and back up", hdr.Linkname)
		}
		if !tree.LinkStaysInside(rel, hdr.Linkname) {
			return fmt.Errorf("symlink to %q points outside its sync root", hdr.Linkname)
		}
		st.Links++
		return u.replace(i, rel, func(dir *os.Root, tmp string) error { return dir.Symlink(hdr.Linkname, tmp) })
	default:
		return fmt.Errorf("entry type %q is not allowed (only files, directories and symlinks)", hdr.Typeflag)
	}
}

// ScanRoot returns the manifest of sync root i as the synclet sees it.
// Temporary files left by an update that was cut off (the synclet killed mid-write) are removed: no
// update runs while a manifest is read, so every temporary file seen then is stale.
func (a *Applier) ScanRoot(i int) (tree.Manifest, error) {
	var stale []string
	m, err := tree.Scan(a.roots[i].Name(), func(rel string, isDir bool) bool {
		if !isDir && isTemp(rel) {
			stale = append(stale, rel)
			return true
		}
		return false
	})
	for _, rel := range stale {
		// best effort: a file that cannot be removed stays out of the manifest and is tried again next time
		_ = a.roots[i].Remove(rel)
	}
	return m, err
}

func isTemp(rel string) bool {
	b := path.Base(rel)
	return len(b) > 13 && b[:9] == ".fastdev-" && b[len(b)-4:] == ".tmp"
}
