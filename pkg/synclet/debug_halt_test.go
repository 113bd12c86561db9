package synclet

import (
	"io"
	"log"
	"net"
	"net/rpc"
	"net/rpc/jsonrpc"
	"sync"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// fakeDelveRPC answers the two calls of Delve's JSON-RPC API the supervisor makes (RPCServer.State,
// RPCServer.Command) with a program state the test sets.
type fakeDelveRPC struct {
	mu        sync.Mutex
	running   bool
	goroutine int64 // the goroutine it is stopped in; 0: none (at the first instruction)
	commands  []string
}

// RPCServer is the name Delve's API is registered under.
type RPCServer struct{ f *fakeDelveRPC }

// State answers as Delve's RPCServer.State.
func (s *RPCServer) State(_ map[string]bool, out *map[string]any) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	st := map[string]any{"Running": s.f.running}
	if s.f.goroutine != 0 {
		st["currentGoroutine"] = map[string]any{"id": s.f.goroutine}
	}
	*out = map[string]any{"State": st}
	return nil
}

// Command records the command, as Delve's RPCServer.Command starts it.
func (s *RPCServer) Command(in map[string]string, out *map[string]any) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.commands = append(s.f.commands, in["name"])
	if in["name"] == "continue" {
		s.f.running = true
	}
	*out = map[string]any{}
	return nil
}

func (f *fakeDelveRPC) serve(t *testing.T) string {
	t.Helper()
	srv := rpc.NewServer()
	if err := srv.Register(&RPCServer{f: f}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go srv.ServeCodec(jsonrpc.NewServerCodec(c))
		}
	}()
	return ln.Addr().String()
}

func (f *fakeDelveRPC) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.commands...)
}

// TestWatchHalted: a build started halted for an attached IDE that no relay lets run within the
// timeout is let run by the supervisor, which then starts later builds running; one the relay let run
// (running, or stopped at a breakpoint since) is left alone.
func TestWatchHalted(t *testing.T) {
	for _, tc := range []struct {
		name      string
		running   bool
		goroutine int64
		continued bool
	}{
		{"never let run", false, 0, true},
		{"running", true, 0, false},
		{"stopped at a breakpoint", false, 7, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeDelveRPC{running: tc.running, goroutine: tc.goroutine}
			addr := f.serve(t)
			s := NewSupervisor(SupervisorConfig{Argv: []string{"app"}, Log: log.New(io.Discard, "", 0)})
			s.debug = &protocol.DebugRequest{Port: 2345, Attached: true}
			s.pid.Store(42)
			done := make(chan struct{})
			go func() { s.watchHalted(42, addr, 300*time.Millisecond); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("watchHalted did not return")
			}
			if tc.continued { // the continue is sent as the client leaves: the fake may take it a moment later
				for end := time.Now().Add(5 * time.Second); len(f.got()) == 0 && time.Now().Before(end); {
					time.Sleep(10 * time.Millisecond)
				}
			}
			if got := len(f.got()) == 1 && f.got()[0] == "continue"; got != tc.continued {
				t.Errorf("commands %v, want a continue: %v", f.got(), tc.continued)
			}
			s.mu.Lock()
			attached := s.debug.Attached
			s.mu.Unlock()
			if attached == tc.continued {
				t.Errorf("later builds start halted: %v, want %v", attached, !tc.continued)
			}
		})
	}
}
