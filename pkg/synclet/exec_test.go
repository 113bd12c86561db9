package synclet

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
)

// runResult is what a client saw of one command.
type runResult struct {
	stdout, stderr string
	res            *protocol.Event
	err            error
}

func runIn(ctx context.Context, p *pod, req protocol.CommandRequest, stdin string) runResult {
	var out, errOut bytes.Buffer
	res, err := p.client(devKey).Run(ctx, req, strings.NewReader(stdin), func(e protocol.Event) {
		switch e.Type {
		case protocol.EventStdout:
			out.Write(e.Data)
		case protocol.EventStderr:
			errOut.Write(e.Data)
		}
	})
	return runResult{out.String(), errOut.String(), res, err}
}

// TestRunCommand runs commands through the synclet and a real supervisor: exit codes pass through,
// stdout and stderr stay apart, stdin reaches the command only when asked for, and a command that
// cannot start is a 127 with the reason.
func TestRunCommand(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	superviseApp(t, p, "echo $$ >> pids; exec sleep 1000", time.Second)
	for _, tc := range []struct {
		name           string
		argv           []string
		stdin          bool
		input          string
		code           int
		stdout, stderr string
		errHas         string
	}{
		{name: "success", argv: []string{"sh", "-c", "echo hello"}, stdout: "hello\n"},
		{name: "exit code", argv: []string{"sh", "-c", "exit 3"}, code: 3},
		{name: "stderr apart", argv: []string{"sh", "-c", "echo out; echo err >&2; echo out2"}, stdout: "out\nout2\n", stderr: "err\n"},
		{name: "stdin", argv: []string{"sh", "-c", "tr a-z A-Z"}, stdin: true, input: "hello\nworld\n", stdout: "HELLO\nWORLD\n"},
		{name: "no stdin unless asked", argv: []string{"sh", "-c", "cat; echo end"}, input: "ignored", stdout: "end\n"},
		{name: "output without newline", argv: []string{"sh", "-c", "printf 'a\\000b'"}, stdout: "a\x00b"},
		{name: "not found", argv: []string{"no-such-command-fastdev"}, code: 127, errHas: "could not start"},
		{name: "not executable", argv: []string{"sh", "-c", "f=$(mktemp); \"$f\""}, code: 126, stderr: "Permission denied"},
		{name: "killed", argv: []string{"sh", "-c", "kill -9 $$"}, code: 137},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runIn(context.Background(), p, protocol.CommandRequest{Argv: tc.argv, Stdin: tc.stdin}, tc.input)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.res.ExitCode != tc.code || r.stdout != tc.stdout || !strings.Contains(r.stderr, tc.stderr) || (tc.stderr == "") != (r.stderr == "") || !strings.Contains(r.res.Error, tc.errHas) {
				t.Errorf("got code %d, stdout %q, stderr %q, error %q; want %d, %q, stderr with %q, error with %q",
					r.res.ExitCode, r.stdout, r.stderr, r.res.Error, tc.code, tc.stdout, tc.stderr, tc.errHas)
			}
		})
	}
}

// TestRunLargeOutput checks that output much larger than a pipe arrives whole and in order.
func TestRunLargeOutput(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	superviseApp(t, p, "echo $$ >> pids; exec sleep 1000", time.Second)
	r := runIn(context.Background(), p, protocol.CommandRequest{Argv: []string{"sh", "-c", "seq 1 200000"}}, "")
	if r.err != nil || r.res.ExitCode != 0 {
		t.Fatalf("%v %+v", r.err, r.res)
	}
	var want strings.Builder
	for i := 1; i <= 200000; i++ {
		want.WriteString(strconv.Itoa(i) + "\n")
	}
	if r.stdout != want.String() {
		t.Errorf("got %d bytes of output, want %d", len(r.stdout), want.Len())
	}
}

