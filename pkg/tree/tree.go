// Package tree describes a file tree as a manifest of entries (path, kind, mode, size, hash) so that
// the CLI's local tree and the synclet's in-pod tree can be compared and only the difference sent.
package tree

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// Kind is the type of a tree entry.
type Kind string

// The entry kinds a tree keeps. Other file types (devices, sockets, fifos) are skipped.
const (
	File    Kind = "file"
	Dir     Kind = "dir"
	Symlink Kind = "symlink"
)

// Entry is one path of a tree. Path is slash-separated and relative to the tree's root.
type Entry struct {
	Path   string      `json:"path"`
	Kind   Kind        `json:"kind"`
	Mode   fs.FileMode `json:"mode"`             // permission bits only
	Size   int64       `json:"size,omitempty"`   // files only
	Hash   Digest      `json:"hash,omitzero"`    // sha256 of the content, files only (hex on the wire)
	Target string      `json:"target,omitempty"` // symlinks only
}

// Digest is a sha256 sum. It is kept as 32 bytes rather than 64 hex characters: two manifests of a
// 100,000-file tree (the local one and each pod's) are a large part of what an idle `up` holds.
type Digest [sha256.Size]byte

// String returns the digest in hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// MarshalText writes the digest in hex, as the wire format has it.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a hex digest.
func (d *Digest) UnmarshalText(b []byte) error {
	if hex.DecodedLen(len(b)) != len(d) {
		return fmt.Errorf("hash %q: want %d hex digits", b, 2*len(d))
	}
	_, err := hex.Decode(d[:], b)
	return err
}

// Same reports whether two entries describe the same content, so that nothing needs to be sent.
// A directory's owner bits are left out (see DirOwnerBits): the pod keeps them set whatever the local
// mode, so comparing them would resend such a directory forever; so is a mode the local system does
// not know (ModeUnknown).
func (e Entry) Same(o Entry) bool {
	em, om := e.Mode, o.Mode
	if e.Kind == Dir {
		em, om = em|DirOwnerBits, om|DirOwnerBits
	}
	if e.Kind != Symlink && (e.Mode == ModeUnknown || o.Mode == ModeUnknown) {
		em, om = 0, 0 // the local system does not know it (ModeUnknown): the pod's is kept
	}
	return e.Kind == o.Kind && em == om && e.Size == o.Size && e.Hash == o.Hash && e.Target == o.Target
}

// DirOwnerBits are the mode bits the synclet adds to every directory it creates, changes or writes
// into (read, write and search for its owner): a local directory of mode 0555 made 0555 in the pod
// would lock the synclet, which runs as that owner, out of it (every later write inside would fail).
const DirOwnerBits fs.FileMode = 0o700

// Manifest is a tree: every entry by its path.
type Manifest map[string]Entry

// Paths returns the manifest's paths in lexical order, so that a directory comes before what it holds.
func (m Manifest) Paths() []string {
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// SkipFunc tells a scan to leave out a path (and, for a directory, everything under it).
type SkipFunc func(rel string, isDir bool) bool

// Filter is what a scan leaves out: Skip by path, before anything is read (a skipped directory is not
// walked), and Drop by the entry read, for what a path cannot tell (a symlink whose target leaves the
// tree). Drop sees a file's entry before its content is hashed; a dropped directory is not walked.
// Either may be nil.
type Filter struct {
	Skip SkipFunc
	Drop func(e Entry) bool
}

// Scan walks root and returns its manifest; skip may be nil.
func Scan(root string, skip SkipFunc) (Manifest, error) {
	return Filter{Skip: skip}.Scan(root)
}

// Scan walks root and returns its manifest without what f leaves out.
func (f Filter) Scan(root string) (Manifest, error) {
	m := Manifest{}
	err := f.scanInto(root, "", m)
	return m, err
}

// Rescan brings m up to date for the given paths (and everything under them) after they changed on disk:
// entries that vanished are removed, new or changed ones are re-read. It returns nothing but an error
// that stops the whole rescan; a path that disappears mid-scan is simply gone.
func Rescan(root string, skip SkipFunc, m Manifest, rels []string) error {
	return Filter{Skip: skip}.Rescan(root, m, rels)
}

// Rescan is the package's Rescan, leaving out what f leaves out.
func (f Filter) Rescan(root string, m Manifest, rels []string) error {
	for _, rel := range rels {
		rel = path.Clean(rel)
		if rel == "." || rel == "" {
			for p := range m {
				delete(m, p)
			}
			if err := f.scanInto(root, "", m); err != nil {
				return err
			}
			continue
		}
		// drop the path and everything that was below it, then read what is there now; only a
		// directory can have entries below it, so a file's edit does not walk the whole manifest
		if m[rel].Kind == Dir {
			prefix := rel + "/"
			for p := range m {
				if strings.HasPrefix(p, prefix) {
					delete(m, p)
				}
			}
		}
		delete(m, rel)
		if hasSkippedParent(rel, f.Skip) {
			continue
		}
		if err := f.scanInto(root, rel, m); err != nil {
			return err
		}
	}
	return nil
}

func hasSkippedParent(rel string, skip SkipFunc) bool {
	if skip == nil {
		return false
	}
	for dir := path.Dir(rel); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if skip(dir, true) {
			return true
		}
	}
	return false
}

