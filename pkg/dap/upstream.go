package dap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// upstream is one connection to a Delve: one build of the app.
type upstream struct {
	*conn
	replaying atomic.Bool // its session is being replayed: Delve's `initialized` is not the IDE's business

	mu      sync.Mutex
	pending map[int]pending // by the seq the relay gave the request
	gone    bool
	done    chan struct{} // closed once gone
}

// pending is a request sent to Delve whose response has not come.
type pending struct {
	ideSeq  int           // the IDE's seq for it; 0 for the relay's own requests
	command string        // its command
	source  string        // setBreakpoints: the source it was for
	reply   chan *message // the relay's own request: where its response goes (nil on loss)
}

func newUpstream(rwc io.ReadWriteCloser, replaying bool) *upstream {
	u := &upstream{conn: newConn(rwc), pending: map[int]pending{}, done: make(chan struct{})}
	u.replaying.Store(replaying)
	return u
}

// doneReplaying makes the connection the IDE's: its events pass on from now.
func (u *upstream) doneReplaying() { u.replaying.Store(false) }

// expect registers a request about to be sent.
func (u *upstream) expect(seq int, p pending) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.pending[seq] = p
}

// take returns and forgets the request a response answers.
func (u *upstream) take(seq int) (pending, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	p, ok := u.pending[seq]
	delete(u.pending, seq)
	return p, ok
}

// close ends the connection and returns the requests left unanswered.
func (u *upstream) close() []pending {
	u.mu.Lock()
	defer u.mu.Unlock()
	_ = u.rwc.Close() // a connection already gone has nothing more to say
	if !u.gone {
		close(u.done)
	}
	u.gone = true
	var left []pending
	for seq, p := range u.pending {
		left = append(left, p)
		delete(u.pending, seq)
	}
	return left
}

// ask sends one of the relay's own requests and waits for its response.
func (s *session) ask(u *upstream, command string, args json.RawMessage) (*message, error) {
	reply := make(chan *message, 1)
	if err := u.request(command, args, func(seq int) { u.expect(seq, pending{command: command, reply: reply}) }); err != nil {
		return nil, fmt.Errorf("sending %s to Delve: %w", command, err)
	}
	t := time.NewTimer(s.r.cfg.Timeout)
	defer t.Stop()
	select {
	case m := <-reply:
		if m == nil {
			return nil, fmt.Errorf("delve's connection ended before it answered %s", command)
		}
		if !m.Success {
			return m, fmt.Errorf("delve refused %s: %s", command, m.Message)
		}
		return m, nil
	case <-t.C:
		return nil, fmt.Errorf("delve did not answer %s within %s", command, s.r.cfg.Timeout)
	case <-s.ctx.Done():
		return nil, s.ctx.Err()
	}
}

// readUpstream relays Delve's responses and events to the IDE until the connection ends, then
// reconnects to the next Delve.
func (s *session) readUpstream(u *upstream) {
	for {
		m, err := readMessage(u.r)
		if err != nil {
			s.lost(u, err)
			return
		}
		switch m.Type {
		case "response":
			s.response(u, m)
		case "event":
			s.event(u, m)
		}
	}
}

// response hands a response to whoever waits for it: the relay's own request, or the IDE.
func (s *session) response(u *upstream, m *message) {
	p, ok := u.take(m.RequestSeq)
	if !ok {
		return
	}
	if p.reply != nil {
		p.reply <- m
		return
	}
	fields := map[string]any{"request_seq": p.ideSeq}
	if runningRefusal(m) {
		// configurationDone asks Delve to run the program, which a headless Delve started with
		// --continue already does: the IDE gets the success it would have had on a stopped program
		fields["success"], fields["message"], fields["body"] = true, nil, nil
	}
	if m.Success {
		switch m.Command {
		case "setBreakpoints", "setFunctionBreakpoints":
			body, err := s.bps.answered(p.source, m)
			if err != nil {
				s.r.report.Warn(fmt.Sprintf("debugger: %v", err))
			} else {
				fields["body"] = body
			}
		case "continue", "next", "stepIn", "stepOut", "stepBack", "reverseContinue":
			s.setStopped(false, 0)
		}
	}
	s.toIDE(m, fields)
}

