package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// entry is one file of an archive: its name inside the archive, the local file holding its bytes, and
// the mode it gets (the local file's own mode and times are ignored, so a checkout's umask or an
// editor's touch cannot change the archive).
type entry struct {
	Name string
	Path string
	Mode fs.FileMode
}

// writeArchive writes entries to path, as a zip if path ends in .zip and as a tar.gz otherwise, and
// returns the archive's sha256. Entries are written in name order, all with mtime, no owner and no
// directory entries, so the same inputs always give the same bytes. The archive appears at path only
// once complete.
func writeArchive(path string, entries []entry, mtime time.Time) (string, error) {
	sorted := append([]entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Name == sorted[i-1].Name {
			return "", fmt.Errorf("archive %s: %q given twice", path, sorted[i].Name)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	h := sha256.New()
	w := io.MultiWriter(tmp, h)
	if strings.HasSuffix(path, ".zip") {
		err = writeZip(w, sorted, mtime)
	} else {
		err = writeTarGz(w, sorted, mtime)
	}
	if err != nil {
		tmp.Close()
		return "", fmt.Errorf("archive %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func writeTarGz(w io.Writer, entries []entry, mtime time.Time) error {
	// the gzip header carries no name and no time (ModTime zero), so only the contents count
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		err := copyFile(e, func(size int64) (io.Writer, error) {
			hdr := &tar.Header{
				Typeflag: tar.TypeReg,
				Name:     e.Name,
				Mode:     int64(e.Mode.Perm()),
				Size:     size,
				ModTime:  mtime.UTC(),
				Format:   tar.FormatUSTAR,
			}
			return tw, tw.WriteHeader(hdr)
		})
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func writeZip(w io.Writer, entries []entry, mtime time.Time) error {
	zw := zip.NewWriter(w)
	for _, e := range entries {
		err := copyFile(e, func(int64) (io.Writer, error) {
			hdr := &zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: mtime.UTC()}
			hdr.SetMode(e.Mode.Perm())
			return zw.CreateHeader(hdr)
		})
		if err != nil {
			return err
		}
	}
	return zw.Close()
}

// copyFile opens e's local file, asks open for the writer of an entry of that size, and copies the
// bytes into it, failing if the file changed size while being read.
func copyFile(e entry, open func(size int64) (io.Writer, error)) error {
	f, err := os.Open(e.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", e.Path)
	}
	dst, err := open(st.Size())
	if err != nil {
		return fmt.Errorf("%s: %w", e.Name, err)
	}
	n, err := io.Copy(dst, f)
	if err != nil {
		return fmt.Errorf("%s: %w", e.Name, err)
	}
	if n != st.Size() {
		return fmt.Errorf("%s: size changed while archiving (%d bytes, then %d)", e.Path, st.Size(), n)
	}
	return nil
}
