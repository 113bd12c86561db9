package dap

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// session is one IDE's debug session: what it asked for (replayed on every new Delve), the current
// connection to Delve, and the id spaces the IDE sees.
type session struct {
	ctx context.Context
	r   *Relay
	ide *conn

	mu         sync.Mutex
	up         *upstream     // nil while (re)connecting
	ready      chan struct{} // closed once up is set
	init       *request      // the IDE's initialize
	attach     *request      // its attach (with substitutePath added)
	configured bool          // it sent configurationDone
	bps        breakpoints
	stopped    bool // the program is stopped, as far as the IDE knows
	thread     int  // the thread of the last stop
	ended      bool
}

func newSession(ctx context.Context, r *Relay, ide *conn) *session {
	return &session{ctx: ctx, r: r, ide: ide, ready: make(chan struct{}), bps: newBreakpoints()}
}

// readIDE relays the IDE's requests until it leaves.
func (s *session) readIDE() {
	for {
		m, err := readMessage(s.ide.r)
		if err != nil {
			return
		}
		if m.Type != "request" {
			continue
		}
		if err := s.fromIDE(m); err != nil {
			s.fail(m, err.Error())
		}
	}
}

// fromIDE records what a replay needs of m and sends it to the current Delve, waiting for one while
// the relay reconnects.
func (s *session) fromIDE(m *message) error {
	var err error
	switch m.Command {
	case "initialize":
		s.setRequest(&s.init, m, nil)
	case "attach":
		err = s.recordAttach(m)
	case "configurationDone":
		s.mu.Lock()
		first := !s.configured
		s.configured = true
		s.mu.Unlock()
		if first { // from now on each new build waits for the relay's replay
			s.r.setAttached(s.ctx, +1)
		}
	}
	if err != nil {
		return err
	}
	up, err := s.waitUpstream()
	if err != nil {
		return err
	}
	var src string
	if m.Command == "setBreakpoints" || m.Command == "setFunctionBreakpoints" {
		if src, err = s.bps.record(m, s.r.cfg.Paths); err != nil {
			return err
		}
	}
	return up.send(m, nil, func(seq int) { up.expect(seq, pending{ideSeq: m.Seq, command: m.Command, source: src}) })
}

// setRequest keeps the arguments of m in *dst, with substitutePath set when given.
func (s *session) setRequest(dst **request, m *message, args json.RawMessage) {
	if args == nil {
		var all struct {
			Arguments json.RawMessage `json:"arguments"`
		}
		if json.Unmarshal(m.raw, &all) == nil {
			args = all.Arguments
		}
	}
	s.mu.Lock()
	*dst = &request{command: m.Command, args: args}
	s.mu.Unlock()
}

// recordAttach keeps the attach request, adding the rules' path mappings as substitutePath when the
// IDE gave none, so Delve names local files (and takes local paths in breakpoints).
func (s *session) recordAttach(m *message) error {
	var args map[string]any
	if err := m.field("arguments", &args); err != nil {
		return fmt.Errorf("reading the attach request: %w", err)
	}
	if args == nil {
		args = map[string]any{}
	}
	if _, ok := args["substitutePath"]; !ok && len(s.r.cfg.Paths) > 0 {
		var sp []map[string]string
		for _, p := range s.r.cfg.Paths {
			sp = append(sp, map[string]string{"from": p.Local, "to": p.Pod})
		}
		args["substitutePath"] = sp
		raw, err := m.with(map[string]any{"arguments": args})
		if err != nil {
			return err
		}
		m.raw = raw
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return err
	}
	s.setRequest(&s.attach, m, raw)
	return nil
}

// waitUpstream returns the current Delve connection, waiting while the relay reconnects.
func (s *session) waitUpstream() (*upstream, error) {
	for {
		s.mu.Lock()
		up, ready := s.up, s.ready
		s.mu.Unlock()
		if up != nil {
			return up, nil
		}
		select {
		case <-ready:
		case <-s.ctx.Done():
			return nil, s.ctx.Err()
		}
	}
}

// fail answers an IDE request the relay could not pass on.
func (s *session) fail(m *message, why string) {
	resp := map[string]any{"type": "response", "request_seq": m.Seq, "command": m.Command, "success": false, "message": why}
	raw, err := json.Marshal(resp)
	if err != nil {
		return
	}
	if err := s.ide.send(&message{raw: raw}, nil, nil); err != nil {
		s.r.report.Warn(fmt.Sprintf("debugger: answering the IDE: %v", err))
	}
}

// output shows the IDE a line in its debug console.
func (s *session) output(text string) {
	if err := s.ide.event("output", map[string]any{"category": "console", "output": "kubectl-fastdev: " + text + "\n"}); err != nil {
		s.r.report.Warn(fmt.Sprintf("debugger: telling the IDE: %v", err))
	}
}

// setStopped records whether the program is stopped, for the relay's hold on edits.
func (s *session) setStopped(stopped bool, thread int) {
	s.mu.Lock()
	changed := s.stopped != stopped
	s.stopped = stopped
	if stopped {
		s.thread = thread
	}
	s.mu.Unlock()
	if changed {
		s.r.setStopped(stopped)
	}
}

// end closes the session once the IDE has left: Delve is told to keep the program running
// (disconnect without terminating it), and the relay's hold on edits is released.
func (s *session) end() {
	s.mu.Lock()
	up, configured := s.up, s.configured
	s.ended = true
	s.mu.Unlock()
	s.setStopped(false, 0)
	if configured { // no replay will let a build run for this session any more
		s.r.setAttached(s.ctx, -1)
	}
	if up == nil {
		return
	}
	done := make(chan *message, 1)
	err := up.request("disconnect", json.RawMessage(`{"terminateDebuggee":false}`), func(seq int) {
		up.expect(seq, pending{command: "disconnect", reply: done})
	})
	if err == nil {
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	}
	up.close()
}
