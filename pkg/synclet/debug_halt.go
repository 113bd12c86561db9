package synclet

import (
	"fmt"
	"net"
	"net/rpc/jsonrpc"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// haltedPoll is how often watchHalted asks a Delve started halted whether its program runs yet.
const haltedPoll = 50 * time.Millisecond

// delveStateOut is what the supervisor reads of Delve's RPCServer.State: whether the program runs,
// and the goroutine it is stopped in (none before the program's first instruction has run: the Go
// runtime has not made one yet).
type delveStateOut struct {
	Running   bool
	Goroutine *struct {
		ID int64 `json:"id"`
	} `json:"currentGoroutine"`
}

// delveState asks the Delve at addr for its state (RPCServer.State, without waiting for a stop).
func delveState(addr string) (delveStateOut, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return delveStateOut{}, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return delveStateOut{}, err
	}
	c := jsonrpc.NewClient(conn)
	var out struct{ State *delveStateOut }
	if err := c.Call("RPCServer.State", map[string]bool{"NonBlocking": true}, &out); err != nil {
		return delveStateOut{}, err
	}
	if out.State == nil {
		return delveStateOut{}, fmt.Errorf("delve at %s answered no state", addr)
	}
	return *out.State, nil
}

// watchHalted gives the relay protocol.DebugHaltTimeout to let a build that Delve (pid) started halted
// run, and lets it run itself after that: the relay (`up`) may have gone, and the app must not stay
// halted. Later builds then start running until a relay says again that an IDE is attached.
func (s *Supervisor) watchHalted(pid int, addr string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if int(s.pid.Load()) != pid {
			return // stopped or replaced
		}
		if running, err := delveRunning(addr); err == nil && running {
			return // the relay let it run
		}
		time.Sleep(haltedPoll)
	}
	if int(s.pid.Load()) != pid || !s.releaseHalted(addr) {
		return
	}
	s.cfg.Log.Printf("supervisor: no debugger client let the new build run within %s: running it; later builds run at once until an IDE attaches again", timeout)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.debug != nil && s.debug.Attached {
		d := *s.debug
		d.Attached = false
		s.debug = &d
	}
}

// releaseHalted lets the program of the Delve at addr run when it has not yet run at all (it waits
// at its first instruction: no goroutine), and reports whether it did. A program that a client has
// let run and that stopped since (at a breakpoint) is the IDE's and stays as it is. The continue is
// sent as Delve's own --continue sends it: a JSON-RPC client that asks and leaves.
func (s *Supervisor) releaseHalted(addr string) bool {
	st, err := delveState(addr)
	if err != nil || st.Running || (st.Goroutine != nil && st.Goroutine.ID != 0) {
		return false
	}
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		s.cfg.Log.Printf("supervisor: letting the program under Delve run: %v", err)
		return false
	}
	c := jsonrpc.NewClient(conn)
	var out struct{}
	// Go writes the request before it returns; the answer would come at the program's next stop
	c.Go("RPCServer.Command", map[string]string{"name": "continue"}, &out, nil)
	if err := c.Close(); err != nil {
		s.cfg.Log.Printf("supervisor: letting the program under Delve run: %v", err)
	}
	return true
}

// haltedStart starts watchHalted for Delve (pid) when the supervisor started it halted, for an
// attached IDE; it runs as the start's watcher does, after the start has released s.mu.
func (s *Supervisor) haltedStart(pid int) {
	s.mu.Lock()
	halted := s.debug != nil && s.debug.Attached && int(s.pid.Load()) == pid
	var addr string
	if halted {
		addr = delveAddr(s.debug.Port)
	}
	s.mu.Unlock()
	if halted {
		s.watchHalted(pid, addr, protocol.DebugHaltTimeout)
	}
}
