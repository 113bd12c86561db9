package synclet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// app is a supervised shell script, each of whose processes appends its pid to a file.
type app struct {
	dir    string
	sup    *Supervisor
	code   chan int // what Run returned, once it has
	cancel func()   // cancels Run's context, as the kubelet's SIGTERM would
}

// superviseApp runs script (which must record its pid with `echo $$ >> pids`) under a supervisor that
// serves p's synclet, waits for it to start, and stops it when the test ends.
func superviseApp(t *testing.T, p *pod, script string, grace time.Duration) *app {
	t.Helper()
	return superviseWith(t, p, script, grace, nil)
}

// superviseWith is superviseApp with a hook that adjusts the supervisor before it runs.
func superviseWith(t *testing.T, p *pod, script string, grace time.Duration, setup func(*app)) *app {
	t.Helper()
	a := &app{dir: t.TempDir(), code: make(chan int, 1)}
	a.sup = NewSupervisor(SupervisorConfig{Argv: []string{"sh", "-c", "cd " + a.dir + " && " + script}, Socket: p.srv.cfg.Supervisor,
		Pending: p.pending, Grace: grace, Log: log.New(io.Discard, "", 0)})
	if setup != nil {
		setup(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		code, err := a.sup.Run(ctx)
		if err != nil {
			t.Errorf("supervisor: %v", err)
		}
		a.code <- code
	}()
	t.Cleanup(func() {
		// an app that ignores SIGTERM would keep Run waiting for the grace period
		if ps := a.pids(t); len(ps) > 0 {
			_ = syscall.Kill(-ps[len(ps)-1], syscall.SIGKILL) // ESRCH: it has already gone
		}
		cancel()
		<-stopped
	})
	a.waitPids(t, 1, time.Now().Add(5*time.Second), "the app did not start")
	// the supervisor starts the app before it listens on its socket: a request in between is answered 503
	// (the app container is not up), as in a pod, so the tests wait for the socket as well
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("unix", p.srv.cfg.Supervisor)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the supervisor does not listen on %s: %v", p.srv.cfg.Supervisor, err)
		}
	}
	return a
}

