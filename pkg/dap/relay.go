package dap

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Upstream reaches the Delve that runs the app in the pod. Each Connect returns a new connection to
// the Delve of the current build, having asked the pod to run the app under Delve when it did not.
type Upstream interface {
	Connect(ctx context.Context) (io.ReadWriteCloser, error)
}

// Reporter shows what the relay does (`up`'s view).
type Reporter interface {
	Info(msg string)
	Warn(msg string)
}

// Config is what the relay needs besides its upstream.
type Config struct {
	// Paths maps the rules' local directories to their in-pod paths. An attach request without a
	// substitutePath gets them as one, so the IDE sees local files; breakpoint lines are re-read there.
	Paths []Mapping
	// Retry is the pause between attempts to reach a new Delve after a restart; zero means 250ms.
	Retry time.Duration
	// Timeout bounds each replayed request; zero means 30s (Delve reads the new binary's DWARF first).
	Timeout time.Duration
}

// Relay serves IDE sessions on a listener, each relayed to the pod's Delve and kept across restarts.
type Relay struct {
	cfg     Config
	up      Upstream
	report  Reporter
	stopped atomic.Int32 // sessions whose program is stopped (at a breakpoint, a step, a pause)

	mu       sync.Mutex
	released chan struct{} // closed when no session holds the program stopped
}

// NewRelay returns a relay; Serve runs it.
func NewRelay(cfg Config, up Upstream, report Reporter) *Relay {
	if cfg.Retry <= 0 {
		cfg.Retry = 250 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	r := &Relay{cfg: cfg, up: up, report: report, released: make(chan struct{})}
	close(r.released)
	return r
}

// Serve accepts IDE connections on ln until ctx ends, then closes ln and every session.
func (r *Relay) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		_ = ln.Close() // ends Accept below
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.serveSession(ctx, c)
		}()
	}
}

// Stopped reports whether an IDE holds the program stopped (at a breakpoint, after a step or a pause).
func (r *Relay) Stopped() bool { return r.stopped.Load() > 0 }

// WaitRunning returns once no IDE holds the program stopped, or when ctx ends: an edit waits for the
// IDE to continue rather than pull the process away under it.
func (r *Relay) WaitRunning(ctx context.Context) error {
	r.mu.Lock()
	ch := r.released
	r.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setStopped counts a session's program as stopped or running again.
func (r *Relay) setStopped(stopped bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.stopped.Load()
	switch {
	case stopped:
		if n == 0 {
			r.released = make(chan struct{})
		}
		r.stopped.Add(1)
	case n > 0:
		if r.stopped.Add(-1) == 0 {
			close(r.released)
		}
	}
}

// serveSession relays one IDE connection until the IDE leaves or ctx ends.
func (r *Relay) serveSession(ctx context.Context, c net.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := newSession(ctx, r, newConn(c))
	go func() {
		<-ctx.Done()
		_ = c.Close() // ends the IDE reader below
	}()
	go s.connect(false)
	s.readIDE()
	s.end()
}

// request is one IDE request as the relay keeps it for replays.
type request struct {
	command string
	args    json.RawMessage
}
