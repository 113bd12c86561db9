package dap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	godap "github.com/google/go-dap"
)

// eventually waits up to 5s for ok.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRelayNewBuildRunsAfterBreakpoints: once the IDE's session is configured, the relay tells the pod
// so; the next build then starts halted and runs only when the relay has set the IDE's breakpoints in
// it (configurationDone after setBreakpoints), so the first request to it cannot pass them. When the
// IDE leaves, the pod hears that builds may run at once again.
func TestRelayNewBuildRunsAfterBreakpoints(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "main.go")
	if err := os.WriteFile(file, []byte(handlerV1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, up, c := startRelay(t, dir)
	d1 := up.delve(t)
	if up.isAttached() {
		t.Error("the pod heard of an attached IDE before its configuration was done")
	}
	id := attach(t, c, file, 5)
	eventually(t, "the pod to hear an IDE is attached", up.isAttached)

	// an edit adds two lines above the breakpoint, the app restarts
	edited := strings.Replace(handlerV1, "func handler() {\n", "func handler() {\n\t// added\n\t// added\n", 1)
	if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	d1.conn.Close()
	d2 := up.delve(t)
	checkReplay(t, c, d2, id)
	d2.mu.Lock()
	halted, running, unguarded := d2.halted, d2.running, d2.ranUnguarded
	d2.mu.Unlock()
	if !halted || !running || unguarded {
		t.Errorf("the new build: started halted %v, running %v, ran before the breakpoints were set %v; want true, true, false",
			halted, running, unguarded)
	}

	c.c.Close() // the IDE leaves
	eventually(t, "the pod to hear no IDE is attached", func() bool { return !up.isAttached() })
}

// TestRelayDropsTheStopOfAKilledBuild: the `stopped` (exception, thread 0) a Delve reports when a
// restart kills its program under a running command never reaches the IDE; an exception stop on a
// build that stays does, after Config.ExceptionHold.
func TestRelayDropsTheStopOfAKilledBuild(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "main.go")
	if err := os.WriteFile(file, []byte(handlerV1), 0o644); err != nil {
		t.Fatal(err)
	}
	r, up, c := startRelay(t, dir)
	d1 := up.delve(t)
	attach(t, c, file, 5)

	stray := &godap.StoppedEvent{Event: godap.Event{Event: "stopped"}, Body: godap.StoppedEventBody{
		Reason: "exception", Description: "runtime error", Text: "no such process", AllThreadsStopped: true}}
	d1.send(stray)
	time.Sleep(20 * time.Millisecond) // the restart kills Delve just after
	d1.conn.Close()
	d2 := up.delve(t)
	c.next("the session on the new build", func(m godap.Message) bool {
		if _, bad := m.(*godap.StoppedEvent); bad {
			t.Fatal("the stop of the killed build reached the IDE")
		}
		o, ok := m.(*godap.OutputEvent)
		return ok && strings.Contains(o.Body.Output, "attached to the new build")
	})
	time.Sleep(r.cfg.ExceptionHold + 200*time.Millisecond)
	if r.Stopped() {
		t.Error("the relay holds edits for the stop of the killed build")
	}

	panicked := &godap.StoppedEvent{Event: godap.Event{Event: "stopped"}, Body: godap.StoppedEventBody{
		Reason: "exception", Description: "panic", ThreadId: 4, AllThreadsStopped: true}}
	d2.send(panicked)
	st := c.next("the panic's stop", isEvent("stopped")).(*godap.StoppedEvent)
	if st.Body.Reason != "exception" || st.Body.ThreadId != 4 || !r.Stopped() {
		t.Errorf("stopped %+v (relay stopped: %v), want the panic on thread 4", st.Body, r.Stopped())
	}
}
