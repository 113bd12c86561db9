package synclet

import (
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
		if srv := s.listen(); srv != nil {
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

// listen serves run requests on the socket, or returns nil (with a log line) when it cannot: the app
// then runs without live restarts.
func (s *Supervisor) listen() *http.Server {
	// a socket left by the container's previous run would fail the listen; a failure to remove it shows
	// up there
	_ = os.Remove(s.cfg.Socket)
	ln, err := net.Listen("unix", s.cfg.Socket)
	if err != nil {
		s.cfg.Log.Printf("supervisor: not listening for steps (%v); the app runs without live restarts", err)
		return nil
	}
	srv := &http.Server{Handler: http.HandlerFunc(s.serveRun)}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Log.Printf("supervisor: stopped listening for steps (%v); the app runs without live restarts", err)
		}
	}()
	return srv
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
				signalGroup(pid, sig.(syscall.Signal))
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
		release(cmd)
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

// stopChild asks the app to end: SIGTERM to its process group, and nothing more. It neither waits nor
// sends SIGKILL; the app's exit ends Run, and with it the container.
func (s *Supervisor) stopChild() {
	if pid := int(s.pid.Load()); pid > 0 {
		signalGroup(pid, syscall.SIGTERM)
	}
}

// restartProcess replaces the app process; s.mu must be held.
func (s *Supervisor) restartProcess() error {
	if s.child != nil {
		s.gen++
		// s.pid, not s.child.Process.Pid: the reaping goroutine's Release may be setting the latter to -1
		// right now, and -(-1) would signal pid 1
		pid := int(s.pid.Load())
		signalGroup(pid, syscall.SIGTERM)
		// the reaper (woken by SIGCHLD) says when it is gone: no polling, no delay after it exits
		grace := time.NewTimer(s.cfg.Grace)
		select {
		case <-s.exited:
		case <-grace.C:
			signalGroup(pid, syscall.SIGKILL)
			<-s.exited
		}
		grace.Stop()
		// the group may outlive its leader (children of the app): do not leave them holding ports
		signalGroup(pid, syscall.SIGKILL)
	}
	return s.start()
}

// serveRun runs one request from the synclet: the steps, then the restart, streaming events back.
func (s *Supervisor) serveRun(w http.ResponseWriter, r *http.Request) {
	var req protocol.RunRequest
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
		s.result(ev, protocol.Event{Type: protocol.EventResult, Timings: &t, Error: err.Error()})
		return
	}
	t.Steps = ms(time.Since(start))
	start = time.Now()
	switch req.Restart {
	case protocol.RestartProcess:
		if err := s.restartProcess(); err != nil {
			s.result(ev, protocol.Event{Type: protocol.EventResult, Timings: &t, Error: err.Error()})
			return
		}
	case protocol.RestartContainer:
		// the kubelet restarts the container; the synced files live on in their emptyDir volumes
		s.result(ev, protocol.Event{Type: protocol.EventResult, Timings: &t})
		s.cfg.Log.Printf("supervisor: restarting the container as the rules ask (restart: container)")
		go func() { time.Sleep(50 * time.Millisecond); s.stopChild() }()
		return
	}
	t.Restart = ms(time.Since(start))
	s.result(ev, protocol.Event{Type: protocol.EventResult, Timings: &t})
}

// result ends a run request's reply. The steps and restart have happened whether or not the synclet
// hears of it, so a lost reply is only logged.
func (s *Supervisor) result(ev *protocol.EventWriter, e protocol.Event) {
	if err := ev.Write(e); err != nil {
		s.cfg.Log.Printf("supervisor: run result not delivered to the synclet: %v", err)
	}
}
