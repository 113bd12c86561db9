package synclet

import (
	"os/exec"
	"sync"
	"syscall"
)

// exitCode is the code a shell would report for a child that ended with ws: 128+signal when killed.
func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// procTable reaps every child of this process and hands each exit status to whoever started it.
// Start and registration happen under one lock, so a child that exits at once is never mistaken for
// an orphan; any other reaped process is an orphan the app left behind, reaped and forgotten.
type procTable struct {
	mu      sync.Mutex
	waiting map[int]chan syscall.WaitStatus
}

// start starts cmd and returns the channel its exit status arrives on once it is reaped.
func (t *procTable) start(cmd *exec.Cmd) (<-chan syscall.WaitStatus, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := make(chan syscall.WaitStatus, 1)
	t.waiting[cmd.Process.Pid] = ch
	return ch, nil
}

// reap collects every child that has exited, without blocking, and delivers the statuses of those
// started through start.
func (t *procTable) reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		t.mu.Lock()
		if ch, ok := t.waiting[pid]; ok {
			ch <- ws
			delete(t.waiting, pid)
		}
		t.mu.Unlock()
	}
}

// signalGroup sends sig to the process group led by pid. ESRCH, a group that has already ended, is the
// outcome every caller wants, and EPERM cannot happen for a group this process started, so no error is
// worth reporting.
func signalGroup(pid int, sig syscall.Signal) { _ = syscall.Kill(-pid, sig) }

// release frees what the os package holds for a child reaped by procTable (not by cmd.Wait). On unix
// it only forgets the pid and cannot fail.
func release(cmd *exec.Cmd) { _ = cmd.Process.Release() }
