// Package image builds small container images for kubectl-fastdev's local cluster and tests: layers
// are described in memory (directories, files, symlinks with explicit modes), owned by 0:0 with one
// fixed mtime so the same inputs give the same image, and written as docker-archive tarballs that
// `ctr images import` accepts. The format itself is left to go-containerregistry.
package image

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Epoch is the mtime of every entry and the creation time of every image, so that rebuilding from the
// same inputs yields the same digests. It is not the Unix epoch because some tools treat 0 as "unset".
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Unix permission bits beyond rwx, as they appear in a tar header's mode.
const (
	ModeSetuid = 0o4000
	ModeSetgid = 0o2000
	ModeSticky = 0o1000
)

// dirMode is the mode of a parent directory that was not added explicitly.
const dirMode = 0o755

type entry struct {
	typ    byte   // tar.TypeDir, tar.TypeReg or tar.TypeSymlink
	mode   int64  // unix mode bits (perm plus setuid/setgid/sticky)
	data   []byte // regular file content, when host is empty
	host   string // regular file content read from this host path when the layer is written
	target string // symlink target
}

// Layer is the in-memory description of one filesystem layer. Paths are absolute, slash-separated
// in-image paths; adding a path twice keeps the last entry. Errors from the adding methods are
// remembered and returned by Err (and by Build), so a recipe can add many entries and check once.
type Layer struct {
	entries map[string]entry
	err     error
}

// NewLayer returns an empty layer.
func NewLayer() *Layer { return &Layer{entries: map[string]entry{}} }

// Err returns the first error met while adding entries.
func (l *Layer) Err() error { return l.err }

// Dir adds a directory with the given unix mode, for example 0o755 or ModeSticky|0o777.
func (l *Layer) Dir(p string, mode int64) *Layer {
	return l.add(p, entry{typ: tar.TypeDir, mode: mode})
}

// File adds a regular file with the given content and unix mode.
func (l *Layer) File(p string, mode int64, data []byte) *Layer {
	return l.add(p, entry{typ: tar.TypeReg, mode: mode, data: data})
}

// HostFile adds a regular file whose content is read from hostPath when the layer is written,
// so large trees cost no memory. Its mode is the given one, never the host file's.
func (l *Layer) HostFile(p string, mode int64, hostPath string) *Layer {
	if l.err == nil {
		if fi, err := os.Stat(hostPath); err != nil {
			l.err = fmt.Errorf("adding %s: %w", p, err)
		} else if !fi.Mode().IsRegular() {
			l.err = fmt.Errorf("adding %s: %s is not a regular file", p, hostPath)
		}
	}
	return l.add(p, entry{typ: tar.TypeReg, mode: mode, host: hostPath})
}

// Symlink adds a symbolic link at p pointing to target, which is stored as given (relative or absolute).
func (l *Layer) Symlink(p, target string) *Layer {
	if target == "" && l.err == nil {
		l.err = fmt.Errorf("adding symlink %s: empty target", p)
	}
	return l.add(p, entry{typ: tar.TypeSymlink, mode: 0o777, target: target})
}

// TreeOptions says how Tree copies a host directory.
type TreeOptions struct {
	// Skip, when set, is called with the slash-separated path relative to the tree root; returning
	// true leaves the entry out (and everything below it, for a directory).
	Skip func(rel string, d fs.DirEntry) bool
	// DirMode is the mode of every directory, including the root; 0 means 0o755.
	DirMode int64
	// FileMode is the mode of every regular file; 0 means 0o755 when the host file has any execute
	// bit and 0o644 otherwise, which keeps the result independent of the host's umask.
	FileMode int64
}

// Tree adds the host directory src at dst, recursively: directories, regular files (read when the
// layer is written) and symlinks (targets kept as they are). Other file types are an error.
func (l *Layer) Tree(dst, src string, opts TreeOptions) *Layer {
	if l.err != nil {
		return l
	}
	dirMode := opts.DirMode
	if dirMode == 0 {
		dirMode = 0o755
	}
	err := filepath.WalkDir(src, func(hostPath string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, hostPath)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != "." && opts.Skip != nil && opts.Skip(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		p := path.Join(dst, rel)
		switch t := d.Type(); {
		case t.IsDir():
			l.Dir(p, dirMode)
		case t.IsRegular():
			mode := opts.FileMode
			if mode == 0 {
				fi, err := d.Info()
				if err != nil {
					return err
				}
				mode = 0o644
				if fi.Mode().Perm()&0o111 != 0 {
					mode = 0o755
				}
			}
			l.add(p, entry{typ: tar.TypeReg, mode: mode, host: hostPath})
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(hostPath)
			if err != nil {
				return err
			}
			l.Symlink(p, target)
		default:
			return fmt.Errorf("%s: unsupported file type %v", hostPath, t)
		}
		return l.err
	})
	if err != nil && l.err == nil {
		l.err = fmt.Errorf("adding tree %s from %s: %w", dst, src, err)
	}
	return l
}

