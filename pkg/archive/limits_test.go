package archive

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// TestApplyLimits: a file or an update over the Limits is refused before its content is read, and the
// file in place stays as it was.
func TestApplyLimits(t *testing.T) {
	limits := Limits{MaxFileSize: 10, MaxTotal: 15, MaxEntries: 3}
	huge := func() []byte { // a header claiming a terabyte, and no content: refused before reading it
		var b bytes.Buffer
		b.Write(stream(t, protocol.UpdateMeta{})[:1024]) // the metadata entry, without the end-of-archive blocks
		tw := tar.NewWriter(&b)
		if err := tw.WriteHeader(&tar.Header{Name: "0/huge", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 40}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	cases := []struct {
		name    string
		stream  []byte
		want    string
		written []string
	}{
		{"file over the size limit", stream(t, protocol.UpdateMeta{}, file("0/big", "12345678901", 0o644)), "file of 11 bytes is over the 10 byte limit", []string{"keep"}},
		{"replacement over the size limit keeps the old file", stream(t, protocol.UpdateMeta{}, file("0/keep", "12345678901", 0o644)), "over the 10 byte limit", []string{"keep"}},
		{"header claiming a terabyte", huge(), "over the 10 byte limit", []string{"keep"}},
		{"update over the total", stream(t, protocol.UpdateMeta{}, file("0/a", "12345678", 0o644), file("0/b", "12345678", 0o644)), "update is over the 15 byte limit", []string{"a", "keep"}},
		{"too many entries", stream(t, protocol.UpdateMeta{}, dir("0/1/", 0o755), dir("0/2/", 0o755), dir("0/3/", 0o755), dir("0/4/", 0o755)), "more than 3 entries", []string{"1", "2", "3", "keep"}},
		{"at the limits", stream(t, protocol.UpdateMeta{}, file("0/a", "1234567890", 0o644), file("0/b", "12345", 0o644)), "", []string{"a", "b", "keep"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSandbox(t, 1)
			if err := os.WriteFile(filepath.Join(s.roots[0], "keep"), []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			a := s.applier(t, limits)
			_, _, err := a.Apply(bytes.NewReader(c.stream))
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if got := list(t, s.roots[0]); strings.Join(got, " ") != strings.Join(c.written, " ") {
				t.Errorf("root holds %v, want %v", got, c.written)
			}
			if b, _ := os.ReadFile(filepath.Join(s.roots[0], "keep")); string(b) != "old" {
				t.Errorf("keep now holds %q", b)
			}
			s.checkOutside(t)
		})
	}
}

// TestApplyMalformed: a stream that is not an update, or is cut short, is refused with what was wrong.
func TestApplyMalformed(t *testing.T) {
	full := stream(t, protocol.UpdateMeta{}, file("0/keep", strings.Repeat("new", 400), 0o644), file("0/after", "x", 0o644))
	noMeta := func() []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		if err := tw.WriteHeader(&tar.Header{Name: "0/x", Typeflag: tar.TypeReg, Size: 1, Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}()
	bigMeta := func() []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		if err := tw.WriteHeader(&tar.Header{Name: protocol.MetaEntry, Typeflag: tar.TypeReg, Size: maxMeta + 1, Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}()
	cases := []struct {
		name   string
		stream []byte
		want   string
	}{
		{"empty", nil, "reading update: EOF"},
		{"not a tar", bytes.Repeat([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 40), "reading update"},
		{"short garbage", []byte("{\"id\":\"1\"}"), "reading update: unexpected EOF"},
		{"no metadata entry", noMeta, `first entry is "0/x"`},
		{"metadata too large", bigMeta, "metadata of 67108865 bytes is over the 67108864 byte limit"},
		{"metadata not JSON", stream(t, []byte("{nope")), "malformed update metadata"},
		{"metadata of the wrong shape", stream(t, []byte(`{"deletes":"0/x"}`)), "malformed update metadata"},
		{"metadata twice", stream(t, protocol.UpdateMeta{}, file(protocol.MetaEntry, "{}", 0o644)), "no sync root prefix"},
		{"truncated in a file", full[:1024+512+700], "unexpected EOF"},
		{"truncated in a header", full[:1024+100], "malformed update"},
		{"corrupt header checksum", func() []byte {
			b := bytes.Clone(full)
			b[1024+148] ^= 0x55 // the second header's checksum field
			return b
		}(), "malformed update"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSandbox(t, 1)
			if err := os.WriteFile(filepath.Join(s.roots[0], "keep"), []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			a := s.applier(t, DefaultLimits)
			_, _, err := a.Apply(bytes.NewReader(c.stream))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			// a file cut short never replaces the one in place: the app sees the old or the new, never half
			if b, _ := os.ReadFile(filepath.Join(s.roots[0], "keep")); string(b) != "old" {
				t.Errorf("keep now holds %q", b)
			}
			if tmp := tempFiles(t, s.roots[0]); len(tmp) > 0 {
				t.Errorf("temporary files left behind: %v", tmp)
			}
			s.checkOutside(t)
		})
	}
}
