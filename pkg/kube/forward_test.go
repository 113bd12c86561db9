package kube

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
)

// fakeStream is one stream of a fakeConn: reads come from r (the pod's side), writes are kept.
type fakeStream struct {
	headers http.Header
	r       io.Reader
	mu      sync.Mutex
	written strings.Builder
	reset   bool
}

func (s *fakeStream) Read(p []byte) (int, error) { return s.r.Read(p) }
func (s *fakeStream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written.Write(p)
}
func (s *fakeStream) Close() error         { return nil }
func (s *fakeStream) Reset() error         { s.reset = true; return nil }
func (s *fakeStream) Headers() http.Header { return s.headers }
func (s *fakeStream) Identifier() uint32   { return 0 }

var _ httpstream.Stream = (*fakeStream)(nil)

// fakeConn is a port-forward connection whose pod answers each data stream with answer, or refuses
// it (the error stream says why and the data stream ends); broken fails every CreateStream.
type fakeConn struct {
	answer  string
	refuse  bool
	broken  bool
	closed  chan bool
	mu      sync.Mutex
	streams []*fakeStream
	removed int
}

func newFakeConn() *fakeConn { return &fakeConn{closed: make(chan bool)} }

func (c *fakeConn) CreateStream(h http.Header) (httpstream.Stream, error) {
	if c.broken {
		return nil, errors.New("connection reset by peer")
	}
	s := &fakeStream{headers: h.Clone(), r: strings.NewReader("")}
	switch {
	case h.Get(corev1.StreamType) == corev1.StreamTypeError && c.refuse:
		s.r = strings.NewReader(`error forwarding port 8080 to pod web-a, uid : failed to connect to localhost:8080 inside namespace "x": dial tcp4 127.0.0.1:8080: connect: connection refused`)
	case h.Get(corev1.StreamType) == corev1.StreamTypeData && !c.refuse:
		s.r = strings.NewReader(c.answer)
	}
	c.mu.Lock()
	c.streams = append(c.streams, s)
	c.mu.Unlock()
	return s, nil
}
func (c *fakeConn) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return nil
}
func (c *fakeConn) CloseChan() <-chan bool               { return c.closed }
func (c *fakeConn) SetIdleTimeout(time.Duration)         {}
func (c *fakeConn) RemoveStreams(s ...httpstream.Stream) { c.removed += len(s) }

var _ httpstream.Connection = (*fakeConn)(nil)

// dialerOf is a PodDialer whose port-forward connections are conns, in order.
func dialerOf(conns ...*fakeConn) (*PodDialer, *int) {
	dials := 0
	d := &PodDialer{pods: map[string]map[int]*podStreams{}, dial: func(context.Context, string) (httpstream.Connection, error) {
		if dials >= len(conns) {
			return nil, errors.New("no more connections")
		}
		dials++
		return conns[dials-1], nil
	}}
	return d, &dials
}

// TestPodDialerStreams: each connection is a data and an error stream with the port and a request
// ID of its own, on one port-forward connection per pod.
func TestPodDialerStreams(t *testing.T) {
	conn := newFakeConn()
	conn.answer = "hello"
	d, dials := dialerOf(conn)
	for range 2 {
		c, err := d.DialPod(context.Background(), "web-a", 8080)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(c)
		if err != nil || string(b) != "hello" {
			t.Fatalf("read %q, %v", b, err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if *dials != 1 {
		t.Errorf("%d port-forward connections for one pod, want 1", *dials)
	}
	var ids []string
	for _, s := range conn.streams {
		if s.headers.Get(corev1.PortHeader) != "8080" {
			t.Errorf("stream headers %v", s.headers)
		}
		ids = append(ids, s.headers.Get(corev1.StreamType)+"/"+s.headers.Get(corev1.PortForwardRequestIDHeader))
	}
	if strings.Join(ids, " ") != "error/1 data/1 error/2 data/2" {
		t.Errorf("streams %v", ids)
	}
	if conn.removed != 4 {
		t.Errorf("%d streams released, want 4", conn.removed)
	}
}

// TestPodDialerRefused: a refusal fails that connection with the pod's reason; the port-forward
// connection it was on is retired (closed once its streams end) and the next connection gets a new
// one, since the pod's side may have stopped serving streams on it.
func TestPodDialerRefused(t *testing.T) {
	spoilt, fresh := newFakeConn(), newFakeConn()
	spoilt.refuse, fresh.answer = true, "back"
	d, dials := dialerOf(spoilt, fresh)
	c, err := d.DialPod(context.Background(), "web-a", 8080)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(c)
	var re *RemoteError
	if !errors.As(err, &re) || err.Error() != "nothing listens on port 8080 of pod web-a (connection refused)" {
		t.Fatalf("read error %v, want the pod's refusal", err)
	}
	select {
	case <-spoilt.closed:
		t.Fatal("the port-forward connection closed under a connection still open")
	default:
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-spoilt.closed:
	default:
		t.Error("the retired port-forward connection stayed open after its last stream")
	}
	c, err = d.DialPod(context.Background(), "web-a", 8080)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(c); err != nil || string(b) != "back" || *dials != 2 {
		t.Errorf("after the refusal: %q, %v over %d connections (want a second one)", b, err, *dials)
	}
}

// TestPodDialerReconnects: a port-forward connection found dead is replaced once; Forget and
// Close release the connections.
func TestPodDialerReconnects(t *testing.T) {
	dead, good := newFakeConn(), newFakeConn()
	good.answer = "ok"
	d, dials := dialerOf(dead, good)
	if _, err := d.DialPod(context.Background(), "web-a", 8080); err != nil {
		t.Fatal(err)
	}
	dead.broken = true
	c, err := d.DialPod(context.Background(), "web-a", 8080)
	if err != nil {
		t.Fatalf("a dead connection was not replaced: %v", err)
	}
	if b, _ := io.ReadAll(c); string(b) != "ok" || *dials != 2 {
		t.Errorf("read %q over %d connections", b, *dials)
	}
	d.Forget("web-a")
	select {
	case <-good.closed:
	default:
		t.Error("Forget left the pod's connection open")
	}
	d.Close()
	if _, err := d.DialPod(context.Background(), "web-b", 8080); err == nil {
		t.Error("a closed dialer dialed")
	}
}
