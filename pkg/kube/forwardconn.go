package kube

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
)

// open creates the error and data streams of one connection to port.
func (ps *podStreams) open(sh *shared, pod string, port int) (*streamConn, error) {
	if !sh.acquire() {
		return nil, errors.New("the port-forward connection was retired meanwhile")
	}
	sc, err := ps.streams(sh, pod, port)
	if err != nil {
		sh.release()
		return nil, err
	}
	go sc.readErrors()
	return sc, nil
}

// streams creates the streams of a connection on sh.
func (ps *podStreams) streams(sh *shared, pod string, port int) (*streamConn, error) {
	conn := sh.Connection
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
	return &streamConn{conn: sh, data: data, errStream: errStream, remoteErr: make(chan error, 1), pod: pod, port: port,
		retire: func() { ps.drop(sh) }}, nil
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
	conn            *shared
	retire          func() // retires conn: the pod reported an error on it
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
		s.retire()
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
		s.conn.release()
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
