package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/portforward"
)

// PodDialer opens connections to ports of pods for `up`'s forwards: each connection is a pair of
// streams (data and error) on one port-forward connection per pod, made on first use and kept for
// the session. Unlike client-go's PortForwarder, which ends the whole port-forward when the pod
// refuses one connection (the app restarting), a refusal here fails that connection alone.
type PodDialer struct {
	dial func(ctx context.Context, pod string) (httpstream.Connection, error) // a new port-forward connection

	mu     sync.Mutex
	pods   map[string]*podStreams
	closed bool
}

// PodDialer returns a dialer of the client's pods; Close releases its connections.
func (c *Client) PodDialer() *PodDialer {
	return &PodDialer{dial: c.dialPortForward, pods: map[string]*podStreams{}}
}

// podStreams is the port-forward connection to one pod.
type podStreams struct {
	mu     sync.Mutex // held while connecting, so concurrent dials to a pod share one connection
	conn   httpstream.Connection
	nextID atomic.Int64 // request IDs pair a data stream with its error stream
}

// DialPod connects to port of pod. A connection the pod refuses fails when it is read, with a
// *RemoteError; a port-forward connection found dead is replaced once.
func (d *PodDialer) DialPod(ctx context.Context, pod string, port int) (net.Conn, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errors.New("the pod dialer is closed")
	}
	ps := d.pods[pod]
	if ps == nil {
		ps = &podStreams{}
		d.pods[pod] = ps
	}
	d.mu.Unlock()
	for attempt := 0; ; attempt++ {
		conn, fresh, err := ps.connect(ctx, d.dial, pod)
		if err != nil {
			return nil, err
		}
		sc, err := ps.open(conn, pod, port)
		if err == nil {
			return sc, nil
		}
		ps.drop(conn)
		if fresh || attempt > 0 {
			return nil, fmt.Errorf("port-forward to pod %s, port %d: %w", pod, port, err)
		}
	}
}

// Forget closes the connection to a pod that is gone.
func (d *PodDialer) Forget(pod string) {
	d.mu.Lock()
	ps := d.pods[pod]
	delete(d.pods, pod)
	d.mu.Unlock()
	if ps != nil {
		ps.close()
	}
}

// Close closes every connection; later dials fail.
func (d *PodDialer) Close() {
	d.mu.Lock()
	d.closed = true
	pods := d.pods
	d.pods = map[string]*podStreams{}
	d.mu.Unlock()
	for _, ps := range pods {
		ps.close()
	}
}

// connect returns the pod's live connection, making one (fresh) when there is none.
func (ps *podStreams) connect(ctx context.Context, dial func(context.Context, string) (httpstream.Connection, error), pod string) (httpstream.Connection, bool, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.conn != nil {
		select {
		case <-ps.conn.CloseChan():
			ps.conn = nil
		default:
			return ps.conn, false, nil
		}
	}
	conn, err := dial(ctx, pod)
	if err != nil {
		return nil, false, err
	}
	ps.conn = conn
	return conn, true, nil
}

// drop forgets conn (and closes it) when it is still the pod's connection.
func (ps *podStreams) drop(conn httpstream.Connection) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.conn == conn {
		ps.conn = nil
	}
	closeConn(conn)
}

func (ps *podStreams) close() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.conn != nil {
		closeConn(ps.conn)
		ps.conn = nil
	}
}

// closeConn closes a port-forward connection that is given up on: its error tells nothing more.
func closeConn(conn httpstream.Connection) { _ = conn.Close() }

// dialPortForward upgrades a connection to the pod's port-forward subresource, giving up after
// forwardTimeout (an upgrade that never completes must not hang the connection waiting for it).
func (c *Client) dialPortForward(ctx context.Context, pod string) (httpstream.Connection, error) {
	dialer, err := c.portForwardDialer(pod)
	if err != nil {
		return nil, err
	}
	type result struct {
		conn httpstream.Connection
		err  error
	}
	done := make(chan result, 1)
	go func() {
		conn, _, err := dialer.Dial(portforward.PortForwardProtocolV1Name)
		done <- result{conn, err}
	}()
	timeout := time.NewTimer(forwardTimeout)
	defer timeout.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, c.forwardFailed(pod, dialer, r.err)
		}
		return r.conn, nil
	case <-timeout.C:
		err = fmt.Errorf("port-forward to pod %s: not established within %s", pod, forwardTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	go func() {
		if r := <-done; r.conn != nil {
			closeConn(r.conn) // came too late: nobody uses it
		}
	}()
	return nil, err
}

