package archive

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// sourceText is the Go source of this repository's packages (repeated if need be) cut to n bytes:
// text that compresses as source does.
func sourceText(t testing.TB, n int) []byte {
	t.Helper()
	names, err := filepath.Glob("../*/*.go")
	if err != nil || len(names) == 0 {
		t.Fatalf("no source files: %v", err)
	}
	var b []byte
	for len(b) < n {
		for _, name := range names {
			s, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, s...)
			if len(b) >= n {
				return b[:n]
			}
		}
	}
	return b[:n]
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func zstdStream(t testing.TB, b []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	enc, err := NewEncoder(&z)
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

// TestCompressedApply: an update compressed by the CLI's encoder applies through the synclet's
// decoder exactly as the plain stream does, smaller on the wire.
func TestCompressedApply(t *testing.T) {
	body := string(sourceText(t, 300_000))
	plain := stream(t, protocol.UpdateMeta{ID: "z"}, dir("0/src", 0o755), file("0/src/a.go", body, 0o644), file("0/src/b.go", body[:1000], 0o600))
	z := zstdStream(t, plain)
	if len(z)*3 > len(plain) {
		t.Errorf("source compressed to %d of %d bytes, want under a third", len(z), len(plain))
	}
	s := newSandbox(t, 1)
	dec, err := NewDecoder(bytes.NewReader(z), DefaultLimits.MaxStream())
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	meta, st, err := s.applier(t, DefaultLimits).Apply(dec)
	if err != nil || meta.ID != "z" || st.Files != 2 {
		t.Fatalf("apply: %+v %+v %v", meta, st, err)
	}
	if got, _ := os.ReadFile(filepath.Join(s.roots[0], "src/a.go")); string(got) != body {
		t.Errorf("a.go arrived with %d bytes, want %d", len(got), len(body))
	}
	if dec.Decoded() < int64(len(body)) {
		t.Errorf("decoded %d bytes", dec.Decoded())
	}
}

// TestCompressPays: source text is worth compressing, random bytes (what an image or an archive
// looks like) are not, so they go plain.
func TestCompressPays(t *testing.T) {
	if _, ok := Compress(sourceText(t, 64<<10)); !ok {
		t.Error("source text not worth compressing")
	}
	if _, ok := Compress(randomBytes(64 << 10)); ok {
		t.Error("random bytes worth compressing")
	}
	z, ok := Compress(sourceText(t, 100_000))
	back, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if got, err := back.DecodeAll(z, nil); !ok || err != nil || !bytes.Equal(got, sourceText(t, 100_000)) {
		t.Errorf("round trip: %v %v", ok, err)
	}
}

// TestDecoderRefusesBombs: a frame declaring a window over MaxWindow is refused before its history is
// allocated, and a body decoding to more than its limit stops there; one that ends exactly at the
// limit is whole.
func TestDecoderRefusesBombs(t *testing.T) {
	var wide bytes.Buffer
	enc, err := zstd.NewWriter(&wide, zstd.WithWindowSize(256<<20))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := readAll(wide.Bytes(), 1<<30); err == nil || !strings.Contains(err.Error(), "window") {
		t.Errorf("a 256 MiB window gives %v, want a refusal", err)
	}

	zeros := zstdStream(t, make([]byte, 64<<20)) // 64 MiB of zeros in a few kB
	if len(zeros) > 64<<10 {
		t.Fatalf("zeros compressed to %d bytes", len(zeros))
	}
	if err := readAll(zeros, 1<<20); !errors.Is(err, ErrDecodedTooLarge) {
		t.Errorf("64 MiB under a 1 MiB limit gives %v", err)
	}
	if err := readAll(zeros, 64<<20); err != nil {
		t.Errorf("64 MiB under a 64 MiB limit gives %v", err)
	}
}

func readAll(z []byte, max int64) error {
	dec, err := NewDecoder(bytes.NewReader(z), max)
	if err != nil {
		return err
	}
	defer dec.Close()
	_, err = io.Copy(io.Discard, dec)
	return err
}

// TestMaxStreamBoundsLimits: the decoded-size bound grows with the limits it comes from.
func TestMaxStreamBoundsLimits(t *testing.T) {
	small := Limits{MaxFileSize: 10, MaxTotal: 100, MaxEntries: 3}
	if got := small.MaxStream(); got < 100+maxMeta || got > 100+maxMeta+3*(64<<10) {
		t.Errorf("MaxStream %d", got)
	}
	if DefaultLimits.MaxStream() <= DefaultLimits.MaxTotal {
		t.Error("the default bound is under the content limit")
	}
}
