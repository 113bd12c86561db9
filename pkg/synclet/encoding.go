package synclet

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// advertise says on every reply that this synclet takes zstd update bodies (protocol.EncodingZstd):
// the CLI learns it from the first reply of a connection (the manifest) and compresses from then on.
func advertise(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Accept-Encoding", protocol.EncodingZstd)
		next.ServeHTTP(w, r)
	})
}

// updateBody is an update's body as the applier reads it: plain, or decoded from zstd with the
// decoder's memory bounded (archive.MaxWindow) and its output bounded by what the Limits let an
// update hold, so every limit applies to decoded bytes. An encoding it does not know is answered 415.
func (s *Server) updateBody(w http.ResponseWriter, r *http.Request) (*body, bool) {
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
		return &body{plain: r.Body}, true
	case protocol.EncodingZstd:
		return &body{wire: &countingReader{r: r.Body}, max: s.cfg.Limits.MaxStream()}, true
	default:
		http.Error(w, fmt.Sprintf("Content-Encoding %q: this synclet takes zstd or none (use a matching kubectl-fastdev)", enc), http.StatusUnsupportedMediaType)
		return nil, false
	}
}

// body reads an update's body. A zstd decoder is made at the first read, so that a frame it refuses
// (a window over archive.MaxWindow) fails the update like any malformed stream.
type body struct {
	plain io.Reader
	wire  *countingReader
	max   int64
	dec   *archive.Decoder
}

func (b *body) Read(p []byte) (int, error) {
	if b.plain != nil {
		return b.plain.Read(p)
	}
	if b.dec == nil {
		d, err := archive.NewDecoder(b.wire, b.max)
		if err != nil {
			return 0, err
		}
		b.dec = d
	}
	n, err := b.dec.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		// only a malformed or hostile body gets here: the CLI's encoder stays within every bound
		err = fmt.Errorf("decoding the zstd body (`kubectl fastdev up --compress=off` sends updates plain): %w", err)
	}
	return n, err
}

// close releases the decoder and counts a compressed body in the status; the log line says how much
// it saved.
func (s *Server) closeBody(b *body) {
	if b.dec == nil {
		return
	}
	b.dec.Close()
	s.statusMu.Lock()
	s.status.Compressed++
	s.status.CompressedWire += b.wire.n
	s.status.CompressedDecoded += b.dec.Decoded()
	s.statusMu.Unlock()
	s.cfg.Log.Printf("update body: zstd, %d bytes decoded from %d", b.dec.Decoded(), b.wire.n)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
