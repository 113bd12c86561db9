package synclet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// steps runs each step in order, in the app container's working directory and environment, and stops
// at the first failure, leaving the running app untouched.
func (s *Supervisor) steps(steps []protocol.Step, ev *protocol.EventWriter) error {
	for _, st := range steps {
		start := time.Now()
		// a synclet that has gone must not stop the steps halfway; serveRun logs the lost reply once,
		// when the result's write fails the same way (the writer's encoder keeps its first error)
		code, err := s.runStep(st, func(line string) {
			_ = ev.Write(protocol.Event{Type: protocol.EventOutput, Step: st.Display, Line: line})
		})
		e := protocol.Event{Type: protocol.EventStep, Step: st.Display, ExitCode: code, Millis: ms(time.Since(start))}
		var se *StepError
		if errors.As(err, &se) && se.Timeout > 0 {
			e.TimedOut = protocol.FormatTimeout(se.Timeout)
		}
		_ = ev.Write(e)
		if err != nil {
			return err
		}
	}
	return nil
}

// runStep runs one step in a process group of its own, sending its combined output line by line to
// out. A step still running at its timeout is stopped with its whole group: SIGTERM, then SIGKILL
// after the grace period.
func (s *Supervisor) runStep(st protocol.Step, out func(string)) (int, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return -1, fmt.Errorf("step %q: %w", st.Display, err)
	}
	defer pr.Close()
	cmd := exec.Command(st.Argv[0], st.Argv[1:]...)
	cmd.Env = s.stepEnv() // Delve's build flags while debugging (debug.go)
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	done, err := s.procs.start(cmd)
	pw.Close() // the child holds its own copy; ours must go so the reader sees the end of the output
	if err != nil {
		e := &StepError{Cmd: st.Display, Code: 127, Err: err}
		out(e.Error())
		return e.Code, e
	}
	pid := cmd.Process.Pid
	s.stepPid.Store(int64(pid))
	defer s.stepPid.Store(0)
	lines := make(chan struct{})
	go func() {
		defer close(lines)
		drainLines(pr, maxStepLine, out)
	}()
	ws, timedOut := s.waitStep(pid, done, st.Timeout())
	release(cmd)
	awaitOutput(lines, pr) // a step that left a background process holding the pipe must not hang the update
	code := exitCode(ws)
	if timedOut {
		e := &StepError{Cmd: st.Display, Code: code, Timeout: st.Timeout()}
		out(e.Error())
		return code, e
	}
	if code != 0 {
		return code, &StepError{Cmd: st.Display, Code: code}
	}
	return 0, nil
}

// waitStep waits for the step led by pid to end, and stops its process group when it runs past limit:
// SIGTERM, SIGKILL after the grace period, and SIGKILL again once the leader is gone, for children
// that outlive it. It reports whether the step timed out.
func (s *Supervisor) waitStep(pid int, done <-chan syscall.WaitStatus, limit time.Duration) (syscall.WaitStatus, bool) {
	timeout := time.NewTimer(limit)
	defer timeout.Stop()
	select {
	case ws := <-done:
		return ws, false
	case <-timeout.C:
	}
	s.cfg.Log.Printf("supervisor: step timed out after %s: stopping its process group", protocol.FormatTimeout(limit))
	return s.stopGroup(pid, done, syscall.SIGTERM), true
}

// stopGroup stops the process group led by pid: first, SIGKILL after the grace period, and SIGKILL
// again once the leader is gone, for children that outlive it. It returns the leader's exit status.
func (s *Supervisor) stopGroup(pid int, done <-chan syscall.WaitStatus, first syscall.Signal) syscall.WaitStatus {
	signalGroup(pid, first)
	grace := time.NewTimer(s.cfg.Grace)
	defer grace.Stop()
	var ws syscall.WaitStatus
	select {
	case ws = <-done:
	case <-grace.C:
		signalGroup(pid, syscall.SIGKILL)
		ws = <-done
	}
	signalGroup(pid, syscall.SIGKILL)
	return ws
}

// runPending runs steps queued while the app container was down; s.mu must be held. The file is
// removed before the steps run, so a step that kills the container is not rerun at every start.
func (s *Supervisor) runPending() {
	if s.cfg.Pending == "" {
		return
	}
	// only a file the synclet (this user) wrote is run: not a link, nor one another user put there
	b, err := readOwned(s.cfg.Pending)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		s.cfg.Log.Printf("supervisor: queued steps not run: %v", err)
		return
	}
	if err := os.Remove(s.cfg.Pending); err != nil {
		s.cfg.Log.Printf("supervisor: queued steps run now and again at the next start: %v", err)
	}
	var req protocol.RunRequest
	if err := json.Unmarshal(b, &req); err != nil {
		s.cfg.Log.Printf("supervisor: queued steps not run: %s: %v", s.cfg.Pending, err)
		return
	}
	for _, st := range req.Steps {
		s.cfg.Log.Printf("supervisor: running queued step %s", st.Display)
		if _, err := s.runStep(st, func(l string) { s.cfg.Log.Printf("[%s] %s", st.Display, l) }); err != nil {
			s.cfg.Log.Printf("supervisor: %v", err)
			return
		}
	}
}

// StepError is a failed in-pod step: its command and exit code, explained in plain words.
type StepError struct {
	Cmd  string
	Code int
	Err  error
	// Timeout is set when the step ran into its timeout and was stopped.
	Timeout time.Duration
}

// Error names the step and its exit code, and says what 126, 127 and 137 usually mean; a step that
// timed out is named with its timeout and the rules key that changes it.
func (e *StepError) Error() string {
	msg := fmt.Sprintf("step %q failed with exit code %d", e.Cmd, e.Code)
	switch {
	case e.Timeout > 0:
		return fmt.Sprintf("step %q timed out after %s and was stopped with its processes (raise the rules' run[].timeout of this step, or make the command end)",
			e.Cmd, protocol.FormatTimeout(e.Timeout))
	case e.Err != nil:
		return fmt.Sprintf("step %q could not start: %v (is the command in the app image's PATH?)", e.Cmd, e.Err)
	case e.Code == 126:
		return msg + " (the command is not executable: check its mode)"
	case e.Code == 127:
		return msg + " (command not found in the app container)"
	case e.Code == 137:
		return msg + " (killed, often for exceeding the container's memory limit)"
	}
	return msg
}
