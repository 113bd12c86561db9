package synclet

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// The supervisor's own backoff for an app that exits on its own: short, so the fix that follows a
// crash is not kept waiting (the kubelet's back-off grows from 10 s to 5 min), yet long enough that an
// app failing at start does not spin.
const (
	restartBackoffMin   = 500 * time.Millisecond
	restartBackoffMax   = 10 * time.Second
	restartBackoffReset = 10 * time.Second // an app that stayed up this long starts again from min
)

var errStopping = errors.New("the app container is stopping: the app is not started again")

// backoff is the delay before each start of a crashed app: min, doubling to max, back to min after
// a run of at least reset, or a deliberate start (an update brings new code).
type backoff struct {
	min, max, reset time.Duration
	last            time.Duration // the delay given last; 0 after a reset
}

// next returns the delay before the next start, for an app that ran for up.
func (b *backoff) next(up time.Duration) time.Duration {
	switch {
	case up >= b.reset || b.last == 0:
		b.last = b.min
	default:
		b.last = min(2*b.last, b.max)
	}
	return b.last
}

// start launches the app; s.mu must be held.
func (s *Supervisor) start() error {
	if s.retry != nil {
		s.retry.Stop()
	}
	if s.stopping.Load() {
		s.sendExit(128 + int(syscall.SIGTERM))
		return errStopping
	}
	argv, err := s.command() // the app's argv, or Delve running it (debug.go)
	if err != nil {
		return err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s.started, s.ooms = time.Now(), s.oomKills()
	done, err := s.procs.start(cmd)
	if err != nil {
		return fmt.Errorf("starting %q: %w", s.cfg.Argv[0], err)
	}
	exited := make(chan struct{})
	s.gen++
	s.child, s.exited = cmd, exited
	gen := s.gen
	s.pid.Store(int64(cmd.Process.Pid))
	if s.debug != nil {
		go s.watchDebuggee(cmd.Process.Pid, debuggeePoll) // debug.go
	}
	go func() {
		ws := <-done
		close(exited)
		release(cmd)
		s.onExit(gen, ws)
	}()
	return nil
}

// onExit handles the end of the app process of generation gen: the container's end when it is
// stopping or the app was OOM killed, else a start after the backoff.
func (s *Supervisor) onExit(gen int, ws syscall.WaitStatus) {
	code := exitCode(ws)
	if s.stopping.Load() { // checked before taking s.mu, which running steps may hold for minutes
		s.cfg.Log.Printf("supervisor: %s exited with code %d", s.cfg.Argv[0], code)
		s.sendExit(code)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen {
		return // stopped on purpose, or replaced by an update: whoever did it starts the next one
	}
	s.child = nil
	s.pid.Store(0)
	if ws.Signaled() && ws.Signal() == syscall.SIGKILL && s.ooms >= 0 && s.oomKills() > s.ooms {
		// the kernel's business: the container ends, so the kubelet reports OOMKilled and its limit
		s.cfg.Log.Printf("supervisor: %s was killed for exceeding the container's memory limit (exit code %d); ending the container", s.cfg.Argv[0], code)
		s.sendExit(code)
		return
	}
	s.crashed(code)
}

// crashed schedules the start of an app that exited with code on its own; s.mu must be held.
func (s *Supervisor) crashed(code int) {
	s.retryLater(fmt.Sprintf("%s exited with code %d", s.cfg.Argv[0], code)) // pkg/logs reads this line
}

// retryLater logs why the app is down and starts it after the backoff, unless an update starts it
// first; s.mu must be held.
func (s *Supervisor) retryLater(why string) {
	d := s.backoff.next(time.Since(s.started))
	s.cfg.Log.Printf("supervisor: %s; starting it again in %s (the container is kept; an update starts it at once)", why, d)
	gen := s.gen
	s.retry = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if gen != s.gen || s.child != nil {
			return // an update started it meanwhile
		}
		if err := s.start(); err != nil && !errors.Is(err, errStopping) {
			s.retryLater(err.Error())
		}
	})
}

// startNow starts the app for an update, from a fresh backoff; one that cannot start (its binary not
// built yet, say) is tried again after the backoff, and the update reports why. s.mu must be held.
func (s *Supervisor) startNow() error {
	s.backoff.last = 0
	err := s.start()
	if err != nil && !errors.Is(err, errStopping) {
		s.retryLater(err.Error())
	}
	return err
}

// stopApp ends the app's process group: SIGTERM, SIGKILL after the grace period, and SIGKILL again
// once the app is gone, for children that outlive it (holding its ports); s.mu must be held. The exit
// is deliberate, so it neither ends the container nor schedules a start.
func (s *Supervisor) stopApp() {
	if s.child == nil {
		return
	}
	s.gen++
	// s.pid, not s.child.Process.Pid: the reaping goroutine's Release may be setting the latter to -1
	// right now, and -(-1) would signal every process
	pid, exited := int(s.pid.Load()), s.exited
	var traced []int // Delve's target, in a group of its own: stopped first, then Delve (debug.go)
	if s.debug != nil {
		traced = s.stopDebuggees(pid)
	}
	signalGroup(pid, syscall.SIGTERM)
	// the reaper (woken by SIGCHLD) says when it is gone: no polling, no delay after it exits
	grace := time.NewTimer(s.cfg.Grace)
	select {
	case <-exited:
	case <-grace.C:
		s.cfg.Log.Printf("supervisor: %s did not stop within %s of SIGTERM: killing it", s.cfg.Argv[0], s.cfg.Grace)
		signalGroup(pid, syscall.SIGKILL)
		<-exited
	}
	grace.Stop()
	signalGroup(pid, syscall.SIGKILL)
	for _, t := range traced {
		killTree(t, syscall.SIGKILL)
	}
	s.child = nil
	s.pid.Store(0)
}

// restartProcess replaces the app process (restart: process), or starts it at once when it is down
// after a crash; s.mu must be held.
func (s *Supervisor) restartProcess() error {
	s.stopApp()
	return s.startNow()
}

// freshStart gives the app fresh process state (restart: container): the app's group is stopped, every
// other process left in the container too, and the app starts as at a container start. The container
// is kept, so there is no kubelet back-off; files outside the synced volumes are kept as well.
// s.mu must be held.
func (s *Supervisor) freshStart() error {
	s.stopApp()
	// only as PID 1 of the container's own PID namespace: there kill(-1) reaches exactly the container's
	// other processes (daemons the app left); with a shared process namespace it would reach the pod's
	if os.Getpid() == 1 {
		if err := syscall.Kill(-1, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			s.cfg.Log.Printf("supervisor: stopping the container's other processes: %v", err)
		}
	}
	s.runPending()
	return s.startNow()
}

// ensureRunning starts the app when it is down (restart: none after a crash); s.mu must be held.
func (s *Supervisor) ensureRunning() error {
	if s.child != nil {
		select {
		case <-s.exited: // it has ended and its exit waits for s.mu: replace it here
		default:
			return nil
		}
	}
	s.stopApp()
	return s.startNow()
}

// cgroupOOMKills returns how many processes of this container the kernel's OOM killer has killed
// (cgroup v2 memory.events, or v1 memory.oom_control), or -1 when the file cannot be read.
func cgroupOOMKills() int64 {
	for _, f := range []string{"/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("oom_kill ")); ok {
				if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
					return n
				}
			}
		}
	}
	return -1
}
