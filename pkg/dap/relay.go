package dap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Upstream reaches the Delve that runs the app in the pod. Each Connect returns a new connection to
// the Delve of the current build, having asked the pod to run the app under Delve when it did not.
// Attached tells the pod whether an IDE session is configured: while one is, the pod starts each new
// build halted, and the relay's replay (breakpoints, then configurationDone) lets it run, so no
// request runs in a new build before the IDE's breakpoints are set in it.
type Upstream interface {
	Connect(ctx context.Context) (io.ReadWriteCloser, error)
	Attached(ctx context.Context, attached bool) error
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
	// ExceptionHold is how long a `stopped` event with reason "exception" waits before it reaches the
	// IDE; zero means 1s. Delve reports one (thread 0, "runtime error") when a restart kills the program
	// under a running command, and its connection ends milliseconds later: such a stop is dropped.
	ExceptionHold time.Duration
}

// Relay serves IDE sessions on a listener, each relayed to the pod's Delve and kept across restarts.
type Relay struct {
	cfg     Config
	up      Upstream
	report  Reporter
	stopped atomic.Int32 // sessions whose program is stopped (at a breakpoint, a step, a pause)

	mu       sync.Mutex
	released chan struct{} // closed when no session holds the program stopped
	attached int           // sessions that sent configurationDone and have not ended

	attachMu sync.Mutex // one Upstream.Attached call at a time, each telling the latest state
}

// NewRelay returns a relay; Serve runs it.
func NewRelay(cfg Config, up Upstream, report Reporter) *Relay {
	if cfg.Retry <= 0 {
		cfg.Retry = 250 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.ExceptionHold <= 0 {
		cfg.ExceptionHold = time.Second
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

// setAttached counts a configured session in (+1) or out (-1) and tells the pod whether any is left
// (Upstream.Attached), in the background: the IDE's requests do not wait for the pod. ctx may have
// ended (the IDE left with `up`): the pod is told all the same, within a few seconds.
func (r *Relay) setAttached(ctx context.Context, delta int) {
	r.mu.Lock()
	r.attached += delta
	r.mu.Unlock()
	go func() {
		r.attachMu.Lock()
		defer r.attachMu.Unlock()
		r.mu.Lock()
		on := r.attached > 0
		r.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := r.up.Attached(ctx, on); err != nil {
			r.report.Warn(fmt.Sprintf("debugger: telling the pod whether an IDE is attached: %v", err))
		}
	}()
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
