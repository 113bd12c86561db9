package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
)

// handle sends one accepted connection to a ready pod and copies both ways until either side ends.
func (f *forwarder) handle(ctx context.Context, c net.Conn) {
	defer closeQuietly(c)
	wctx, cancel := context.WithTimeout(ctx, f.waitReady)
	pod, err := f.pool.pick(wctx)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			f.failed(fmt.Sprintf("no pod ready for %s: a connection was closed", f.waitReady))
		}
		return
	}
	remote, err := f.dial.DialPod(ctx, pod, f.l.Remote)
	if err != nil {
		if ctx.Err() == nil {
			f.failed(fmt.Sprintf("pod %s: %v", pod, err))
		}
		return
	}
	if !f.conns.add(remote) {
		return
	}
	defer f.conns.remove(remote)
	if err := proxy(c, remote); err != nil {
		if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
			f.failed(fmt.Sprintf("pod %s: %v (the app may be restarting)", pod, err))
		}
		return
	}
	f.succeeded(pod)
}

// failed reports the first failure of a streak: during a restart every connection fails the same way.
func (f *forwarder) failed(what string) {
	f.mu.Lock()
	already := f.failing
	f.failing = true
	f.mu.Unlock()
	if !already {
		f.report.Warn(fmt.Sprintf("%s: forward %s -> port %d: %s; that connection was closed, the forward stays", f.l.Deployment, f.l.URL(), f.l.Remote, what))
	}
}

// succeeded ends a failure streak, saying so.
func (f *forwarder) succeeded(pod string) {
	f.mu.Lock()
	was := f.failing
	f.failing = false
	f.mu.Unlock()
	if was {
		f.report.Info(fmt.Sprintf("%s: forward %s -> port %d: connections reach pod %s again", f.l.Deployment, f.l.URL(), f.l.Remote, pod))
	}
}

// closeWriter is a connection that can end its sending side alone (TCP, a port-forward stream).
type closeWriter interface{ CloseWrite() error }

// proxy copies between a local connection and a pod's until the pod's side ends (then both are
// closed, as `kubectl port-forward` does) or the local side fails. The end of what the local side
// sends is passed on as a half-close, so a client that closes its sending side still gets its
// answer. It returns the error the pod's side failed with (a refused connection), nil otherwise.
func proxy(local, remote net.Conn) error {
	// podDone: the pod's side ended first (closing the local side fails the copy below, which is
	// then not the client's failure); clientFailed: the local side failed first
	var podDone, clientFailed atomic.Bool
	up := make(chan struct{})
	go func() {
		defer close(up)
		_, err := io.Copy(remote, local)
		if err != nil {
			if podDone.Load() {
				return
			}
			clientFailed.Store(true)
			closeQuietly(remote) // the client is gone: end the pod's side too
			return
		}
		if cw, ok := remote.(closeWriter); ok {
			// a failed half-close shows as the pod's side failing below
			_ = cw.CloseWrite()
		}
	}()
	rd := &readErr{r: remote}
	// only rd's errors are the pod's; a failed write is the local client's
	_, _ = io.Copy(local, rd)
	podDone.Store(true)
	closeQuietly(local)
	closeQuietly(remote)
	<-up
	if rd.err != nil && !clientFailed.Load() {
		return rd.err
	}
	return nil
}

// readErr keeps the error a reader failed with (not io.EOF, which is a normal end).
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		r.err = err
	}
	return n, err
}
