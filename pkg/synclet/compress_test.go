package synclet

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// TestCompressedUpdates: the real client compresses a large first sync for this synclet (which
// advertises zstd on every reply), the files land intact and the status counts it; a one-file edit
// after it goes plain.
func TestCompressedUpdates(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	l := newLocalTree(t, p)
	for i := range 40 {
		var b strings.Builder
		for j := range 1500 {
			fmt.Fprintf(&b, "func f%d_%d() int { return %d } // line of source\n", i, j, i*j)
		}
		l.write(fmt.Sprintf("pkg%d/file.go", i), b.String(), 0o644)
	}
	l.converge()
	st, err := l.c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Compressed != 1 || st.CompressedWire*3 > st.CompressedDecoded || st.CompressedDecoded < 2<<20 {
		t.Fatalf("status after the first sync: %d compressed, %d bytes decoded from %d", st.Compressed, st.CompressedDecoded, st.CompressedWire)
	}
	l.write("pkg7/file.go", "package pkg7\n", 0o644)
	l.converge()
	if got, err := os.ReadFile(filepath.Join(p.root, "pkg7/file.go")); err != nil || string(got) != "package pkg7\n" {
		t.Fatalf("the edit in the pod: %q %v", got, err)
	}
	if st, err := l.c.Status(context.Background()); err != nil || st.Compressed != 1 || st.Updates != 2 {
		t.Fatalf("after a one-file edit: %+v %v (want it sent plain)", st, err)
	}
}

// TestCompressedLimits: a compressed body is held to the limits in decoded bytes (a file of zeros over
// the size limit is refused though its body is a few hundred bytes), a frame asking for a window over
// archive.MaxWindow is refused before it is decoded, an unknown encoding is answered 415, and the
// synclet takes updates after each.
func TestCompressedLimits(t *testing.T) {
	p := newPod(t, archive.Limits{MaxFileSize: 1 << 20, MaxTotal: 2 << 20, MaxEntries: 10})
	zeros := tarOf(t, "0/zeros", make([]byte, 4<<20))
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"decoded file over the size limit", compress(t, zeros), "over the 1048576 byte limit"},
		{"window over the cap", compress(t, zeros, zstd.WithWindowSize(256<<20)), "window"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if len(c.body) > 64<<10 {
				t.Fatalf("body of %d bytes", len(c.body))
			}
			evs := postEncoded(t, p, c.body, protocol.EncodingZstd, http.StatusOK)
			if res := evs[len(evs)-1]; !strings.Contains(res.Error, c.want) {
				t.Errorf("result %q, want %q", res.Error, c.want)
			}
			if _, err := os.Stat(filepath.Join(p.root, "zeros")); err == nil {
				t.Error("the refused file landed")
			}
			ok := postEncoded(t, p, compress(t, tarOf(t, "0/ok", []byte("ok\n"))), protocol.EncodingZstd, http.StatusOK)
			if res := ok[len(ok)-1]; res.Error != "" {
				t.Fatalf("the next update failed: %s", res.Error)
			}
		})
	}
	postEncoded(t, p, tarOf(t, "0/x", []byte("x")), "br", http.StatusUnsupportedMediaType)
}

// tarOf is an update stream of one file.
func tarOf(t *testing.T, name string, content []byte) []byte {
	t.Helper()
	meta, err := json.Marshal(protocol.UpdateMeta{ID: "z"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range []struct {
		name string
		body []byte
	}{{protocol.MetaEntry, meta}, {name, content}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func compress(t *testing.T, b []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	var z bytes.Buffer
	enc, err := zstd.NewWriter(&z, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// postEncoded sends body with Content-Encoding enc, checks the reply's code and that it advertises
// zstd, and returns its events, the result last (none unless 200).
func postEncoded(t *testing.T, p *pod, body []byte, enc string, code int) []protocol.Event {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.http.URL+protocol.PathUpdate, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(protocol.VersionHeader, protocol.Version)
	req.Header.Set("Content-Encoding", enc)
	resp, err := authed.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != code || !protocol.AcceptsZstd(resp.Header) {
		t.Fatalf("status %d, Accept-Encoding %q; want %d and zstd", resp.StatusCode, resp.Header.Values("Accept-Encoding"), code)
	}
	var out []protocol.Event
	if code != http.StatusOK {
		return out
	}
	res, err := protocol.ReadEvents(resp.Body, func(e protocol.Event) { out = append(out, e) })
	if err != nil {
		t.Fatal(err)
	}
	return append(out, *res)
}