// scanInto adds rel (relative to root, "" for root itself) and what is below it to m. The walk reads
// directories and links; file contents are hashed afterwards by one worker per CPU, since hashing is
// most of a first scan's time (a 10,000-file, 100 MB tree).
func (f Filter) scanInto(root, rel string, m Manifest) error {
	start := filepath.Join(root, filepath.FromSlash(rel))
	var files []Entry
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked: the next event batch covers it
			}
			return err
		}
		r, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		r = filepath.ToSlash(r)
		if r == "." {
			return nil
		}
		if f.Skip != nil && f.Skip(r, d.IsDir()) {
			return skipEntry(d)
		}
		e, err := stat(p, r)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if e.Kind != "" && f.Drop != nil && f.Drop(e) {
			return skipEntry(d)
		}
		switch e.Kind {
		case "":
		case File:
			files = append(files, e)
		default:
			m[r] = e
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return hashAll(root, files, m)
}

// skipEntry is what a walk returns to leave d out: a directory is not entered.
func skipEntry(d fs.DirEntry) error {
	if d.IsDir() {
		return filepath.SkipDir
	}
	return nil
}

// hashAll hashes the files' contents and adds them to m; a file gone meanwhile is left out.
func hashAll(root string, files []Entry, m Manifest) error {
	workers := min(runtime.GOMAXPROCS(0), 8, (len(files)+15)/16)
	if workers <= 1 {
		for _, e := range files {
			if err := hashEntry(root, &e); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return err
			}
			m[e.Path] = e
		}
		return nil
	}
	jobs := make(chan int)
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				errs[i] = hashEntry(root, &files[i])
			}
		}()
	}
	for i := range files {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for i, e := range files {
		switch err := errs[i]; {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return err
		default:
			m[e.Path] = e
		}
	}
	return nil
}

func hashEntry(root string, e *Entry) error {
	h, err := HashFile(filepath.Join(root, filepath.FromSlash(e.Path)))
	e.Hash = h
	return err
}

// Stat reads one entry from disk: p is its file path, rel its manifest path. A file type the tree does
// not keep (socket, device, fifo) returns an Entry with an empty Kind.
func Stat(p, rel string) (Entry, error) {
	e, err := stat(p, rel)
	if err != nil || e.Kind != File {
		return e, err
	}
	if e.Hash, err = HashFile(p); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// stat is Stat without hashing a file's content.
func stat(p, rel string) (Entry, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Path: rel, Mode: LocalMode(fi.Mode(), runtime.GOOS)}
	switch {
	case fi.Mode().IsRegular():
		e.Kind, e.Size = File, fi.Size()
	case fi.IsDir():
		e.Kind = Dir
	case fi.Mode()&fs.ModeSymlink != 0:
		e.Kind, e.Mode = Symlink, 0o777
		t, err := os.Readlink(p)
		if err != nil {
			return Entry{}, err
		}
		e.Target = t
	}
	return e, nil
}

// HashFile returns the sha256 of a file's content.
func HashFile(p string) (Digest, error) {
	var d Digest
	f, err := os.Open(p)
	if err != nil {
		return d, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return d, fmt.Errorf("hashing %s: %w", p, err)
	}
	h.Sum(d[:0])
	return d, nil
}

// LinkStaysInside reports whether a symlink at rel with the given target resolves, lexically, to a path
// inside the tree. Absolute targets never do: the tree is mounted elsewhere in the pod than locally.
func LinkStaysInside(rel, target string) bool {
	if target == "" || path.IsAbs(target) || filepath.IsAbs(target) {
		return false
	}
	if ClimbsAfterName(target) {
		return false
	}
	joined := path.Join(path.Dir(rel), filepath.ToSlash(target))
	return joined != ".." && !strings.HasPrefix(joined, "../")
}

// ClimbsAfterName reports a symlink target with ".." after a name, as in "x/..": the kernel resolves x
// first, and when x is itself a link, x/.. is the parent of x's target, which the lexical check in
// tree.LinkStaysInside cannot see (with "x -> .", "l -> x/.." is the root's parent). Leading ".." only
// climb real directories, because the synclet keeps links out of every link's parents.
func ClimbsAfterName(target string) bool {
	named := false
	for _, seg := range strings.Split(target, "/") {
		switch seg {
		case "", ".":
		case "..":
			if named {
				return true
			}
		default:
			named = true
		}
	}
	return false
}
