package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// TestWriteSkipsSwappedFiles: a file scanned as regular and replaced by a symlink before it is sent
// (to a file outside the tree, or inside it), or moved under a directory now a symlink to outside, is
// left out of the update: no byte of what the link points to is sent. An unchanged file still is.
func TestWriteSkipsSwappedFiles(t *testing.T) {
	cases := []struct {
		name string
		rel  string
		swap func(t *testing.T, tree, outside string)
	}{
		{"file to a link out", "a", func(t *testing.T, tree, outside string) {
			mustDo(t, os.Remove(filepath.Join(tree, "a")), os.Symlink(filepath.Join(outside, "secret"), filepath.Join(tree, "a")))
		}},
		{"file to a link inside", "a", func(t *testing.T, tree, _ string) {
			mustDo(t, os.Remove(filepath.Join(tree, "a")), os.Symlink("b", filepath.Join(tree, "a")))
		}},
		{"directory to a link out", "sub/secret", func(t *testing.T, tree, outside string) {
			mustDo(t, os.RemoveAll(filepath.Join(tree, "sub")), os.Symlink(outside, filepath.Join(tree, "sub")))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, outside := t.TempDir(), t.TempDir()
			mustDo(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755),
				os.WriteFile(filepath.Join(dir, "a"), []byte("scanned"), 0o644),
				os.WriteFile(filepath.Join(dir, "b"), []byte("other file"), 0o644),
				os.WriteFile(filepath.Join(dir, "sub", "secret"), []byte("scanned"), 0o644),
				os.WriteFile(filepath.Join(outside, "secret"), []byte("TOP SECRET"), 0o600))
			put := func(rel string) Put {
				return Put{Local: filepath.Join(dir, filepath.FromSlash(rel)), Entry: tree.Entry{Path: rel, Kind: tree.File, Mode: 0o644, Size: 7}}
			}
			c.swap(t, dir, outside)
			var buf bytes.Buffer
			sent, err := Write(&buf, protocol.UpdateMeta{}, []Put{put(c.rel), put("b")})
			if err != nil {
				t.Fatal(err)
			}
			if len(sent) != 1 || sent[0].Entry.Path != "b" {
				t.Errorf("sent %v, want b alone", sent)
			}
			if names, body := entries(t, buf.Bytes()); strings.Contains(body, "TOP SECRET") || strings.Contains(body, "scanned") || len(names) != 2 {
				t.Errorf("the stream holds %v: %q", names, body)
			}
		})
	}
}

func mustDo(t *testing.T, errs ...error) {
	t.Helper()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// entries returns the names in a tar stream and its file contents, concatenated.
func entries(t *testing.T, b []byte) ([]string, string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	var body strings.Builder
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, body.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if _, err := io.Copy(&body, tr); err != nil {
			t.Fatal(err)
		}
	}
}
