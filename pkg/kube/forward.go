package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/portforward"
)

// PodDialer opens connections to ports of pods for `up`'s forwards: each connection is a pair of
// streams (data and error) on one port-forward connection per pod and port, made on first use and
// kept while it serves. Unlike client-go's PortForwarder, which ends the whole port-forward when the
// pod refuses one connection (the app restarting), a refusal fails that connection alone.
//
// A refused connection still spoils the port-forward connection it was made on: the pod's side
// stops reading that stream, and the request bytes already sent on it block one of the pod side's
// frame workers, so later streams hashed to that worker hang. So a connection on which the pod
// reported an error is retired: new connections get a fresh one, and the retired one is closed
// once its last stream ends (or after retireGrace).
type PodDialer struct {
	dial func(ctx context.Context, pod string) (httpstream.Connection, error) // a new port-forward connection

	mu     sync.Mutex
	pods   map[string]map[int]*podStreams // by pod and port
	closed bool
}

// retireGrace is how long the other connections of a retired port-forward connection may go on
// before it is closed under them: a stream hashed to the blocked worker would otherwise hang.
const retireGrace = 30 * time.Second

// PodDialer returns a dialer of the client's pods; Close releases its connections.
func (c *Client) PodDialer() *PodDialer {
	return &PodDialer{dial: c.dialPortForward, pods: map[string]map[int]*podStreams{}}
}

// podStreams is the current port-forward connection to one port of a pod.
type podStreams struct {
	mu     sync.Mutex // held while connecting, so concurrent dials share one connection
	conn   *shared
	nextID atomic.Int64 // request IDs pair a data stream with its error stream
}

// shared is one port-forward connection and how many forwarded connections are open on it.
type shared struct {
	httpstream.Connection
	mu      sync.Mutex
	open    int
	retired bool
}

// acquire counts one more connection on s, unless s is retired.
func (s *shared) acquire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retired {
		return false
	}
	s.open++
	return true
}

// release counts one connection less, closing a retired s after its last.
func (s *shared) release() {
	s.mu.Lock()
	s.open--
	last := s.retired && s.open == 0
	s.mu.Unlock()
	if last {
		closeConn(s.Connection)
	}
}

// retire takes no more connections on s, and closes it once the open ones end (at the latest
// after retireGrace).
func (s *shared) retire() {
	s.mu.Lock()
	if s.retired {
		s.mu.Unlock()
		return
	}
	s.retired = true
	idle := s.open == 0
	s.mu.Unlock()
	if idle {
		closeConn(s.Connection)
		return
	}
	time.AfterFunc(retireGrace, func() { closeConn(s.Connection) })
}

// DialPod connects to port of pod. A connection the pod refuses fails when it is read, with a
// *RemoteError; a port-forward connection found dead is replaced once.
func (d *PodDialer) DialPod(ctx context.Context, pod string, port int) (net.Conn, error) {
	ps, err := d.streams(pod, port)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		sh, fresh, err := ps.connect(ctx, d.dial, pod)
		if err != nil {
			return nil, err
		}
		sc, err := ps.open(sh, pod, port)
		if err == nil {
			return sc, nil
		}
		ps.drop(sh)
		if fresh || attempt > 0 {
			return nil, fmt.Errorf("port-forward to pod %s, port %d: %w", pod, port, err)
		}
	}
}

// streams returns the connection holder of a pod's port.
func (d *PodDialer) streams(pod string, port int) (*podStreams, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errors.New("the pod dialer is closed")
	}
	if d.pods[pod] == nil {
		d.pods[pod] = map[int]*podStreams{}
	}
	ps := d.pods[pod][port]
	if ps == nil {
		ps = &podStreams{}
		d.pods[pod][port] = ps
	}
	return ps, nil
}

// Forget closes the connections to a pod that is gone.
func (d *PodDialer) Forget(pod string) {
	d.mu.Lock()
	ports := d.pods[pod]
	delete(d.pods, pod)
	d.mu.Unlock()
	for _, ps := range ports {
		ps.close()
	}
}

// Close closes every connection; later dials fail.
func (d *PodDialer) Close() {
	d.mu.Lock()
	d.closed = true
	pods := d.pods
	d.pods = map[string]map[int]*podStreams{}
	d.mu.Unlock()
	for _, ports := range pods {
		for _, ps := range ports {
			ps.close()
		}
	}
}

// connect returns the live connection, making one (fresh) when there is none.
func (ps *podStreams) connect(ctx context.Context, dial func(context.Context, string) (httpstream.Connection, error), pod string) (*shared, bool, error) {
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
	ps.conn = &shared{Connection: conn}
	return ps.conn, true, nil
}

// drop retires sh, and forgets it when it is still the current connection.
func (ps *podStreams) drop(sh *shared) {
	ps.mu.Lock()
	if ps.conn == sh {
		ps.conn = nil
	}
	ps.mu.Unlock()
	sh.retire()
}

func (ps *podStreams) close() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.conn != nil {
		closeConn(ps.conn.Connection)
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
