package synclet

import (
	"context"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// update sends one file and meta to p within 20 s and returns the result and the events before it.
func update(t *testing.T, p *pod, meta protocol.UpdateMeta) (*protocol.Event, []protocol.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var events []protocol.Event
	res, _, err := p.client(devKey).Update(ctx, meta, oneFile(t), func(e protocol.Event) { events = append(events, e) })
	if err != nil {
		t.Fatalf("update %s: %v", meta.ID, err)
	}
	return res, events
}

func sh(display, script string, timeout time.Duration) protocol.Step {
	return protocol.Step{Argv: []string{"sh", "-c", script}, Display: display, TimeoutMs: timeout.Milliseconds()}
}

// TestStepHugeLineDrained: a step printing a 2 MB line and exiting 0 completes, its output drained and
// shown cut, and the lines after it arrive.
func TestStepHugeLineDrained(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	superviseApp(t, p, "echo $$ >> pids; exec sleep 1000", time.Second)
	step := sh("huge", "head -c 2097152 /dev/zero | tr '\\0' x; echo; echo done", 0)
	res, events := update(t, p, protocol.UpdateMeta{ID: "1", Restart: protocol.RestartNone, Steps: []protocol.Step{step}})
	if res.Error != "" {
		t.Fatalf("update failed: %s", res.Error)
	}
	var lines []string
	for _, e := range events {
		if e.Type == protocol.EventOutput {
			lines = append(lines, e.Line)
		}
	}
	if len(lines) != 2 || !strings.Contains(lines[0], "[line cut: 2097152 bytes in all") || len(lines[0]) > maxStepLine+100 || lines[1] != "done" {
		t.Errorf("%d output lines (first %d bytes), want the 2 MB line cut and then done", len(lines), len(lines[0]))
	}
}

// TestStepTimeoutKillsGroup: a step that never exits, ignores SIGTERM and leaves a child is stopped at
// its timeout with its whole process group (SIGKILL after the grace period), reported as timed out
// with the rules key to change, and the next update runs at once.
func TestStepTimeoutKillsGroup(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	a := superviseApp(t, p, "echo $$ >> pids; exec sleep 1000", 300*time.Millisecond)
	child := filepath.Join(a.dir, "child")
	step := sh("serve", "trap '' TERM; sleep 1000 & echo $! > "+child+"; while :; do sleep 0.05; done", 400*time.Millisecond)
	start := time.Now()
	res, events := update(t, p, protocol.UpdateMeta{ID: "1", Restart: protocol.RestartProcess, Steps: []protocol.Step{step}})
	if took := time.Since(start); took < 700*time.Millisecond || took > 5*time.Second {
		t.Errorf("the step was stopped after %s, want its timeout (400ms) plus the grace period (300ms)", took)
	}
	for _, want := range []string{`step "serve" timed out after 400ms`, "run[].timeout"} {
		if !strings.Contains(res.Error, want) {
			t.Errorf("result error %q lacks %q", res.Error, want)
		}
	}
	if last := events[len(events)-1]; last.Type != protocol.EventStep || last.TimedOut != "400ms" || last.ExitCode != 137 {
		t.Errorf("last event %+v, want the step's end, timed out after 400ms, killed (137)", last)
	}
	b, err := os.ReadFile(child)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the step's child %d outlived the timeout", pid)
		}
	}
	if ps := a.pids(t); len(ps) != 1 {
		t.Errorf("the app started %d times, want once: a failed step restarts nothing", len(ps))
	}
	start = time.Now()
	res, _ = update(t, p, protocol.UpdateMeta{ID: "2", Restart: protocol.RestartNone, Steps: []protocol.Step{sh("next", "echo next", 0)}})
	if res.Error != "" || time.Since(start) > 2*time.Second {
		t.Errorf("the next update: %q after %s, want it done at once", res.Error, time.Since(start))
	}
}

// TestRestartContainerKeepsContainer: restart: container stops an app that ignores SIGTERM with
// SIGKILL after the grace period and starts a new process, without ending the supervisor (the
// container): a later update is served by the same supervisor.
func TestRestartContainerKeepsContainer(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	a := superviseApp(t, p, "echo $$ >> pids; trap '' TERM; while :; do sleep 0.05; done", 300*time.Millisecond)
	start := time.Now()
	res, _ := update(t, p, protocol.UpdateMeta{ID: "1", Restart: protocol.RestartContainer})
	if took := time.Since(start); res.Error != "" || took < 300*time.Millisecond || took > 3*time.Second {
		t.Fatalf("restart: %q after %s, want success after the 300ms grace period", res.Error, took)
	}
	a.waitPids(t, 2, time.Now().Add(5*time.Second), "no new process after restart: container")
	if old := a.pids(t)[0]; syscall.Kill(old, 0) == nil {
		t.Errorf("old process %d still runs: no SIGKILL after the grace period", old)
	}
	select {
	case code := <-a.code:
		t.Fatalf("the supervisor ended with %d: restart: container must keep the container", code)
	default:
	}
	res, _ = update(t, p, protocol.UpdateMeta{ID: "2", Restart: protocol.RestartContainer})
	if res.Error != "" {
		t.Fatalf("second restart: %s", res.Error)
	}
	a.waitPids(t, 3, time.Now().Add(5*time.Second), "no new process after the second restart: container")
}

