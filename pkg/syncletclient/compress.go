package syncletclient

import (
	"context"
	"io"
	"sync/atomic"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// Compression says whether updates may travel zstd-compressed (`up --compress`).
type Compression string

const (
	// CompressAuto compresses an update when the synclet accepts zstd and it pays: the update is not
	// small and its first bytes compress (see minCompress and sampleSize).
	CompressAuto Compression = "auto"
	// CompressOff sends every update as a plain tar.
	CompressOff Compression = "off"
)

// compressionKey is the context key of the Compression asked for.
type compressionKey struct{}

// WithCompression returns a context whose updates (Client.Update) use c; without it, CompressAuto.
// Like WithProgress, it reaches the client through the dev loop without the loop knowing of it.
func WithCompression(ctx context.Context, c Compression) context.Context {
	return context.WithValue(ctx, compressionKey{}, c)
}

// minCompress is the smallest update (tar bytes) worth compressing. Below it the bytes saved cross
// even a 20 Mbit link in under 20 ms and locally in microseconds, while compressing and decoding
// cost about as much (BenchmarkSmallUpdate: a one-file edit of a few kB stays plain).
const minCompress = 64 << 10

// sampleSize is how much of a streamed update's tar is compressed first to decide: a tree of
// already-compressed files (images, archives) then goes plain, at the cost of one sample's encoding.
const sampleSize = 256 << 10

// compressing reports whether an update on ctx may be compressed for this synclet.
func (c *Client) compressing(ctx context.Context) bool {
	mode, _ := ctx.Value(compressionKey{}).(Compression)
	return mode != CompressOff && c.acceptsZstd.Load()
}

// smallBody returns the body of an update built in memory, compressed when that pays, and its
// Content-Encoding ("" for plain).
func (c *Client) smallBody(ctx context.Context, tarred []byte) ([]byte, string) {
	if len(tarred) < minCompress || !c.compressing(ctx) {
		return tarred, ""
	}
	if z, ok := archive.Compress(tarred); ok {
		return z, protocol.EncodingZstd
	}
	return tarred, ""
}

// decider sits between archive.Write and the request body of a streamed update: it holds the first
// sampleSize bytes, decides from them whether to compress (sends the answer on decided, once), then
// passes everything through a zstd encoder or as it is. in counts the tar bytes taken, for progress.
type decider struct {
	out      io.Writer
	allow    bool
	sample   []byte
	w        io.Writer
	enc      *archive.Encoder
	decided  chan string
	in       atomic.Int64
	progress func(int64) // nil: no hook; else told the tar bytes through once their compressed bytes are
}

func newDecider(out io.Writer, allow bool, progress func(int64)) *decider {
	return &decider{out: out, allow: allow, decided: make(chan string, 1), progress: progress}
}

func (d *decider) Write(p []byte) (int, error) {
	d.in.Add(int64(len(p)))
	if d.w != nil {
		return d.w.Write(p)
	}
	d.sample = append(d.sample, p...)
	if len(d.sample) >= sampleSize {
		if err := d.decide(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// decide picks plain or zstd from the sample and writes the sample out.
func (d *decider) decide() error {
	d.w = d.out
	enc := ""
	if d.allow {
		if _, ok := archive.Compress(d.sample); ok {
			// the compressed side reports progress: the tar bytes taken once what they became is sent
			e, err := archive.NewEncoder(&reporting{w: d.out, d: d})
			if err == nil {
				d.enc, d.w, enc = e, e, protocol.EncodingZstd
			}
		}
	}
	d.decided <- enc
	_, err := d.w.Write(d.sample)
	d.sample = nil
	return err
}

// Close decides if the stream ended within the sample, and ends the compressed stream.
func (d *decider) Close() error {
	if d.w == nil {
		if err := d.decide(); err != nil {
			return err
		}
	}
	if d.enc != nil {
		return d.enc.Close()
	}
	return nil
}

// reporting passes the encoder's output on, and after each write (a pipe's write returns once the
// transport has read it) tells the progress hook the tar bytes taken so far.
type reporting struct {
	w io.Writer
	d *decider
}

func (r *reporting) Write(p []byte) (int, error) {
	n, err := r.w.Write(p)
	if r.d.progress != nil && n > 0 {
		r.d.progress(r.d.in.Load())
	}
	return n, err
}

// progressHook is ctx's progress hook (WithProgress), or nil.
func progressHook(ctx context.Context) func(int64) {
	f, _ := ctx.Value(progressKey{}).(func(int64))
	return f
}

var _ io.WriteCloser = (*decider)(nil)
