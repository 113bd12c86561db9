package synclet

import (
	"bufio"
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

// maxStepLine bounds one line of a step's output; protocol's event reader allows for it escaped.
const maxStepLine = 1 << 20

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
		_ = ev.Write(protocol.Event{Type: protocol.EventStep, Step: st.Display, ExitCode: code, Millis: ms(time.Since(start))})
		if err != nil {
			return err
		}
	}
	return nil
}

// runStep runs one step, sending its combined output line by line to out.
func (s *Supervisor) runStep(st protocol.Step, out func(string)) (int, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return -1, fmt.Errorf("step %q: %w", st.Display, err)
	}
	defer pr.Close()
	cmd := exec.Command(st.Argv[0], st.Argv[1:]...)
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	done, err := s.procs.start(cmd)
	pw.Close() // the child holds its own copy; ours must go so the reader sees the end of the output
	if err != nil {
		e := &StepError{Cmd: st.Display, Code: 127, Err: err}
		out(e.Error())
		return e.Code, e
	}
	lines := make(chan struct{})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), maxStepLine)
		for sc.Scan() {
			out(sc.Text())
		}
	}()
	ws := <-done
	release(cmd)
	select { // a step that left a background process holding the pipe must not hang the update
	case <-lines:
	case <-time.After(time.Second):
		pr.Close()
		<-lines
	}
	if code := exitCode(ws); code != 0 {
		return code, &StepError{Cmd: st.Display, Code: code}
	}
	return 0, nil
}

// runPending runs steps queued while the app container was down. The file is removed before the steps
// run, so a step that kills the container is not rerun at every start.
func (s *Supervisor) runPending() {
	if s.cfg.Pending == "" {
		return
	}
	b, err := os.ReadFile(s.cfg.Pending)
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
	s.mu.Lock()
	defer s.mu.Unlock()
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
}

// Error names the step and its exit code, and says what 126, 127 and 137 usually mean.
func (e *StepError) Error() string {
	msg := fmt.Sprintf("step %q failed with exit code %d", e.Cmd, e.Code)
	switch {
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
