package synclet

import (
	"errors"
	"io"
	"log"
	"os"
	"os/exec"
	"reflect"
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
	got, err := delveArgv("/fastdev/bin/dlv", 2345, []string{"/bin/sh", "-c", "exec app"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/fastdev/bin/dlv", "exec", "--headless", "--listen=127.0.0.1:2345", "--accept-multiclient",
		"--api-version=2", "--continue", "--only-same-user=false", "/bin/sh", "--", "-c", "exec app"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("delveArgv = %q, want %q", got, want)
	}
	if _, err := delveArgv("dlv", 2345, []string{"no-such-program-here"}); err == nil {
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
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Errorf("the stand-in for Delve ended with %v, want SIGTERM", err)
	}
}
