package syncletclient

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// recorded is one update as a fake synclet received it.
type recorded struct {
	encoding string
	wire     int
	files    map[string]int // tar entry name -> content size, after decoding
}

// fakeSynclet answers updates with a result, decoding zstd bodies, and records each; advertise says
// whether its replies carry Accept-Encoding: zstd (a synclet older than compression has none).
func fakeSynclet(t *testing.T, advertise bool) (*Client, func() []recorded) {
	t.Helper()
	var mu sync.Mutex
	var got []recorded
	c := gated(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if advertise {
			w.Header().Set("Accept-Encoding", "zstd")
		}
		if r.URL.Path != protocol.PathUpdate {
			_, _ = io.WriteString(w, `{"roots":[]}`) // a manifest or status: its content is not under test
			return
		}
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rec := recorded{encoding: r.Header.Get("Content-Encoding"), wire: len(raw), files: map[string]int{}}
		if rec.encoding == protocol.EncodingZstd {
			dec, err := zstd.NewReader(nil)
			if err == nil {
				raw, err = dec.DecodeAll(raw, nil)
				dec.Close()
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		tr := tar.NewReader(bytes.NewReader(raw))
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, "not a tar: "+err.Error(), http.StatusBadRequest)
				return
			}
			rec.files[hdr.Name] = int(hdr.Size)
		}
		mu.Lock()
		got = append(got, rec)
		mu.Unlock()
		_, _ = io.WriteString(w, `{"type":"result"}`+"\n")
	}))
	t.Cleanup(c.Close)
	return c, func() []recorded { mu.Lock(); defer mu.Unlock(); return append([]recorded(nil), got...) }
}

// putOf writes content as the local file name and returns its put.
func putOf(t *testing.T, dir, name string, content []byte) archive.Put {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
		t.Fatal(err)
	}
	return archive.Put{Root: 0, Local: filepath.Join(dir, name), Entry: tree.Entry{Path: name, Kind: tree.File, Mode: 0o644, Size: int64(len(content))}}
}

// text is compressible content of n bytes (lines of words, varied).
func text(n int) []byte {
	rng := rand.New(rand.NewPCG(3, 4))
	words := strings.Fields("func return if err != nil package import struct type var const for range defer go chan select case")
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		if rng.IntN(8) == 0 {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

func noise(n int) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// TestCompressionNegotiated: updates are compressed only for a synclet that advertises zstd, only when
// not small, only when their content compresses, and never with compression off; whatever the
// encoding, the synclet receives the same files.
func TestCompressionNegotiated(t *testing.T) {
	dir := t.TempDir()
	small := putOf(t, dir, "small.go", text(4<<10))     // a one-file edit: sent in memory, plain
	medium := putOf(t, dir, "medium.go", text(200<<10)) // in memory, compressed
	large := putOf(t, dir, "large.go", text(3<<20))     // streamed, compressed
	noisy := putOf(t, dir, "image.png", noise(3<<20))   // streamed, incompressible: plain
	cases := []struct {
		name      string
		advertise bool
		mode      Compression
		put       archive.Put
		want      string
	}{
		{"old synclet, large", false, "", large, ""},
		{"old synclet, medium", false, CompressAuto, medium, ""},
		{"new synclet, small", true, "", small, ""},
		{"new synclet, medium", true, "", medium, protocol.EncodingZstd},
		{"new synclet, large", true, CompressAuto, large, protocol.EncodingZstd},
		{"new synclet, incompressible", true, "", noisy, ""},
		{"new synclet, compression off", true, CompressOff, large, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl, got := fakeSynclet(t, c.advertise)
			ctx := context.Background()
			if c.mode != "" {
				ctx = WithCompression(ctx, c.mode)
			}
			if _, err := cl.Manifest(ctx); err != nil { // the reply that says what the synclet takes
				t.Fatal(err)
			}
			res, sent, err := cl.Update(ctx, protocol.UpdateMeta{ID: "1"}, []archive.Put{c.put}, nil)
			if err != nil || res == nil || len(sent) != 1 {
				t.Fatalf("update: %v %v %d", res, err, len(sent))
			}
			recs := got()
			if len(recs) != 1 {
				t.Fatalf("%d updates received", len(recs))
			}
			r := recs[0]
			if r.encoding != c.want {
				t.Errorf("Content-Encoding %q, want %q", r.encoding, c.want)
			}
			name := protocol.EntryName(0, c.put.Entry.Path)
			if r.files[name] != int(c.put.Entry.Size) || r.files[protocol.MetaEntry] == 0 {
				t.Errorf("received %v, want %s of %d bytes after the metadata", r.files, name, c.put.Entry.Size)
			}
			if c.want == protocol.EncodingZstd && r.wire*2 > int(c.put.Entry.Size) {
				t.Errorf("compressed body of %d bytes for %d of text", r.wire, c.put.Entry.Size)
			}
		})
	}
}

// TestCompressedProgress: a compressed update still reports progress in bytes of the tar stream,
// reaching the whole of it.
func TestCompressedProgress(t *testing.T) {
	cl, got := fakeSynclet(t, true)
	large := putOf(t, t.TempDir(), "large.go", text(3<<20))
	var mu sync.Mutex
	var last int64
	ctx := WithProgress(context.Background(), func(n int64) { mu.Lock(); last = max(last, n); mu.Unlock() })
	if _, err := cl.Manifest(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cl.Update(ctx, protocol.UpdateMeta{}, []archive.Put{large}, nil); err != nil {
		t.Fatal(err)
	}
	if r := got(); len(r) != 1 || r[0].encoding != protocol.EncodingZstd {
		t.Fatalf("received %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if last < large.Entry.Size {
		t.Errorf("progress reached %d bytes of a %d byte file", last, large.Entry.Size)
	}
}
