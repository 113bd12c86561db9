package dap

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	godap "github.com/google/go-dap"
)

// fakeDelve is an in-process DAP server answering as Delve does the requests the relay sends: one per
// build of the app. Its breakpoint ids start at 100*gen, so ids of different builds never agree.
// Its program starts halted when the relay said an IDE is attached (Upstream.Attached), as the pod's
// Delve then starts without --continue, and runs once configurationDone comes.
type fakeDelve struct {
	gen  int
	conn net.Conn
	mu   sync.Mutex
	reqs []godap.Message
	seq  int

	running bool // the program runs
	halted  bool // it started halted
	bpsSet  bool // a setBreakpoints came
	// ranUnguarded: the program ran before this Delve had the IDE's breakpoints (a request to it could
	// have passed them)
	ranUnguarded bool
}

func (f *fakeDelve) serve() {
	r := bufio.NewReader(f.conn)
	for {
		msg, err := godap.ReadProtocolMessage(r)
		if err != nil {
			return
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, msg)
		f.mu.Unlock()
		f.answer(msg)
	}
}

func (f *fakeDelve) send(m godap.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	switch v := m.(type) {
	case godap.ResponseMessage:
		v.GetResponse().Seq, v.GetResponse().Type = f.seq, "response"
	case godap.EventMessage:
		v.GetEvent().Seq, v.GetEvent().Type = f.seq, "event"
	}
	_ = godap.WriteProtocolMessage(f.conn, m) // a relay that has gone is what some tests want
}

func resp(req godap.RequestMessage) godap.Response {
	r := req.GetRequest()
	return godap.Response{RequestSeq: r.Seq, Command: r.Command, Success: true}
}

func (f *fakeDelve) answer(msg godap.Message) {
	switch req := msg.(type) {
	case *godap.InitializeRequest:
		f.send(&godap.InitializeResponse{Response: resp(req)})
	case *godap.AttachRequest:
		f.send(&godap.AttachResponse{Response: resp(req)})
		f.send(&godap.InitializedEvent{Event: godap.Event{Event: "initialized"}})
	case *godap.SetBreakpointsRequest:
		f.mu.Lock()
		f.bpsSet = true
		f.mu.Unlock()
		var bps []godap.Breakpoint
		for i, b := range req.Arguments.Breakpoints {
			bps = append(bps, godap.Breakpoint{Id: 100*f.gen + i + 1, Verified: true, Line: b.Line, Source: &req.Arguments.Source})
		}
		f.send(&godap.SetBreakpointsResponse{Response: resp(req), Body: godap.SetBreakpointsResponseBody{Breakpoints: bps}})
	case *godap.SetFunctionBreakpointsRequest:
		var bps []godap.Breakpoint
		for i := range req.Arguments.Breakpoints {
			bps = append(bps, godap.Breakpoint{Id: 100*f.gen + 50 + i, Verified: true})
		}
		f.send(&godap.SetFunctionBreakpointsResponse{Response: resp(req), Body: godap.SetFunctionBreakpointsResponseBody{Breakpoints: bps}})
	case *godap.ConfigurationDoneRequest:
		f.mu.Lock()
		wasRunning := f.running
		if !wasRunning { // Delve runs a halted program once the configuration is done
			f.running, f.ranUnguarded = true, f.ranUnguarded || !f.bpsSet
		}
		f.mu.Unlock()
		if !wasRunning {
			f.send(&godap.ConfigurationDoneResponse{Response: resp(req)})
			return
		}
		// as Delve answers with the program running (a headless Delve started with --continue)
		r := resp(req)
		r.Success, r.Message = false, "Unable to process `configurationDone`"
		f.send(&godap.ErrorResponse{Response: r, Body: godap.ErrorResponseBody{Error: &godap.ErrorMessage{Id: 4000, Format: "Unable to process `configurationDone`: debuggee is running"}}})
	case *godap.ContinueRequest:
		f.send(&godap.ContinueResponse{Response: resp(req)})
	case *godap.DisconnectRequest:
		f.send(&godap.DisconnectResponse{Response: resp(req)})
	case godap.RequestMessage:
		r := resp(req)
		r.Success, r.Message = false, "not faked"
		f.send(&godap.ErrorResponse{Response: r})
	}
}

// requests returns the commands the fake received, in order.
func (f *fakeDelve) requests() []godap.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]godap.Message(nil), f.reqs...)
}

// fakeUpstream starts a new fakeDelve for every Connect, as the pod starts a new Delve per build:
// halted while the relay says an IDE is attached.
type fakeUpstream struct {
	mu       sync.Mutex
	delves   []*fakeDelve
	next     chan *fakeDelve
	attached bool
}

var _ Upstream = (*fakeUpstream)(nil)

func newFakeUpstream() *fakeUpstream { return &fakeUpstream{next: make(chan *fakeDelve, 8)} }

func (u *fakeUpstream) Connect(context.Context) (io.ReadWriteCloser, error) {
	a, b := net.Pipe()
	u.mu.Lock()
	f := &fakeDelve{gen: len(u.delves) + 1, conn: b, running: !u.attached, halted: u.attached, ranUnguarded: !u.attached}
	u.delves = append(u.delves, f)
	u.mu.Unlock()
	go f.serve()
	u.next <- f
	return a, nil
}

func (u *fakeUpstream) Attached(_ context.Context, attached bool) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.attached = attached
	return nil
}

// isAttached reports what the relay last said.
func (u *fakeUpstream) isAttached() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.attached
}

// delve waits for the next Delve the relay connects to.
func (u *fakeUpstream) delve(t *testing.T) *fakeDelve {
	t.Helper()
	select {
	case f := <-u.next:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("the relay did not connect to a new Delve")
		return nil
	}
}

// ide is a DAP client standing in for the IDE.
type ide struct {
	t   *testing.T
	c   net.Conn
	r   *bufio.Reader
	seq int
}

func (c *ide) request(m godap.RequestMessage, command string) int {
	c.seq++
	r := m.GetRequest()
	r.Seq, r.Type, r.Command = c.seq, "request", command
	if err := godap.WriteProtocolMessage(c.c, m); err != nil {
		c.t.Fatal(err)
	}
	return c.seq
}

// next reads messages until one satisfies ok, failing on a `terminated` event (the session must
// never end) and after a timeout.
func (c *ide) next(what string, ok func(godap.Message) bool) godap.Message {
	c.t.Helper()
	if err := c.c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		c.t.Fatal(err)
	}
	for {
		m, err := godap.ReadProtocolMessage(c.r)
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
		if _, bad := m.(*godap.TerminatedEvent); bad {
			c.t.Fatalf("waiting for %s: the relay sent the IDE `terminated`", what)
		}
		if ok(m) {
			return m
		}
	}
}

type reporter struct{ t *testing.T }

func (r reporter) Info(msg string) { r.t.Log("info:", msg) }
func (r reporter) Warn(msg string) { r.t.Log("warn:", msg) }
