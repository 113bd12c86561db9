package syncletclient

import (
	"context"
	"io"
	"sync/atomic"
)

// progressKey is the context key of an update's progress hook.
type progressKey struct{}

// WithProgress returns a context whose update (Client.Update) tells f the bytes of its request body
// sent so far, as the transport reads them. It is how the dev loop shows a large first sync's progress
// without the client knowing about views (the way net/http/httptrace hooks a request). f is called
// from the transport's goroutine.
func WithProgress(ctx context.Context, f func(sent int64)) context.Context {
	return context.WithValue(ctx, progressKey{}, f)
}

// progressBody counts what is read from body for ctx's progress hook, if it has one.
func progressBody(ctx context.Context, body io.Reader) io.Reader {
	f, ok := ctx.Value(progressKey{}).(func(int64))
	if !ok || f == nil {
		return body
	}
	return &countingReader{r: body, f: f}
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
	f func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.f(c.n.Add(int64(n)))
	}
	return n, err
}

// Close closes the body as the transport would have without the counter (a pipe's reader).
func (c *countingReader) Close() error {
	if cl, ok := c.r.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}
