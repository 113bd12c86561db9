package dap

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	godap "github.com/google/go-dap"
)

const handlerV1 = `package main

func handler() {
	msg := "v1"
	println(msg)
}
`

// startRelay serves a relay with a fake upstream and returns an IDE connected to it.
func startRelay(t *testing.T, dir string) (*Relay, *fakeUpstream, *ide) {
	t.Helper()
	up := newFakeUpstream()
	r := NewRelay(Config{Paths: []Mapping{{Local: dir, Pod: "/app/src"}}}, up, reporter{t})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return r, up, &ide{t: t, c: c, r: bufio.NewReader(c)}
}

func isResponse(seq int) func(godap.Message) bool {
	return func(m godap.Message) bool {
		r, ok := m.(godap.ResponseMessage)
		return ok && r.GetResponse().RequestSeq == seq
	}
}

func isEvent(name string) func(godap.Message) bool {
	return func(m godap.Message) bool {
		e, ok := m.(godap.EventMessage)
		return ok && e.GetEvent().Event == name
	}
}

// attach runs the IDE's side of a session start and returns the breakpoint's id as the IDE knows it.
func attach(t *testing.T, c *ide, file string, line int) int {
	t.Helper()
	c.next("initialize", isResponse(c.request(&godap.InitializeRequest{Arguments: godap.InitializeRequestArguments{AdapterID: "go"}}, "initialize")))
	c.next("attach", isResponse(c.request(&godap.AttachRequest{Arguments: []byte(`{"request":"attach","mode":"remote"}`)}, "attach")))
	c.next("initialized", isEvent("initialized"))
	seq := c.request(&godap.SetBreakpointsRequest{Arguments: godap.SetBreakpointsArguments{
		Source: godap.Source{Path: file}, Breakpoints: []godap.SourceBreakpoint{{Line: line, Condition: `msg != ""`}}}}, "setBreakpoints")
	bps := c.next("setBreakpoints", isResponse(seq)).(*godap.SetBreakpointsResponse).Body.Breakpoints
	if len(bps) != 1 || bps[0].Id == 0 || bps[0].Line != line {
		t.Fatalf("setBreakpoints answered %+v, want one breakpoint at line %d with an id", bps, line)
	}
	// Delve refuses it while the program runs; the IDE gets the success it expects
	done := c.next("configurationDone", isResponse(c.request(&godap.ConfigurationDoneRequest{}, "configurationDone")))
	if r := done.(godap.ResponseMessage).GetResponse(); !r.Success || r.Message != "" {
		t.Fatalf("configurationDone answered %+v, want a plain success", r)
	}
	return bps[0].Id
}

func TestRelayKeepsTheSessionAcrossARestart(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "main.go")
	if err := os.WriteFile(file, []byte(handlerV1), 0o644); err != nil {
		t.Fatal(err)
	}
	r, up, c := startRelay(t, dir)
	d1 := up.delve(t)
	id := attach(t, c, file, 5)

	// the attach Delve got maps the local tree to the pod's, so it names local files
	var sub any
	for _, m := range d1.requests() {
		if a, ok := m.(*godap.AttachRequest); ok {
			sub = strings.Contains(string(a.Arguments), `"substitutePath":[{"from":"`+dir+`","to":"/app/src"}]`)
		}
	}
	if sub != true {
		t.Errorf("Delve's attach lacks the rules' substitutePath: %v", d1.requests())
	}

	d1.send(&godap.StoppedEvent{Event: godap.Event{Event: "stopped"}, Body: godap.StoppedEventBody{Reason: "breakpoint", ThreadId: 7, HitBreakpointIds: []int{101}}})
	st := c.next("stopped", isEvent("stopped")).(*godap.StoppedEvent)
	if !reflect.DeepEqual(st.Body.HitBreakpointIds, []int{id}) || !r.Stopped() {
		t.Fatalf("stopped at %v (relay stopped: %v), want the IDE's id %d", st.Body.HitBreakpointIds, r.Stopped(), id)
	}

	// an edit adds two lines above the breakpoint, the app restarts: Delve's connection ends
	edited := strings.Replace(handlerV1, "func handler() {\n", "func handler() {\n\t// added\n\t// added\n", 1)
	if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	d1.send(&godap.TerminatedEvent{Event: godap.Event{Event: "terminated"}})
	d1.conn.Close()

	cont := c.next("continued", isEvent("continued")).(*godap.ContinuedEvent)
	if cont.Body.ThreadId != 7 || !cont.Body.AllThreadsContinued {
		t.Errorf("continued %+v, want thread 7, all threads", cont.Body)
	}
	d2 := up.delve(t)
	checkReplay(t, c, d2, id)
	if r.Stopped() {
		t.Error("the relay still holds edits after the stopped build went away")
	}

	// the same IDE connection stops in the new build, in its own ids, and continues
	d2.send(&godap.StoppedEvent{Event: godap.Event{Event: "stopped"}, Body: godap.StoppedEventBody{Reason: "breakpoint", ThreadId: 9, HitBreakpointIds: []int{201}}})
	st = c.next("stopped in the new build", isEvent("stopped")).(*godap.StoppedEvent)
	if !reflect.DeepEqual(st.Body.HitBreakpointIds, []int{id}) {
		t.Errorf("stopped at %v, want the IDE's id %d", st.Body.HitBreakpointIds, id)
	}
	seq := c.request(&godap.ContinueRequest{Arguments: godap.ContinueArguments{ThreadId: 9}}, "continue")
	if m := c.next("continue", isResponse(seq)); !m.(godap.ResponseMessage).GetResponse().Success {
		t.Errorf("continue failed: %+v", m)
	}
	if err := r.WaitRunning(context.Background()); err != nil || r.Stopped() {
		t.Errorf("after continue the relay still holds edits: %v", err)
	}
}

