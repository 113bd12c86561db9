// Package forward keeps `up`'s port forwards: one local listener per forwarded port for the whole
// session, each accepted connection sent to a ready pod of the Deployment at the moment it arrives.
// A connection the pod refuses (the app restarting) fails alone; the listener stays, and the next
// connection goes to whichever pod is ready then, so forwards outlive process restarts, replaced
// pods and rollouts. Pods come from the caller's pod subscription (in `up`, the shared informer) and
// connections from a Dialer (pkg/kube's, through the API server's port-forward).
package forward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// PodSource follows the pods of a selector; see kube.PodInformers.SubscribePods.
type PodSource interface {
	SubscribePods(ctx context.Context, selector string, onPod func(pod *corev1.Pod, gone bool), onErr func(error)) error
}

// Dialer opens one connection to a port of a pod.
type Dialer interface {
	// DialPod connects to port of pod. A refusal by the pod may show only when the returned
	// connection is read (an error other than io.EOF).
	DialPod(ctx context.Context, pod string, port int) (net.Conn, error)
	// Forget releases what the dialer keeps for a pod that is gone.
	Forget(pod string)
}

// Reporter is where the forwards are shown: the live view or plain lines, and the status records.
type Reporter interface {
	// Forwarding tells that url forwards to port remote of the Deployment's ready pods.
	Forwarding(deployment, url string, remote int)
	Info(msg string)
	Warn(msg string)
}

// DefaultWaitReady is how long a connection that arrives while no pod is ready waits for one
// before it is closed: long enough for a pod to be replaced, short enough that a client is not left
// hanging on a Deployment scaled to zero.
const DefaultWaitReady = 60 * time.Second

// Config is what Run forwards.
type Config struct {
	Set *Set
	// Selectors holds each Deployment's pod label selector.
	Selectors map[string]string
	// WaitReady is how long a connection waits for a ready pod; zero means DefaultWaitReady.
	WaitReady time.Duration
}

// Run serves the set's listeners until ctx ends, then closes them and every connection still open,
// and returns once all are closed. Failures of single connections are reported, never fatal.
func Run(ctx context.Context, src PodSource, dial Dialer, cfg Config, report Reporter) error {
	if cfg.WaitReady <= 0 {
		cfg.WaitReady = DefaultWaitReady
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	pools := map[string]*pool{}
	for _, l := range cfg.Set.Listeners {
		if pools[l.Deployment] != nil {
			continue
		}
		sel, ok := cfg.Selectors[l.Deployment]
		if !ok {
			return fmt.Errorf("forward: no pod selector for deployment %q", l.Deployment)
		}
		p := newPool()
		pools[l.Deployment] = p
		wg.Add(1)
		go func(dep string) {
			defer wg.Done()
			follow(ctx, src, dial, dep, sel, p, report)
		}(l.Deployment)
	}
	conns := &connSet{open: map[net.Conn]bool{}}
	for _, l := range cfg.Set.Listeners {
		if l.Note != "" {
			report.Info(l.Note)
		}
		report.Forwarding(l.Deployment, l.URL(), l.Remote)
		f := &forwarder{l: l, pool: pools[l.Deployment], dial: dial, report: report, conns: conns, waitReady: cfg.WaitReady}
		for _, ln := range l.ls {
			wg.Add(1)
			go func(ln net.Listener) {
				defer wg.Done()
				f.serve(ctx, ln)
			}(ln)
		}
	}
	<-ctx.Done()
	cfg.Set.Close()
	conns.closeAll()
	wg.Wait()
	return nil
}

// follow keeps a pool's ready pods current until ctx ends.
func follow(ctx context.Context, src PodSource, dial Dialer, dep, selector string, p *pool, report Reporter) {
	err := src.SubscribePods(ctx, selector, func(pod *corev1.Pod, gone bool) {
		p.set(pod.Name, !gone && Ready(pod))
		if gone {
			dial.Forget(pod.Name)
		}
	}, func(err error) {
		report.Warn(fmt.Sprintf("%s: forwards: watching pods: %v", dep, err))
	})
	if err != nil {
		report.Warn(fmt.Sprintf("%s: forwards: watching pods: %v", dep, err))
	}
}

// connSet is every proxied connection still open, so Run can close them when `up` ends.
type connSet struct {
	mu     sync.Mutex
	open   map[net.Conn]bool
	closed bool
}

// add records c, or closes it at once when Run is ending (false).
func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		closeQuietly(c)
		return false
	}
	s.open[c] = true
	return true
}

func (s *connSet) remove(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.open, c)
}

func (s *connSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.open {
		closeQuietly(c)
	}
}

// closeQuietly closes a connection whose close error tells nothing: the peer is gone either way.
func closeQuietly(c net.Conn) { _ = c.Close() }

// forwarder serves one Listener.
type forwarder struct {
	l         *Listener
	pool      *pool
	dial      Dialer
	report    Reporter
	conns     *connSet
	waitReady time.Duration

	mu      sync.Mutex
	failing bool // a failure was reported and no connection has succeeded since
}

// serve accepts connections until the listener is closed. An accept error that is not the
// listener's end (too many open files, say) is waited out: the listener is never given up.
func (f *forwarder) serve(ctx context.Context, ln net.Listener) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			f.failed(fmt.Sprintf("accepting a connection: %v (retrying)", err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if !f.conns.add(c) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer f.conns.remove(c)
			f.handle(ctx, c)
		}()
	}
}