// TestRunCancelStopsGroup cancels a running command (Ctrl-C in the CLI): the command and the child
// it started in the background are both stopped.
func TestRunCancelStopsGroup(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	superviseApp(t, p, "echo $$ >> pids; exec sleep 1000", time.Second)
	dir := t.TempDir()
	script := "sleep 1000 & echo $! > " + filepath.Join(dir, "child") + "; echo $$ > " + filepath.Join(dir, "leader") + "; wait"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan runResult, 1)
	go func() { done <- runIn(ctx, p, protocol.CommandRequest{Argv: []string{"sh", "-c", script}}, "") }()
	pids := waitPidFiles(t, filepath.Join(dir, "leader"), filepath.Join(dir, "child"))
	cancel()
	if r := <-done; !errors.Is(r.err, context.Canceled) {
		t.Errorf("a cancelled run returned %v, want context.Canceled", r.err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		alive := 0
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil && !zombie(pid) {
				alive++
			}
		}
		if alive == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the command's processes %v still run 5s after the cancel", alive, pids)
		}
	}
}

// TestRunBesideUpdates checks that a long command holds no lock: an update with a step and a restart
// lands while it runs, and the command goes on.
func TestRunBesideUpdates(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	superviseApp(t, p, "echo $$ >> pids; exec sleep 1000", time.Second)
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	done := make(chan runResult, 1)
	go func() {
		done <- runIn(context.Background(), p, protocol.CommandRequest{Argv: []string{"sh", "-c", "touch " + started + "; sleep 2; echo still here"}}, "")
	}()
	waitPidFiles(t, started)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res, _, err := p.client(devKey).Update(ctx, protocol.UpdateMeta{ID: "1", Restart: protocol.RestartProcess,
		Steps: []protocol.Step{sh("build", "true", 0)}}, oneFile(t), nil)
	if err != nil || res.Error != "" {
		t.Fatalf("an update during a run: %v %+v", err, res)
	}
	if r := <-done; r.err != nil || r.res.ExitCode != 0 || r.stdout != "still here\n" {
		t.Errorf("the run after the update: %v %+v %q", r.err, r.res, r.stdout)
	}
}

// TestRunRefused checks the refusals: a request without a command, an app container that is not
// running, and a synclet that predates run.
func TestRunRefused(t *testing.T) {
	p := newPod(t, archive.DefaultLimits) // no supervisor
	r := runIn(context.Background(), p, protocol.CommandRequest{Argv: []string{"true"}}, "")
	var se *syncletclient.StatusError
	if !errors.As(r.err, &se) || se.Code != 503 || !strings.Contains(se.Msg, "not running") {
		t.Errorf("with the app down: %v", r.err)
	}
	r = runIn(context.Background(), p, protocol.CommandRequest{}, "")
	if !errors.As(r.err, &se) || se.Code != 400 {
		t.Errorf("without a command: %v", r.err)
	}
}

// waitPidFiles waits for each file to hold a pid and returns them.
func waitPidFiles(t *testing.T, files ...string) []int {
	t.Helper()
	var pids []int
	for _, f := range files {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			b, err := os.ReadFile(f)
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && (perr == nil || len(b) == 0) {
				if perr == nil {
					pids = append(pids, pid)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not written", f)
			}
		}
	}
	return pids
}

// zombie reports whether pid has ended and waits to be reaped.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] == 'Z'
	}
	return false
}

// TestContainerStopReachesRun checks that stopping the container (the kubelet's SIGTERM) also stops a
// running command's process group, as it does a running step's.
func TestContainerStopReachesRun(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	a := superviseApp(t, p, "echo $$ >> pids; exec sleep 1000", time.Second)
	dir := t.TempDir()
	script := "sleep 1000 & echo $! > " + filepath.Join(dir, "child") + "; echo $$ > " + filepath.Join(dir, "leader") + "; wait"
	go runIn(context.Background(), p, protocol.CommandRequest{Argv: []string{"sh", "-c", script}}, "")
	pids := waitPidFiles(t, filepath.Join(dir, "leader"), filepath.Join(dir, "child"))
	a.cancel()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		alive := 0
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil && !zombie(pid) {
				alive++
			}
		}
		if alive == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the command's processes %v still run 5s after the container was stopped", alive, pids)
		}
	}
}