// checkReplay checks what the IDE and the new Delve saw when the relay moved the session onto d2:
// the breakpoint set again two lines down (it followed its text) with the condition, in the IDE's id.
func checkReplay(t *testing.T, c *ide, d2 *fakeDelve, id int) {
	t.Helper()
	ch := c.next("breakpoint changed", isEvent("breakpoint")).(*godap.BreakpointEvent)
	if ch.Body.Reason != "changed" || ch.Body.Breakpoint.Id != id || ch.Body.Breakpoint.Line != 7 || !ch.Body.Breakpoint.Verified {
		t.Errorf("breakpoint event %+v, want id %d changed to line 7, verified", ch.Body, id)
	}
	c.next("the relay's word that it attached", func(m godap.Message) bool {
		o, ok := m.(*godap.OutputEvent)
		return ok && strings.Contains(o.Body.Output, "attached to the new build")
	})
	var cmds []string
	for _, m := range d2.requests() {
		req := m.(godap.RequestMessage).GetRequest()
		cmds = append(cmds, req.Command)
		if sb, ok := m.(*godap.SetBreakpointsRequest); ok {
			if b := sb.Arguments.Breakpoints; len(b) != 1 || b[0].Line != 7 || b[0].Condition != `msg != ""` {
				t.Errorf("the new Delve got breakpoints %+v, want line 7 with the condition", b)
			}
		}
	}
	if want := []string{"initialize", "attach", "setBreakpoints", "configurationDone"}; !reflect.DeepEqual(cmds, want) {
		t.Errorf("the new Delve got %v, want %v", cmds, want)
	}
}

// TestRelayCrashAndFunctionBreakpoints: a program that exits under Delve is an `output` line for the
// IDE, not the end of its session (`terminated` stays with the relay); the next build gets the IDE's
// function breakpoints again, and a stop there carries the id the IDE knows.
func TestRelayCrashAndFunctionBreakpoints(t *testing.T) {
	dir := t.TempDir()
	_, up, c := startRelay(t, dir)
	d1 := up.delve(t)
	c.next("initialize", isResponse(c.request(&godap.InitializeRequest{}, "initialize")))
	c.next("attach", isResponse(c.request(&godap.AttachRequest{Arguments: []byte(`{"mode":"remote"}`)}, "attach")))
	seq := c.request(&godap.SetFunctionBreakpointsRequest{Arguments: godap.SetFunctionBreakpointsArguments{
		Breakpoints: []godap.FunctionBreakpoint{{Name: "main.handler", Condition: "n > 1"}}}}, "setFunctionBreakpoints")
	fb := c.next("setFunctionBreakpoints", isResponse(seq)).(*godap.SetFunctionBreakpointsResponse).Body.Breakpoints
	if len(fb) != 1 || fb[0].Id == 0 || fb[0].Id == 150 {
		t.Fatalf("function breakpoints answered %+v, want one with an id of the relay's", fb)
	}

	d1.send(&godap.ExitedEvent{Event: godap.Event{Event: "exited"}, Body: godap.ExitedEventBody{ExitCode: 2}})
	d1.send(&godap.TerminatedEvent{Event: godap.Event{Event: "terminated"}})
	c.next("the exit as output", func(m godap.Message) bool {
		o, ok := m.(*godap.OutputEvent)
		return ok && strings.Contains(o.Body.Output, "the app exited with code 2")
	})
	d1.conn.Close()
	d2 := up.delve(t)
	c.next("the relay's word that it attached", func(m godap.Message) bool {
		o, ok := m.(*godap.OutputEvent)
		return ok && strings.Contains(o.Body.Output, "attached to the new build; 1 breakpoint(s) set again")
	})
	var got []godap.FunctionBreakpoint
	for _, m := range d2.requests() {
		if r, ok := m.(*godap.SetFunctionBreakpointsRequest); ok {
			got = r.Arguments.Breakpoints
		}
	}
	if len(got) != 1 || got[0].Name != "main.handler" || got[0].Condition != "n > 1" {
		t.Errorf("the new Delve got function breakpoints %+v", got)
	}
	d2.send(&godap.StoppedEvent{Event: godap.Event{Event: "stopped"}, Body: godap.StoppedEventBody{Reason: "function breakpoint", ThreadId: 1, HitBreakpointIds: []int{250}}})
	if st := c.next("stopped", isEvent("stopped")).(*godap.StoppedEvent); !reflect.DeepEqual(st.Body.HitBreakpointIds, []int{fb[0].Id}) {
		t.Errorf("stopped at %v, want the IDE's id %d", st.Body.HitBreakpointIds, fb[0].Id)
	}
}
