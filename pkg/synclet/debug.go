package synclet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// delveName is Delve's file name beside the synclet binary: /dlv in the synclet image, /fastdev/bin/dlv
// in the pod (copied by Install).
const delveName = "dlv"

// delveListenTimeout bounds how long a debug request waits for Delve to listen: Delve reads the
// binary's DWARF before it opens its port, about a second for a small service on a busy node.
const delveListenTimeout = 30 * time.Second

// installDelve copies Delve from beside the running synclet (the synclet image's /dlv) into dir, when
// the image has it: an image without Delve still installs, and `up --debug` then says what is missing.
func installDelve(self, dir string) error {
	src := filepath.Join(filepath.Dir(self), delveName)
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := copyFile(src, filepath.Join(dir, delveName), 0o755); err != nil {
		return fmt.Errorf("installing Delve: %w", err)
	}
	return nil
}

// delveArgv is the command that runs the app's argv under a headless Delve on the pod's loopback:
// one port for DAP and JSON-RPC clients, several clients in turn (the CLI's relay reconnects), the app
// running at once (--continue) unless halted: then it waits at its first instruction until a client
// (the relay, once it has set an attached IDE's breakpoints) lets it run (watchHalted bounds the wait). Delve traces its own child, which needs no capability. The relay
// reaches Delve through a port-forward, whose connections come from a process of another user in
// the pod's network namespace, hence --only-same-user=false; Delve listens on loopback only.
func delveArgv(dlv string, port int, argv []string, halted bool) ([]string, error) {
	prog, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("finding %q for Delve: %w", argv[0], err)
	}
	out := []string{dlv, "exec", "--headless", "--listen=" + delveAddr(port), "--accept-multiclient", "--api-version=2"}
	if !halted {
		out = append(out, "--continue")
	}
	out = append(out, "--only-same-user=false", prog)
	if len(argv) > 1 {
		out = append(append(out, "--"), argv[1:]...)
	}
	return out, nil
}

func delveAddr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// command returns what start runs: the app's argv, or Delve running it once a debug request came;
// s.mu must be held.
func (s *Supervisor) command() ([]string, error) {
	if s.debug == nil {
		return s.cfg.Argv, nil
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding Delve beside the synclet: %w", err)
	}
	dlv := filepath.Join(filepath.Dir(self), delveName)
	if _, err := os.Stat(dlv); err != nil {
		return nil, fmt.Errorf("no Delve at %s (%v): the synclet image lacks it; build it with `make images` and run `kubectl fastdev up --debug` again", dlv, err)
	}
	return delveArgv(dlv, s.debug.Port, s.cfg.Argv, s.debug.Attached)
}

// stepEnv is a step's environment: the container's, with the debug request's -gcflags added to
// GOFLAGS while debugging (quoted: the go command splits GOFLAGS at spaces outside quotes), so an
// in-pod go build keeps what Delve needs; nil (the container's as is) otherwise. s.mu must be held.
func (s *Supervisor) stepEnv() []string {
	if s.debug == nil || s.debug.GCFlags == "" {
		return nil
	}
	return withGoFlags(os.Environ(), "'-gcflags="+s.debug.GCFlags+"'")
}

// withGoFlags returns env with flag appended to GOFLAGS (set when absent).
func withGoFlags(env []string, flag string) []string {
	out := make([]string, 0, len(env)+1)
	found := false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GOFLAGS="); ok {
			kv, found = "GOFLAGS="+strings.TrimSpace(v+" "+flag), true
		}
		out = append(out, kv)
	}
	if !found {
		out = append(out, "GOFLAGS="+flag)
	}
	return out
}

// serveDebug switches the app to running under Delve (protocol.DebugRequest): restarted under Delve
// now unless it already runs so on that port, and at every later start. It answers once Delve
// listens, so the caller can connect at once.
func (s *Supervisor) serveDebug(w http.ResponseWriter, r *http.Request) {
	var req protocol.DebugRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "reading the debug request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := req.Validate(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	reply, err := s.debugOn(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(reply); err != nil {
		s.cfg.Log.Printf("supervisor: debug reply not delivered to the synclet: %v", err)
	}
}

