package archive

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// An update body may travel zstd-compressed (protocol.EncodingZstd) when the synclet accepts it. The
// CLI compresses; the synclet decodes as it applies, with its memory and the decoded size bounded.

// MaxWindow is the largest zstd window the synclet decodes: the encoder never uses more, and a frame
// that declares a larger one (a hostile body asking the decoder for gigabytes of history) is refused
// before anything is allocated for it. The decoder then holds about this much, whatever the body.
const MaxWindow = 8 << 20

// encoderWindow is the window the CLI compresses with: a tar of source files finds its repeats close
// by (measured on Go's src tree: 2 MiB gives within 2 % of 8 MiB's ratio), and a smaller window keeps
// each pod's stream encoder small when an initial sync goes to ten replicas at once.
const encoderWindow = 2 << 20

// encoderOptions: the default level (on a tar of Go's src tree 4.7x at about 200 MB/s a core, where
// the fastest gives 4.3x at 250 MB/s: the link, not the encoder, is what an initial sync waits on
// remotely), and two goroutines per stream, one per core of the machine the targets are set for.
func encoderOptions() []zstd.EOption {
	return []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(encoderWindow),
		zstd.WithEncoderConcurrency(2), zstd.WithLowerEncoderMem(true)}
}

// encoders keeps stream encoders for reuse (Reset): one costs a few MiB to make.
var encoders sync.Pool

// Encoder is a zstd stream encoder over w. Close ends the frame and returns the encoder for reuse;
// the writer is not closed.
type Encoder struct{ enc *zstd.Encoder }

// NewEncoder returns an encoder writing a zstd stream to w.
func NewEncoder(w io.Writer) (*Encoder, error) {
	if e, ok := encoders.Get().(*zstd.Encoder); ok {
		e.Reset(w)
		return &Encoder{enc: e}, nil
	}
	e, err := zstd.NewWriter(w, encoderOptions()...)
	if err != nil {
		return nil, fmt.Errorf("making a zstd encoder: %w", err)
	}
	return &Encoder{enc: e}, nil
}

// Write compresses p.
func (e *Encoder) Write(p []byte) (int, error) { return e.enc.Write(p) }

// Close flushes and ends the stream.
func (e *Encoder) Close() error {
	err := e.enc.Close()
	if err == nil {
		encoders.Put(e.enc)
	}
	return err
}

// blockEncoder compresses whole buffers (EncodeAll is safe for concurrent use): updates built in memory
// (under 1 MiB) and samples. It uses the fastest level: BenchmarkCompressUpdate found it 30 % quicker
// than the default for 3 % less saved, and on a fast link these small bodies wait on the encoder.
var blockEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, append(encoderOptions(), zstd.WithEncoderCRC(true), zstd.WithEncoderLevel(zstd.SpeedFastest))...)
})

// MinSaving is the share of the bytes compression must save for a body to be sent compressed: below
// it (already-compressed files: images, archives, fonts) the synclet would decode for nothing.
const MinSaving = 0.10

// Compress returns b compressed, and whether that saves at least MinSaving of its size; when it does
// not, b goes as it is.
func Compress(b []byte) ([]byte, bool) {
	enc, err := blockEncoder()
	if err != nil {
		return nil, false // the options are fixed and valid: never, but plain is always correct
	}
	z := enc.EncodeAll(b, make([]byte, 0, len(b)/2))
	return z, float64(len(z)) <= float64(len(b))*(1-MinSaving)
}

// decoderOptions bound what a body can make the synclet allocate: the window (MaxWindow, checked on
// each frame's header), no goroutines of its own (the synclet's CPU limit is half a core), low memory.
func decoderOptions() []zstd.DOption {
	return []zstd.DOption{zstd.WithDecoderMaxWindow(MaxWindow), zstd.WithDecoderMaxMemory(MaxWindow),
		zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true)}
}

// ErrDecodedTooLarge is the error of a compressed body that decodes to more than its limit.
var ErrDecodedTooLarge = errors.New("the update decompresses to more than the synclet accepts")

// Decoder reads a zstd body, failing once it has decoded more than a limit.
type Decoder struct {
	dec     *zstd.Decoder
	left    int64
	decoded int64
}

// NewDecoder returns a decoder of the zstd stream r that fails with ErrDecodedTooLarge past max
// decoded bytes. Close releases it.
func NewDecoder(r io.Reader, max int64) (*Decoder, error) {
	dec, err := zstd.NewReader(r, decoderOptions()...)
	if err != nil {
		return nil, fmt.Errorf("reading the zstd body: %w", err)
	}
	return &Decoder{dec: dec, left: max}, nil
}

// Read decodes into p.
func (d *Decoder) Read(p []byte) (int, error) {
	if d.left <= 0 {
		// at the limit: only the end of the stream may follow
		var one [1]byte
		if n, err := d.dec.Read(one[:]); n == 0 && err != nil {
			return 0, err
		}
		return 0, ErrDecodedTooLarge
	}
	if int64(len(p)) > d.left {
		p = p[:d.left]
	}
	n, err := d.dec.Read(p)
	d.left -= int64(n)
	d.decoded += int64(n)
	return n, err
}

// Decoded is the number of bytes decoded so far.
func (d *Decoder) Decoded() int64 { return d.decoded }

// Close releases the decoder's buffers.
func (d *Decoder) Close() { d.dec.Close() }

// MaxStream bounds the decoded size of one update stream under l: its files' content, the
// metadata, and per entry its header, padding and a long name's extra header.
func (l Limits) MaxStream() int64 {
	const perEntry = 16 << 10
	return l.MaxTotal + maxMeta + int64(l.MaxEntries)*perEntry
}
