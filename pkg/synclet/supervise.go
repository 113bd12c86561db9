package synclet

import (
	"context"
	"encoding/json"
	"errors"
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
	Grace   time.Duration // between SIGTERM and SIGKILL when restarting the app or stopping a step at its timeout
	Log     *log.Logger
}

// Supervisor runs the app as a child process, forwards signals to it, reaps every child (it is PID 1
// of the app container), and on request reruns build steps and restarts the app without restarting
// the container. An app that exits on its own is started again after a short backoff of the
// supervisor's own, so the kubelet's crash-loop back-off never delays the fix that follows; only an
// OOM kill or a stop asked by the kubelet ends the container, passing the app's exit code on.
type Supervisor struct {
	cfg   SupervisorConfig
	procs procTable

	mu      sync.Mutex    // guards the fields below; held for a whole run request so steps never overlap
	child   *exec.Cmd     // the app process; nil while none runs (it crashed and waits for its restart)
	exited  chan struct{} // closed once the current child is reaped
	gen     int           // bumped at every start and deliberate stop: an exit or a retry of an older one is stale
	started time.Time     // when the app last started, to reset the backoff after a good run
	ooms    int64         // the container's OOM kill count when the app last started (-1: unknown)
	backoff backoff
	retry   *time.Timer // the scheduled start of an app that exited on its own
	// debug, once a debug request came (`up --debug`), runs the app under Delve and its builds with
	// Delve's flags (debug.go); nil runs the app directly
	debug     *protocol.DebugRequest
	debugging atomic.Bool // debug != nil, read without mu by the signal forwarder

	pid      atomic.Int64 // the app's pid (0: none), read without mu so signals are forwarded even while steps run
	stepPid  atomic.Int64 // the running step's pid (0: none), stopped too when the container is stopped
	runs     groups       // the process groups of `kubectl fastdev run` commands, stopped too
	stopping atomic.Bool  // the kubelet (or Run's context) asked the container to stop: nothing restarts now
	oomKills func() int64 // the container's OOM kill count, -1 when unknown; a field so tests can fake it
	exit     chan int     // the code Run returns
}

// NewSupervisor returns a supervisor; Run starts it.
func NewSupervisor(cfg SupervisorConfig) *Supervisor {
	if cfg.Grace == 0 {
		cfg.Grace = 5 * time.Second
	}
	return &Supervisor{cfg: cfg, procs: procTable{waiting: map[int]chan syscall.WaitStatus{}}, exit: make(chan int, 1),
		oomKills: cgroupOOMKills, backoff: backoff{min: restartBackoffMin, max: restartBackoffMax, reset: restartBackoffReset}}
}

// Run starts the app and serves run requests until the container is asked to stop (a signal, or ctx)
// or the app is OOM killed, then returns the app's exit code (128+signal when it was killed), which
// main passes on as the container's.
func (s *Supervisor) Run(ctx context.Context) (int, error) {
	if len(s.cfg.Argv) == 0 {
		return 2, errors.New("supervise: no command given after --")
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	stop := make(chan struct{})
	defer func() { signal.Stop(sigs); close(stop) }()
	go s.signals(sigs, stop)

	s.mu.Lock()
	s.runPending()
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
		return s.terminate(), nil
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
	mux := http.NewServeMux()
	mux.HandleFunc(supervisorExecPath, s.serveExec)
	mux.HandleFunc(protocol.SupervisorDebugPath, s.serveDebug)
	mux.HandleFunc("/", s.serveRun)
	srv := &http.Server{Handler: mux}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Log.Printf("supervisor: stopped listening for steps (%v); the app runs without live restarts", err)
		}
	}()
	return srv
}

// signals reaps children on SIGCHLD and forwards every other signal to the app's process group. A
// signal that stops the container (SIGTERM, SIGINT, SIGQUIT) also reaches a running step, and ends
// the supervisor at once when no app process runs.
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
			sn := sig.(syscall.Signal)
			if sn == syscall.SIGTERM || sn == syscall.SIGINT || sn == syscall.SIGQUIT {
				s.stopping.Store(true)
				if pid := int(s.stepPid.Load()); pid > 0 {
					signalGroup(pid, sn)
				}
				s.runs.signal(sn)
			}
			switch pid := int(s.pid.Load()); {
			case pid > 0:
				s.signalApp(pid, sn) // its group, or the program Delve runs (debug.go)
			case s.stopping.Load():
				s.sendExit(128 + int(sn))
			}
		case <-tick.C:
			s.procs.reap()
		}
	}
}

// terminate stops the container for Run's context: SIGTERM to the app (and to a running step),
// SIGKILL after the grace period. It returns the app's exit code.
func (s *Supervisor) terminate() int {
	s.stopping.Store(true)
	if pid := int(s.stepPid.Load()); pid > 0 {
		signalGroup(pid, syscall.SIGTERM)
	}
	s.runs.signal(syscall.SIGTERM)
	pid := int(s.pid.Load())
	if pid <= 0 {
		return 128 + int(syscall.SIGTERM)
	}
	signalGroup(pid, syscall.SIGTERM)
	grace := time.NewTimer(s.cfg.Grace)
	defer grace.Stop()
	select {
	case code := <-s.exit:
		return code
	case <-grace.C:
		signalGroup(pid, syscall.SIGKILL)
		return <-s.exit
	}
}

// sendExit hands Run the code to return; only the first one counts.
func (s *Supervisor) sendExit(code int) {
	select {
	case s.exit <- code:
	default:
	}
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
	var err error
	switch req.Restart {
	case protocol.RestartProcess:
		err = s.restartProcess()
	case protocol.RestartContainer:
		s.cfg.Log.Printf("supervisor: restarting the app with fresh process state as the rules ask (restart: container)")
		err = s.freshStart()
	default: // none: the app reloads on its own, but one that is down (crashed) starts now
		err = s.ensureRunning()
	}
	if err != nil {
		s.result(ev, protocol.Event{Type: protocol.EventResult, Timings: &t, Error: err.Error()})
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
