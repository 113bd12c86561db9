package synclet

import (
	"errors"
	"io"
	"log"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"syscall"
	"testing"
	"time"
)

func TestWithGoFlags(t *testing.T) {
	for _, tc := range []struct {
		env, want []string
	}{
		{[]string{"PATH=/bin", "GOFLAGS=-buildvcs=false"}, []string{"PATH=/bin", "GOFLAGS=-buildvcs=false '-gcflags=-N -l'"}},
		{[]string{"PATH=/bin"}, []string{"PATH=/bin", "GOFLAGS='-gcflags=-N -l'"}},
		{[]string{"GOFLAGS="}, []string{"GOFLAGS='-gcflags=-N -l'"}},
	} {
		if got := withGoFlags(tc.env, "'-gcflags=-N -l'"); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("withGoFlags(%q) = %q, want %q", tc.env, got, tc.want)
		}
	}
}

func TestDelveArgv(t *testing.T) {
	got, err := delveArgv("/fastdev/bin/dlv", 2345, []string{"/bin/sh", "-c", "exec app"}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/fastdev/bin/dlv", "exec", "--headless", "--listen=127.0.0.1:2345", "--accept-multiclient",
		"--api-version=2", "--continue", "--only-same-user=false", "/bin/sh", "--", "-c", "exec app"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("delveArgv = %q, want %q", got, want)
	}
	// an IDE is attached: the program waits for the relay to set its breakpoints
	halted, err := delveArgv("/fastdev/bin/dlv", 2345, []string{"/bin/sh", "-c", "exec app"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Delete(slices.Clone(want), 6, 7); !reflect.DeepEqual(halted, want) {
		t.Errorf("delveArgv halted = %q, want %q", halted, want)
	}
	if _, err := delveArgv("dlv", 2345, []string{"no-such-program-here"}, false); err == nil {
		t.Error("delveArgv found a program that does not exist")
	}
}

func TestParentOf(t *testing.T) {
	ppid, ok := parentOf(os.Getpid())
	if !ok || ppid != os.Getppid() {
		t.Errorf("parentOf(self) = %d, %v; want %d", ppid, ok, os.Getppid())
	}
	found := false
	for _, kid := range debuggees(os.Getppid()) {
		found = found || kid == os.Getpid()
	}
	if !found {
		t.Error("debuggees(parent) does not list this process")
	}
}

// TestWatchDebuggee: when the program Delve runs exits, Delve (which would stay) is stopped, so the
// supervisor's exit handling starts the app again.
func TestWatchDebuggee(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "sleep 0.3 & wait; sleep 60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := NewSupervisor(SupervisorConfig{Argv: []string{"app"}, Log: log.New(io.Discard, "", 0)})
	s.pid.Store(int64(cmd.Process.Pid))
	done := make(chan struct{})
	go func() { s.watchDebuggee(cmd.Process.Pid, 20*time.Millisecond); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher did not notice the target's exit")
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("the stand-in for Delve ended with %v, want SIGKILL", err)
	}
}

// TestStopDebuggees: a restart under Delve ends the program with SIGTERM at once (not after the grace
// period) and kills Delve, which with a client attached would not end on SIGTERM.
func TestStopDebuggees(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "sleep 60 & wait; sleep 60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := NewSupervisor(SupervisorConfig{Argv: []string{"app"}, Grace: 10 * time.Second, Log: log.New(io.Discard, "", 0)})
	var kids []int
	for deadline := time.Now().Add(5 * time.Second); len(kids) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		kids = debuggees(cmd.Process.Pid)
	}
	start := time.Now()
	traced := s.stopDebuggees(cmd.Process.Pid)
	err := cmd.Wait()
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("stopping took %s: the program's SIGTERM did not land, the grace period ran out", took)
	}
	if !reflect.DeepEqual(traced, kids) || len(kids) != 1 || running(kids[0]) {
		t.Errorf("traced %v, children %v: the program must be stopped", traced, kids)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("the stand-in for Delve ended with %v, want SIGKILL", err)
	}
}

// TestSignalAppWhileDebugging: a signal for the app reaches the program Delve runs, not Delve.
func TestSignalAppWhileDebugging(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "sleep 60 & wait; sleep 60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { signalGroup(cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() }()
	var kids []int
	for deadline := time.Now().Add(5 * time.Second); len(kids) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		kids = debuggees(cmd.Process.Pid)
	}
	if len(kids) != 1 {
		t.Fatalf("children %v", kids)
	}
	s := NewSupervisor(SupervisorConfig{Argv: []string{"app"}, Log: log.New(io.Discard, "", 0)})
	s.debugging.Store(true)
	s.signalApp(cmd.Process.Pid, syscall.SIGTERM)
	for deadline := time.Now().Add(5 * time.Second); running(kids[0]) && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	if running(kids[0]) {
		t.Error("the program did not get the signal")
	}
	if !running(cmd.Process.Pid) {
		t.Error("the stand-in for Delve got the program's signal")
	}
}