func (l *Layer) add(p string, e entry) *Layer {
	if l.err != nil {
		return l
	}
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
		l.err = fmt.Errorf("adding %q: want a clean absolute path below /", p)
		return l
	}
	if e.mode < 0 || e.mode > 0o7777 {
		l.err = fmt.Errorf("adding %s: mode %#o is not a unix mode (0 to 0o7777)", p, e.mode)
		return l
	}
	l.entries[p] = e
	return l
}

// Has reports whether p was added to the layer (parents written implicitly do not count).
func (l *Layer) Has(p string) bool {
	_, ok := l.entries[p]
	return ok
}

// Paths returns the layer's explicit entries in the order they are written.
func (l *Layer) Paths() []string {
	ps := make([]string, 0, len(l.entries))
	for p := range l.entries {
		ps = append(ps, p)
	}
	// Sorted order is reproducible and puts every directory before what it contains,
	// because a path sorts before any path it is a prefix of.
	sort.Strings(ps)
	return ps
}

// WriteTar writes the layer as an uncompressed tar stream. Parent directories that were not added
// are written with mode 0o755 just before their first child.
func (l *Layer) WriteTar(w io.Writer) error {
	if l.err != nil {
		return l.err
	}
	tw := tar.NewWriter(w)
	written := map[string]bool{}
	for _, p := range l.Paths() {
		for _, parent := range parents(p) {
			if e, ok := l.entries[parent]; ok && e.typ != tar.TypeDir {
				return fmt.Errorf("writing %s: parent %s is not a directory", p, parent)
			}
			if written[parent] { // explicit directories were written in their own, earlier turn
				continue
			}
			written[parent] = true
			if err := tw.WriteHeader(header(parent, entry{typ: tar.TypeDir, mode: dirMode}, 0)); err != nil {
				return err
			}
		}
		written[p] = true
		if err := writeEntry(tw, p, l.entries[p]); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}
	return tw.Close()
}

func writeEntry(tw *tar.Writer, p string, e entry) error {
	if e.typ != tar.TypeReg {
		return tw.WriteHeader(header(p, e, 0))
	}
	if e.host == "" {
		if err := tw.WriteHeader(header(p, e, int64(len(e.data)))); err != nil {
			return err
		}
		_, err := tw.Write(e.data)
		return err
	}
	f, err := os.Open(e.host)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(header(p, e, fi.Size())); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, f, fi.Size()); err != nil {
		return fmt.Errorf("copying %s (did it change while the layer was written?): %w", e.host, err)
	}
	return nil
}

// header returns the tar header of one entry. Names are relative ("etc/passwd"), as docker and
// containerd write them; ownership is 0:0 and every time is Epoch.
func header(p string, e entry, size int64) *tar.Header {
	name := strings.TrimPrefix(p, "/")
	if e.typ == tar.TypeDir {
		name += "/"
	}
	return &tar.Header{
		Typeflag: e.typ,
		Name:     name,
		Linkname: e.target,
		Mode:     e.mode,
		Size:     size,
		ModTime:  Epoch,
		Uname:    "root",
		Gname:    "root",
		Format:   tar.FormatPAX,
	}
}

// parents returns the ancestors of p below /, outermost first.
func parents(p string) []string {
	var ps []string
	for d := path.Dir(p); d != "/"; d = path.Dir(d) {
		ps = append(ps, d)
	}
	for i, j := 0, len(ps)-1; i < j; i, j = i+1, j-1 {
		ps[i], ps[j] = ps[j], ps[i]
	}
	return ps
}

// V1 returns the layer as a go-containerregistry layer. The tar stream is produced again each time
// the uncompressed content is read; the gzip-compressed form is computed once and kept in memory.
// gzip's default level, not go-containerregistry's fastest one: for a toolchain layer it costs a
// few seconds once and saves about an eighth of the archive on every import.
func (l *Layer) V1() (v1.Layer, error) {
	if l.err != nil {
		return nil, l.err
	}
	opener := func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(l.WriteTar(pw)) }()
		return pr, nil
	}
	return tarball.LayerFromOpener(opener,
		tarball.WithCompressionLevel(gzip.DefaultCompression), tarball.WithCompressedCaching)
}