// runningRefusal tells whether m is Delve refusing configurationDone because the program runs.
// Delve halts a running program only for breakpoint requests; other requests are refused ("Unable to
// process `configurationDone`", error "debuggee is running").
func runningRefusal(m *message) bool {
	return m.Command == "configurationDone" && !m.Success && bytes.Contains(m.raw, []byte("debuggee is running"))
}

// event passes a Delve event on, in the IDE's ids. Delve's `terminated` and `exited` are the end
// of one build, not of the IDE's session: they stay here, and the relay attaches to the next build.
func (s *session) event(u *upstream, m *message) {
	fields := map[string]any{}
	switch m.Event {
	case "initialized":
		if u.replaying.Load() {
			return
		}
	case "terminated":
		return
	case "exited":
		var body struct {
			ExitCode int `json:"exitCode"`
		}
		if m.field("body", &body) == nil {
			s.output(fmt.Sprintf("the app exited with code %d; the debugger attaches to it again when it restarts", body.ExitCode))
		}
		return
	case "stopped":
		if exceptionStop(m) {
			go s.holdStop(u, m)
			return
		}
		s.stoppedToIDE(m)
		return
	case "continued":
		s.setStopped(false, 0)
	case "breakpoint":
		if body, err := s.bps.event(m); err == nil {
			fields["body"] = body
		}
	}
	s.toIDE(m, fields)
}

// exceptionStop tells whether m is a `stopped` event with reason "exception".
func exceptionStop(m *message) bool {
	var body struct {
		Reason string `json:"reason"`
	}
	return m.field("body", &body) == nil && body.Reason == "exception"
}

// holdStop passes an exception stop on to the IDE unless Delve's connection ends within
// Config.ExceptionHold: a restart that kills the program under a running command makes Delve report
// one (thread 0, a "runtime error"), which would have the IDE ask for a stack that is gone.
func (s *session) holdStop(u *upstream, m *message) {
	t := time.NewTimer(s.r.cfg.ExceptionHold)
	defer t.Stop()
	select {
	case <-u.done:
		return
	case <-s.ctx.Done():
		return
	case <-t.C:
	}
	select {
	case <-u.done: // it ended meanwhile after all
	default:
		s.stoppedToIDE(m)
	}
}

// stoppedToIDE passes a stop on in the IDE's breakpoint ids and counts the program as stopped.
func (s *session) stoppedToIDE(m *message) {
	fields := map[string]any{}
	body, thread, err := s.bps.stopped(m)
	if err == nil {
		fields["body"] = body
	}
	s.setStopped(true, thread)
	s.toIDE(m, fields)
}

// toIDE forwards a message with the IDE's seq and the given fields replaced.
func (s *session) toIDE(m *message, fields map[string]any) {
	// an IDE that has gone ends the session through readIDE; that is not worth a line
	if err := s.ide.send(m, fields, nil); err != nil && !errors.Is(err, io.ErrClosedPipe) && !errors.Is(err, net.ErrClosed) {
		s.r.report.Warn(fmt.Sprintf("debugger: relaying to the IDE: %v", err))
	}
}

// lost handles the end of a Delve connection: the requests it left unanswered fail, and unless the
// IDE has gone the relay attaches to the next build.
func (s *session) lost(u *upstream, why error) {
	left := u.close()
	s.mu.Lock()
	current := s.up == u
	if current {
		s.up, s.ready = nil, make(chan struct{})
	}
	ended := s.ended || s.ctx.Err() != nil
	s.mu.Unlock()
	for _, p := range left {
		if p.reply != nil {
			p.reply <- nil
			continue
		}
		s.fail(&message{header: header{Seq: p.ideSeq, Command: p.command}}, "the app restarted (a new build): ask again")
	}
	if !current || ended {
		return
	}
	s.r.report.Info(fmt.Sprintf("debugger: the app restarted (%v); attaching the IDE's session to the new build", why))
	go s.connect(true)
}