// TestAppCrashRestartedWithBackoff: an app that exits on its own is started again by the supervisor
// after 0.5 s, then 1 s (doubling), without ending the container; an update in the backoff starts it
// at once.
func TestAppCrashRestartedWithBackoff(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	var logged syncBuffer
	a := superviseWith(t, p, "echo $$ >> pids; exit 3", time.Second, func(a *app) { a.sup.cfg.Log = log.New(&logged, "", 0) })
	var starts []time.Time
	for n := 1; n <= 3; n++ {
		a.waitPids(t, n, time.Now().Add(5*time.Second), "the crashed app was not started again")
		starts = append(starts, time.Now())
	}
	for i, want := range []time.Duration{500 * time.Millisecond, time.Second} {
		if gap := starts[i+1].Sub(starts[i]); gap < want-50*time.Millisecond || gap > want+400*time.Millisecond {
			t.Errorf("start %d came %s after the previous one, want about %s", i+2, gap, want)
		}
	}
	if !strings.Contains(logged.String(), "exited with code 3; starting it again in 500ms (the container is kept") {
		t.Errorf("supervisor log lacks the crash and its backoff:\n%s", logged.String())
	}
	time.Sleep(100 * time.Millisecond) // the third crash: the next start is 2 s away
	start := time.Now()
	if res, _ := update(t, p, protocol.UpdateMeta{ID: "fix", Restart: protocol.RestartProcess}); res.Error != "" {
		t.Fatal(res.Error)
	}
	a.waitPids(t, 4, start.Add(time.Second), "an update during the backoff did not start the app at once")
	select {
	case code := <-a.code:
		t.Fatalf("the supervisor ended with %d: a crash must not end the container", code)
	default:
	}
}

// TestOOMKillEndsContainer: an app killed by the kernel's OOM killer ends the container with 137, so
// the kubelet reports OOMKilled; it is not restarted in place.
func TestOOMKillEndsContainer(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	var kills atomic.Int64
	a := superviseWith(t, p, "echo $$ >> pids; sleep 0.2; kill -9 $$", time.Second, func(a *app) {
		a.sup.oomKills = func() int64 { return kills.Load() }
	})
	kills.Store(1) // the kernel killed a process of the container after the app started
	select {
	case code := <-a.code:
		if code != 137 {
			t.Errorf("container exit code %d, want 137", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an OOM-killed app did not end the container")
	}
	if n := len(a.pids(t)); n != 1 {
		t.Errorf("the app started %d times, want once", n)
	}
}

// TestStopDuringSteps: asked to stop while a step runs, the supervisor stops the step and the app and
// ends at once with the app's code; the app is not started again when the steps end.
func TestStopDuringSteps(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	a := superviseApp(t, p, "echo $$ >> pids; exec sleep 1000", time.Second)
	started := filepath.Join(a.dir, "step-started")
	go func() {
		// the reply may be cut short by the stop: neither it nor its error says anything here
		_, _, _ = p.client(devKey).Update(context.Background(), protocol.UpdateMeta{ID: "1", Restart: protocol.RestartProcess,
			Steps: []protocol.Step{sh("build", "touch "+started+"; sleep 3", 0)}}, oneFile(t), nil)
	}()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the step did not start")
		}
	}
	a.cancel()
	select {
	case code := <-a.code:
		if code != 128+int(syscall.SIGTERM) {
			t.Errorf("exit code %d, want 143 (the app stopped by SIGTERM)", code)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the supervisor waited for the step before stopping")
	}
	time.Sleep(3500 * time.Millisecond) // past the end of the step, had it not been stopped
	if n := len(a.pids(t)); n != 1 {
		t.Errorf("the app started %d times, want once: nothing restarts a stopping container", n)
	}
}

// TestAppThatCannotStartIsRetried: an update whose restart cannot start the app (its program is gone)
// fails saying why, and the supervisor keeps trying after its backoff, so the app runs again as soon
// as the program is back, without another update.
func TestAppThatCannotStartIsRetried(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	bin := filepath.Join(t.TempDir(), "server")
	var script string
	a := superviseWith(t, p, "", time.Second, func(a *app) {
		a.sup.cfg.Argv = []string{bin}
		script = "#!/bin/sh\necho $$ >> " + filepath.Join(a.dir, "pids") + "\nexec sleep 1000\n"
		if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	})
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	res, _ := update(t, p, protocol.UpdateMeta{ID: "1", Restart: protocol.RestartProcess})
	if !strings.Contains(res.Error, "starting") || !strings.Contains(res.Error, "no such file") {
		t.Errorf("result error %q, want why the app could not start", res.Error)
	}
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	a.waitPids(t, 2, time.Now().Add(5*time.Second), "the app was not started again once its program was back")
}

// TestBusySynclet: while a step runs, status still answers at once, and a manifest request whose
// caller gives up returns instead of queueing behind the step.
func TestBusySynclet(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	a := superviseApp(t, p, "echo $$ >> pids; exec sleep 1000", time.Second)
	started := filepath.Join(a.dir, "step-started")
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, err := p.client(devKey).Update(context.Background(), protocol.UpdateMeta{ID: "1", Restart: protocol.RestartNone,
			Steps: []protocol.Step{sh("build", "touch "+started+"; sleep 2", 0)}}, oneFile(t), nil)
		if err != nil {
			t.Errorf("update: %v", err)
		}
	}()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the step did not start")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := p.client(devKey).Status(ctx); err != nil {
		t.Errorf("status while a step runs: %v", err)
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if _, err := p.client(devKey).Manifest(ctx); err == nil {
		t.Error("a manifest was read while an update held the synclet")
	}
	<-done
	if _, err := p.client(devKey).Manifest(context.Background()); err != nil {
		t.Errorf("manifest after the update: %v", err)
	}
}
