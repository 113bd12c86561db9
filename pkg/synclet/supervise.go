package synclet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// SupervisorConfig configures the wrapper around the app container's process.
type SupervisorConfig struct {
	Argv    []string      // the app's command
	Socket  string        // unix socket the synclet reaches the supervisor on
	Pending string        // steps queued while the app was down, run before the app starts
	Grace   time.Duration // between SIGTERM and SIGKILL when restarting the process
	Log     *log.Logger
}

// Supervisor runs the app as a child process, forwards signals to it, reaps every child (it is PID 1
// of the app container), passes the app's exit code on, and on request reruns build steps and restarts
// the app without restarting the container.
type Supervisor struct {
	cfg   SupervisorConfig
	procs procTable

	mu     sync.Mutex // guards child, exited and gen; held for a whole run request so steps never overlap
	child  *exec.Cmd
	exited chan struct{} // closed once the current child is reaped
	gen    int           // bumped on each deliberate restart, so the old child's exit is not mistaken for a crash
	pid    atomic.Int64  // the app's pid, read without mu so signals are forwarded even while steps run
	exit   chan int
}

// NewSupervisor returns a supervisor; Run starts it.
func NewSupervisor(cfg SupervisorConfig) *Supervisor {
	if cfg.Grace == 0 {
		cfg.Grace = 5 * time.Second
	}
	return &Supervisor{cfg: cfg, procs: procTable{waiting: map[int]chan syscall.WaitStatus{}}, exit: make(chan int, 1)}
}

// Run starts the app and serves run requests until the app exits on its own, then returns its exit
// code (128+signal when it was killed), which main passes on as the container's.
func (s *Supervisor) Run(ctx context.Context) (int, error) {
	if len(s.cfg.Argv) == 0 {
		return 2, errors.New("supervise: no command given after --")
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	stop := make(chan struct{})
	defer func() { signal.Stop(sigs); close(stop) }()
	go s.signals(sigs, stop)

	s.runPending()
	s.mu.Lock()
	err := s.start()
	s.mu.Unlock()
	if err != nil {
		return 127, err
	}
	if s.cfg.Socket != "" {
		os.Remove(s.cfg.Socket)
		ln, err := net.Listen("unix", s.cfg.Socket)
		if err != nil {
			s.cfg.Log.Printf("supervisor: not listening for steps (%v); the app runs without live restarts", err)
		} else {
			srv := &http.Server{Handler: http.HandlerFunc(s.serveRun)}
			go srv.Serve(ln)
			defer srv.Close()
		}
	}
	select {
	case code := <-s.exit:
		return code, nil
	case <-ctx.Done():
		s.stopChild()
		return <-s.exit, nil
	}
}

// signals reaps children on SIGCHLD and forwards every other signal to the app's process group.
func (s *Supervisor) signals(sigs chan os.Signal, stop <-chan struct{}) {
	tick := time.NewTicker(time.Second) // a coalesced SIGCHLD must never leave a zombie behind
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case sig := <-sigs:
			if sig == syscall.SIGCHLD {
				s.procs.reap()
				continue
			}
			if pid := int(s.pid.Load()); pid > 0 {
				syscall.Kill(-pid, sig.(syscall.Signal))
			}
		case <-tick.C:
			s.procs.reap()
		}
	}
}

