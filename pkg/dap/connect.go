package dap

import (
	"encoding/json"
	"fmt"
	"time"

	godap "github.com/google/go-dap"
)

// connect reaches a Delve (the first one, or after a restart the next build's), replays the IDE's
// session on it when replay is set, and makes it the session's upstream. It tries until it succeeds,
// the IDE leaves or the relay stops.
func (s *session) connect(replay bool) {
	if replay {
		s.mu.Lock()
		wasStopped, thread := s.stopped, s.thread
		s.mu.Unlock()
		s.output("the app restarted with a new build: attaching to it; your breakpoints follow")
		if wasStopped { // the stopped process is gone: the IDE must not wait for it
			s.setStopped(false, 0)
			if err := s.ide.event("continued", godap.ContinuedEventBody{ThreadId: thread, AllThreadsContinued: true}); err != nil {
				s.r.report.Warn(fmt.Sprintf("debugger: telling the IDE: %v", err))
			}
		}
	}
	warned := false
	for s.ctx.Err() == nil && !s.hasEnded() {
		n, err := s.attachOnce(replay)
		if err == nil {
			if replay {
				s.output(fmt.Sprintf("attached to the new build; %d breakpoint(s) set again", n))
			}
			return
		}
		if !warned {
			s.r.report.Warn(fmt.Sprintf("debugger: %v; trying again until the app runs", err))
			warned = true
		}
		select {
		case <-s.ctx.Done():
		case <-time.After(s.r.cfg.Retry):
		}
	}
}

func (s *session) hasEnded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// attachOnce connects to Delve once and, when replay is set, replays the session on it.
func (s *session) attachOnce(replay bool) (int, error) {
	rwc, err := s.r.up.Connect(s.ctx)
	if err != nil {
		return 0, err
	}
	u := newUpstream(rwc, replay)
	go s.readUpstream(u)
	n := 0
	if replay {
		if n, err = s.replay(u); err != nil {
			u.close()
			return 0, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		u.close()
		return n, nil
	}
	u.doneReplaying()
	s.up = u
	close(s.ready)
	return n, nil
}

// replay sends the new Delve what the IDE sent the old one: initialize, attach, its breakpoints
// (re-checked against the edited source), configurationDone. It returns how many breakpoints it set.
func (s *session) replay(u *upstream) (int, error) {
	s.mu.Lock()
	init, attach, configured := s.init, s.attach, s.configured
	s.mu.Unlock()
	if init == nil {
		return 0, nil
	}
	if _, err := s.ask(u, "initialize", init.args); err != nil {
		return 0, err
	}
	if attach == nil {
		return 0, nil
	}
	if _, err := s.ask(u, "attach", attach.args); err != nil {
		return 0, err
	}
	ask := func(command string, args json.RawMessage) (*message, error) { return s.ask(u, command, args) }
	n, err := s.bps.replay(ask, s.r.cfg.Paths, s.breakpointChanged)
	if err != nil {
		return n, err
	}
	if configured {
		if m, err := s.ask(u, "configurationDone", nil); err != nil && (m == nil || !runningRefusal(m)) {
			return n, err
		}
	}
	return n, nil
}

// breakpointChanged tells the IDE where a breakpoint is on the new build and whether Delve could set it.
func (s *session) breakpointChanged(bp godap.Breakpoint) {
	if err := s.ide.event("breakpoint", godap.BreakpointEventBody{Reason: "changed", Breakpoint: bp}); err != nil {
		s.r.report.Warn(fmt.Sprintf("debugger: telling the IDE: %v", err))
	}
}