// pids returns the pids the app's processes recorded, oldest first.
func (a *app) pids(t *testing.T) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(a.dir, "pids"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err != nil {
			t.Fatalf("pids file holds %q: %v", b, err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// waitPids waits until n processes have recorded their pids, failing with msg at the deadline.
func (a *app) waitPids(t *testing.T, n int, deadline time.Time, msg string) {
	t.Helper()
	for len(a.pids(t)) < n {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// oneFile returns a put of one local file for sync root 0.
func oneFile(t *testing.T) []archive.Put {
	t.Helper()
	local := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(local, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := tree.Stat(local, "f")
	if err != nil {
		t.Fatal(err)
	}
	return []archive.Put{{Root: 0, Local: local, Entry: e}}
}

// TestRestartWaitsForExitThenKills restarts an app that exits on SIGTERM (at once) and one that ignores
// it (SIGKILL after the grace period): each restart returns once the old process is gone, and a new one
// runs.
func TestRestartWaitsForExitThenKills(t *testing.T) {
	for _, c := range []struct {
		name     string
		script   string
		min, max time.Duration
	}{
		{"exits on SIGTERM", "echo $$ >> pids; exec sleep 1000", 0, 150 * time.Millisecond},
		{"ignores SIGTERM", "echo $$ >> pids; trap '' TERM; while :; do sleep 0.05; done", 300 * time.Millisecond, 2 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newPod(t, archive.DefaultLimits)
			a := superviseApp(t, p, c.script, 300*time.Millisecond)
			start := time.Now()
			res, _, err := p.client(devKey).Update(context.Background(), protocol.UpdateMeta{ID: "1", Restart: protocol.RestartProcess}, oneFile(t), nil)
			took := time.Since(start)
			if err != nil || res.Error != "" {
				t.Fatal(err, res)
			}
			if took < c.min || took > c.max {
				t.Errorf("restart took %s, want between %s and %s", took, c.min, c.max)
			}
			a.waitPids(t, 2, time.Now().Add(5*time.Second), "no new process after the restart")
			if old := a.pids(t)[0]; syscall.Kill(old, 0) == nil {
				t.Errorf("old process %d still runs", old)
			}
		})
	}
}

// syncBuffer is a log destination the server's goroutines and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestStepsRelayedToCLIAndLog: a step's output and exit code travel from the supervisor through the
// synclet to the CLI as they happen, and into the synclet's log; a failed step fails the update with
// its exit code and leaves the app running.
func TestStepsRelayedToCLIAndLog(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	var logged syncBuffer
	p.srv.cfg.Log = log.New(&logged, "", 0)
	a := superviseApp(t, p, "echo $$ >> pids; exec sleep 1000", time.Second)
	for _, c := range []struct {
		name, script string
		out          []string
		code         int
		err, log     string
	}{
		{name: "succeeds", script: "echo one; echo two >&2", out: []string{"one", "two"}, log: "[greet] two"},
		{name: "fails", script: "echo bad; exit 3", out: []string{"bad"}, code: 3, err: `step "greet" failed with exit code 3`, log: "step failed: greet: exit code 3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			meta := protocol.UpdateMeta{ID: c.name, Restart: protocol.RestartNone,
				Steps: []protocol.Step{{Argv: []string{"sh", "-c", c.script}, Display: "greet"}}}
			var events []protocol.Event
			res, _, err := p.client(devKey).Update(context.Background(), meta, oneFile(t), func(e protocol.Event) { events = append(events, e) })
			if err != nil {
				t.Fatal(err)
			}
			if res.Error != c.err {
				t.Errorf("result error %q, want %q", res.Error, c.err)
			}
			if len(events) == 0 {
				t.Fatal("no events before the result")
			}
			last := events[len(events)-1]
			if last.Type != protocol.EventStep || last.Step != "greet" || last.ExitCode != c.code {
				t.Errorf("last event %+v, want the step's end with exit code %d", last, c.code)
			}
			var lines []string
			for _, e := range events[:len(events)-1] {
				if e.Type != protocol.EventOutput || e.Step != "greet" {
					t.Errorf("event %+v, want the step's output", e)
				}
				lines = append(lines, e.Line)
			}
			if !slices.Equal(lines, c.out) {
				t.Errorf("output %q, want %q", lines, c.out)
			}
			if !strings.Contains(logged.String(), c.log) {
				t.Errorf("synclet log lacks %q:\n%s", c.log, logged.String())
			}
		})
	}
	if ps := a.pids(t); len(ps) != 1 {
		t.Errorf("the app started %d times, want once (restart: none, and a failed step restarts nothing)", len(ps))
	}
}

// TestPendingStepsRunBeforeTheApp: steps queued while the app container was down run once, before the
// app starts; a pending file that does not decode is dropped with a log line, and the app still starts.
func TestPendingStepsRunBeforeTheApp(t *testing.T) {
	for _, c := range []struct {
		name, pending, log string
		ran                bool
	}{
		{name: "queued step", pending: `{"steps":[{"argv":["sh","-c","echo built > built"],"display":"build"}],"restart":"process"}`,
			log: "running queued step build", ran: true},
		{name: "malformed", pending: `{"steps":`, log: "queued steps not run"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newPod(t, archive.DefaultLimits)
			if err := os.WriteFile(p.pending, []byte(c.pending), 0o644); err != nil {
				t.Fatal(err)
			}
			var logged syncBuffer
			dir := t.TempDir()
			t.Chdir(dir) // steps run in the supervisor's working directory, as the app does
			// the app records whether it saw the step's output, then waits to be stopped: an app that
			// exits is started again by the supervisor
			sup := NewSupervisor(SupervisorConfig{Argv: []string{"sh", "-c", "test -f built && echo seen > seen; touch started; exec sleep 1000"},
				Pending: p.pending, Log: log.New(&logged, "", 0)})
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
						break
					}
				}
				cancel()
			}()
			if code, err := sup.Run(ctx); code != 128+int(syscall.SIGTERM) || err != nil {
				t.Fatalf("app exited with %d, %v; want it stopped by SIGTERM", code, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "seen")); (err == nil) != c.ran {
				t.Errorf("the app saw the step's output: %v, want %v", err == nil, c.ran)
			}
			if _, err := os.Stat(p.pending); !os.IsNotExist(err) {
				t.Errorf("pending file still there (%v): its steps would run at every start", err)
			}
			if !strings.Contains(logged.String(), c.log) {
				t.Errorf("supervisor log lacks %q:\n%s", c.log, logged.String())
			}
		})
	}
}
