// Package archive encodes an update as a tar stream (CLI side) and applies one to the synclet's sync
// roots (pod side), one file at a time and atomically per file, refusing anything that would land
// outside a root.
package archive

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// Put is one entry to send: Entry under sync root Root, whose content (for a file) is read from Local.
type Put struct {
	Root  int
	Local string
	Entry tree.Entry
}

// epoch is the fixed mtime of every entry: the synclet does not keep times, and a fixed value keeps
// the stream independent of when it was made.
var epoch = time.Unix(0, 0)

// Write streams meta and then puts to w as a tar. It returns the puts as they were actually sent: a file
// edited after it was hashed is sent as it is now, with its new hash and size, and a file that vanished
// is left out (the watcher reports its deletion in a later batch).
func Write(w io.Writer, meta protocol.UpdateMeta, puts []Put) ([]Put, error) {
	tw := tar.NewWriter(w)
	b, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: protocol.MetaEntry, Mode: 0o644, Size: int64(len(b)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(b); err != nil {
		return nil, err
	}
	sent := make([]Put, 0, len(puts))
	var open opener
	defer open.close()
	for _, p := range puts {
		name := protocol.EntryName(p.Root, p.Entry.Path)
		hdr := &tar.Header{Name: name, Mode: int64(p.Entry.Mode), ModTime: epoch}
		switch p.Entry.Kind {
		case tree.Dir:
			hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		case tree.Symlink:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, p.Entry.Target
		case tree.File:
			e, err := writeFile(tw, hdr, p, &open)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return sent, err
			}
			p.Entry = e
			sent = append(sent, p)
			continue
		default:
			return sent, fmt.Errorf("%s: cannot send a %q entry", p.Local, p.Entry.Kind)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return sent, err
		}
		sent = append(sent, p)
	}
	return sent, tw.Close()
}

// modesKnown: the local system keeps permission bits (not Windows; see tree.ModeUnknown).
var modesKnown = tree.ModesKnown(runtime.GOOS)

// writeFile sends one regular file, sizing the header from the open file so that a concurrent edit
// cannot make the header and the content disagree. The file is opened inside its sync directory and
// must be the regular file at its path (opener): a file swapped for a symlink is not sent.
func writeFile(tw *tar.Writer, hdr *tar.Header, p Put, open *opener) (tree.Entry, error) {
	f, err := open.open(p)
	if err != nil {
		return tree.Entry{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return tree.Entry{}, err
	}
	if !fi.Mode().IsRegular() {
		return tree.Entry{}, fs.ErrNotExist // replaced by a directory or link meanwhile: a later batch sends it
	}
	e := p.Entry
	e.Size = fi.Size()
	if modesKnown {
		e.Mode = fi.Mode().Perm() // else the planned one (tree.SendMode): the local system's means nothing
	}
	hdr.Typeflag, hdr.Size, hdr.Mode = tar.TypeReg, e.Size, int64(e.Mode)
	if err := tw.WriteHeader(hdr); err != nil {
		return tree.Entry{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), io.LimitReader(f, e.Size))
	if err != nil {
		return tree.Entry{}, fmt.Errorf("sending %s: %w", p.Local, err)
	}
	if n != e.Size {
		// the file shrank while we read it: pad so the stream stays valid; its next event resends it
		if _, err := tw.Write(make([]byte, e.Size-n)); err != nil {
			return tree.Entry{}, err
		}
		e.Hash = tree.Digest{} // matches no content: the next comparison sends it again
		return e, nil
	}
	h.Sum(e.Hash[:0])
	return e, nil
}