// start launches the app; s.mu must be held.
func (s *Supervisor) start() error {
	cmd := exec.Command(s.cfg.Argv[0], s.cfg.Argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	done, err := s.procs.start(cmd)
	if err != nil {
		return fmt.Errorf("starting %q: %w", s.cfg.Argv[0], err)
	}
	exited := make(chan struct{})
	s.child, s.exited = cmd, exited
	s.pid.Store(int64(cmd.Process.Pid))
	gen := s.gen
	go func() {
		ws := <-done
		close(exited)
		cmd.Process.Release()
		s.mu.Lock()
		deliberate := gen != s.gen
		s.mu.Unlock()
		if !deliberate {
			code := exitCode(ws)
			s.cfg.Log.Printf("supervisor: %s exited with code %d", s.cfg.Argv[0], code)
			s.exit <- code
		}
	}()
	return nil
}

// stopChild ends the app: SIGTERM to its process group, SIGKILL after the grace period.
func (s *Supervisor) stopChild() {
	if pid := int(s.pid.Load()); pid > 0 {
		syscall.Kill(-pid, syscall.SIGTERM)
	}
}

// restartProcess replaces the app process; s.mu must be held.
func (s *Supervisor) restartProcess() error {
	if old := s.child; old != nil {
		s.gen++
		pid := old.Process.Pid
		syscall.Kill(-pid, syscall.SIGTERM)
		// the reaper (woken by SIGCHLD) says when it is gone: no polling, no delay after it exits
		grace := time.NewTimer(s.cfg.Grace)
		select {
		case <-s.exited:
		case <-grace.C:
			syscall.Kill(-pid, syscall.SIGKILL)
			<-s.exited
		}
		grace.Stop()
		// the group may outlive its leader (children of the app): do not leave them holding ports
		syscall.Kill(-pid, syscall.SIGKILL)
	}
	return s.start()
}

func (s *Supervisor) serveRun(w http.ResponseWriter, r *http.Request) {
	var req RunRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	flush := func() {}
	if f, ok := w.(http.Flusher); ok {
		flush = f.Flush
	}
	ev := protocol.NewEventWriter(w, flush)
	s.mu.Lock()
	defer s.mu.Unlock()
	var t protocol.Timings
	start := time.Now()
	if err := s.steps(req.Steps, ev); err != nil {
		t.Steps = ms(time.Since(start))
		ev.Write(protocol.Event{Type: protocol.EventResult, Timings: &t, Error: err.Error()})
		return
	}
	t.Steps = ms(time.Since(start))
	start = time.Now()
	switch req.Restart {
	case "process":
		if err := s.restartProcess(); err != nil {
			ev.Write(protocol.Event{Type: protocol.EventResult, Timings: &t, Error: err.Error()})
			return
		}
	case "container":
		// the kubelet restarts the container; the synced files live on in their emptyDir volumes
		ev.Write(protocol.Event{Type: protocol.EventResult, Timings: &t})
		s.cfg.Log.Printf("supervisor: restarting the container as the rules ask (restart: container)")
		go func() { time.Sleep(50 * time.Millisecond); s.stopChild() }()
		return
	}
	t.Restart = ms(time.Since(start))
	ev.Write(protocol.Event{Type: protocol.EventResult, Timings: &t})
}

// steps runs each step in order, in the app container's working directory and environment, and stops
// at the first failure, leaving the running app untouched.
func (s *Supervisor) steps(steps []protocol.Step, ev *protocol.EventWriter) error {
	for _, st := range steps {
		start := time.Now()
		code, err := s.runStep(st, func(line string) {
			ev.Write(protocol.Event{Type: protocol.EventOutput, Step: st.Display, Line: line})
		})
		ev.Write(protocol.Event{Type: protocol.EventStep, Step: st.Display, ExitCode: code, Millis: ms(time.Since(start))})
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
		return -1, err
	}
	defer pr.Close()
	cmd := exec.Command(st.Argv[0], st.Argv[1:]...)
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	done, err := s.procs.start(cmd)
	pw.Close()
	if err != nil {
		e := &StepError{Cmd: st.Display, Code: 127, Err: err}
		out(e.Error())
		return e.Code, e
	}
	lines := make(chan struct{})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			out(sc.Text())
		}
	}()
	ws := <-done
	cmd.Process.Release()
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

// runPending runs steps queued while the app container was down.
func (s *Supervisor) runPending() {
	if s.cfg.Pending == "" {
		return
	}
	b, err := os.ReadFile(s.cfg.Pending)
	if err != nil {
		return
	}
	os.Remove(s.cfg.Pending)
	var req RunRequest
	if json.Unmarshal(b, &req) != nil {
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