// open creates the error and data streams of one connection to port.
func (ps *podStreams) open(conn httpstream.Connection, pod string, port int) (*streamConn, error) {
	headers := http.Header{}
	headers.Set(corev1.StreamType, corev1.StreamTypeError)
	headers.Set(corev1.PortHeader, strconv.Itoa(port))
	headers.Set(corev1.PortForwardRequestIDHeader, strconv.FormatInt(ps.nextID.Add(1), 10))
	errStream, err := conn.CreateStream(headers)
	if err != nil {
		return nil, fmt.Errorf("creating the error stream: %w", err)
	}
	// nothing is written to the error stream: the pod writes, once, why a connection failed
	if err := errStream.Close(); err != nil {
		conn.RemoveStreams(errStream)
		return nil, fmt.Errorf("closing the error stream's sending side: %w", err)
	}
	headers.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := conn.CreateStream(headers)
	if err != nil {
		conn.RemoveStreams(errStream)
		return nil, fmt.Errorf("creating the data stream: %w", err)
	}
	sc := &streamConn{conn: conn, data: data, errStream: errStream, remoteErr: make(chan error, 1), pod: pod, port: port}
	go sc.readErrors()
	return sc, nil
}

// RemoteError is why the pod ended a forwarded connection, as its error stream said: most often
// that nothing listens on the port (the app is restarting).
type RemoteError struct {
	Pod  string
	Port int
	Msg  string // the kubelet's message
}

func (e *RemoteError) Error() string {
	if strings.Contains(e.Msg, "connection refused") {
		return fmt.Sprintf("nothing listens on port %d of pod %s (connection refused)", e.Port, e.Pod)
	}
	return fmt.Sprintf("pod %s, port %d: %s", e.Pod, e.Port, e.Msg)
}

// errorWait is how long a read that met the end of the data stream waits for the error stream: the
// pod ends the error stream (after writing why, if anything failed) before the data stream, so a
// refusal's reason is normally there already.
const errorWait = 500 * time.Millisecond

// streamConn is one forwarded connection: a net.Conn over a data stream, with the pod's error.
type streamConn struct {
	conn            httpstream.Connection
	data, errStream httpstream.Stream
	remoteErr       chan error // the pod's error, if any; closed once the error stream ends
	pod             string
	port            int

	readErr   error // sticky: the pod's error, once seen
	closeOnce sync.Once
}

var _ net.Conn = (*streamConn)(nil)

func (s *streamConn) readErrors() {
	defer close(s.remoteErr)
	msg, err := io.ReadAll(s.errStream)
	switch {
	case err != nil:
		s.remoteErr <- fmt.Errorf("reading the port-forward's error stream: %w", err)
	case len(msg) > 0:
		s.remoteErr <- &RemoteError{Pod: s.pod, Port: s.port, Msg: string(msg)}
	}
}

// Read reads from the pod; the end of the stream is the pod's error when it sent one.
func (s *streamConn) Read(p []byte) (int, error) {
	if s.readErr != nil {
		return 0, s.readErr
	}
	n, err := s.data.Read(p)
	if err == nil {
		return n, nil
	}
	timer := time.NewTimer(errorWait)
	defer timer.Stop()
	select {
	case rerr, ok := <-s.remoteErr:
		if ok && rerr != nil {
			s.readErr = rerr
			return n, rerr
		}
	case <-timer.C:
	}
	return n, err
}

func (s *streamConn) Write(p []byte) (int, error) { return s.data.Write(p) }

// CloseWrite tells the pod nothing more will be sent.
func (s *streamConn) CloseWrite() error { return s.data.Close() }

// Close ends the connection: unsent data is dropped and the streams are released.
func (s *streamConn) Close() error {
	var err error
	s.closeOnce.Do(func() {
		err = s.data.Reset()
		s.conn.RemoveStreams(s.data, s.errStream)
	})
	return err
}

// streamAddr is the address of either end of a forwarded connection, for logs.
type streamAddr string

func (a streamAddr) Network() string { return "portforward" }
func (a streamAddr) String() string  { return string(a) }

func (s *streamConn) LocalAddr() net.Addr { return streamAddr("local") }
func (s *streamConn) RemoteAddr() net.Addr {
	return streamAddr(s.pod + ":" + strconv.Itoa(s.port))
}

var errNoDeadlines = errors.New("a forwarded connection has no deadlines")

func (s *streamConn) SetDeadline(time.Time) error      { return errNoDeadlines }
func (s *streamConn) SetReadDeadline(time.Time) error  { return errNoDeadlines }
func (s *streamConn) SetWriteDeadline(time.Time) error { return errNoDeadlines }