// debugOn makes the app run under Delve as req says and waits until Delve listens.
func (s *Supervisor) debugOn(req protocol.DebugRequest) (protocol.DebugReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	reply := protocol.DebugReply{Addr: delveAddr(req.Port)}
	first := s.debug == nil
	detached := !first && s.debug.Attached && !req.Attached
	restart := first || s.debug.Port != req.Port || s.child == nil
	s.debug = &req // the build flags apply from the next build on
	s.debugging.Store(true)
	if first {
		s.debugBuild(req.Steps)
	}
	if restart {
		s.cfg.Log.Printf("supervisor: running %s under Delve on %s (kubectl fastdev up --debug)", s.cfg.Argv[0], reply.Addr)
		s.stopApp()
		if err := s.startNow(); err != nil {
			return reply, fmt.Errorf("starting the app under Delve: %w", err)
		}
		reply.Started = true
	}
	reply.Generation = s.gen
	// a build started halted for an attached IDE waits for the relay: it never runs before that
	if err := waitListening(reply.Addr, s.exited, delveListenTimeout, !req.Attached); err != nil {
		return reply, err
	}
	if detached { // the IDE has left: a build halted for it runs now
		s.releaseHalted(reply.Addr)
	}
	return reply, nil
}

// debugBuild runs the build steps once with Delve's flags before the app first starts under Delve.
// A failing build is logged and the app's current binary is debugged: the next edit builds again.
// s.mu must be held.
func (s *Supervisor) debugBuild(steps []protocol.Step) {
	if len(steps) == 0 {
		return
	}
	s.cfg.Log.Printf("supervisor: building the app with Delve's flags before debugging it")
	ev := protocol.NewEventWriter(io.Discard, func() {})
	if err := s.steps(steps, ev); err != nil {
		s.cfg.Log.Printf("supervisor: the build for debugging failed (%v); debugging the current binary until an edit builds again", err)
	}
}

// waitListening polls addr until Delve accepts a connection and (when running is set) has let its
// program run, the process that should open it exits, or timeout passes.
func waitListening(addr string, exited <-chan struct{}, timeout time.Duration, running bool) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			// a probe: Delve sees a client that leaves without a word
			_ = c.Close()
			if running {
				waitRunning(addr, min(time.Until(deadline), delveRunTimeout))
			}
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("the debugger (Delve) exited before listening on %s: `kubectl fastdev logs` shows its output "+
				"(a build without -gcflags='all=-N -l' still debugs; a missing ptrace permission does not: see docs/debug.md)", addr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the debugger (Delve) did not listen on %s within %s: `kubectl fastdev logs` shows its output", addr, timeout)
		}
	}
}

// delveRunTimeout bounds the wait for Delve to let its program run: a program that ends at once never
// does, and its Delve is debuggable all the same.
const delveRunTimeout = 5 * time.Second

// waitRunning waits until the Delve at addr reports its program running. Delve opens its port before
// its own --continue client (a JSON-RPC client that disconnects asking to continue) has come: a DAP
// client attaching in between has its halt undone by that client, and then hears of no stop at all.
// Delve's JSON-RPC API (net/rpc's JSON codec, on the same port) says when the continue has happened.
func waitRunning(addr string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if running, err := delveRunning(addr); err == nil && running {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// delveRunning asks the Delve at addr (RPCServer.State, without waiting for a stop) whether its
// program runs.
func delveRunning(addr string) (bool, error) {
	st, err := delveState(addr)
	return err == nil && st.Running, err
}

// debug relays a protocol.DebugRequest from the CLI to the supervisor and its reply back.
func (s *Server) debug(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err != nil {
		http.Error(w, "reading the debug request: "+err.Error(), http.StatusBadRequest)
		return
	}
	sreq, err := http.NewRequestWithContext(r.Context(), http.MethodPost, "http://supervisor"+protocol.SupervisorDebugPath, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	resp, err := s.super.Do(sreq)
	if err != nil {
		var ne *net.OpError
		if errors.As(err, &ne) && ne.Op == "dial" {
			http.Error(w, "the app container is not running (starting, or restarting after a crash): the debugger attaches once it runs", http.StatusServiceUnavailable)
			return
		}
		http.Error(w, "asking the supervisor to start Delve: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		s.cfg.Log.Printf("debug: reply not delivered to the CLI: %v", err)
	}
}
