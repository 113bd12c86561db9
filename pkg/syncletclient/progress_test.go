package syncletclient

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestProgressBody: a context with a hook counts what is read; one without leaves the body as it is;
// Close reaches a body that can be closed.
func TestProgressBody(t *testing.T) {
	var got []int64
	ctx := WithProgress(context.Background(), func(n int64) { got = append(got, n) })
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte("hello ")) // the reader reads both writes below; errors show as a short read
		_, _ = pw.Write([]byte("world"))
		pw.Close()
	}()
	b, err := io.ReadAll(progressBody(ctx, pr))
	if err != nil || string(b) != "hello world" || len(got) != 2 || got[1] != 11 {
		t.Fatalf("read %q, %v; progress %v", b, err, got)
	}
	plain := strings.NewReader("x")
	if progressBody(context.Background(), plain) != io.Reader(plain) {
		t.Error("a context without a hook wraps the body")
	}
	pr2, _ := io.Pipe()
	body := progressBody(ctx, pr2).(io.Closer)
	if err := body.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := pr2.Read(make([]byte, 1)); err != io.ErrClosedPipe {
		t.Errorf("the pipe was not closed: %v", err)
	}
}
