package protocol

import (
	"fmt"
	"time"
)

// PathDebug asks the synclet to have the supervisor run the app under Delve (`up --debug`). The CLI's
// debug relay sends it before each connection to the pod's Delve: it is idempotent, and a synclet
// older than it answers 404 (the fix: `kubectl fastdev up` injects the current synclet). An addition
// old CLIs never use, so the protocol version does not change.
const PathDebug = "/v1/debug"

// SupervisorDebugPath is PathDebug's counterpart on the supervisor's socket.
const SupervisorDebugPath = "/debug"

// DebugRequest is the body of PathDebug: run the app under a headless Delve listening on the pod's
// loopback at Port (DAP and JSON-RPC on one port), from now on and at every restart.
type DebugRequest struct {
	Port int `json:"port"`
	// GCFlags is added to in-pod go builds as -gcflags (through GOFLAGS) while debugging; empty
	// leaves builds alone.
	GCFlags string `json:"gcflags,omitempty"`
	// Steps are the rules' build steps: the supervisor runs them (with GCFlags) before it first starts
	// the app under Delve, so Delve debugs a build of the synced source with its flags, not the image's.
	Steps []Step `json:"steps,omitempty"`
	// Attached says an IDE session is held by the CLI's relay: from the next start on, Delve starts the
	// program halted (no --continue) and the relay lets it run once it has set the IDE's breakpoints
	// again, so no request runs past them. The supervisor lets a build halted this way run by itself
	// when no relay has done so within DebugHaltTimeout. False (the default, and what older CLIs
	// send) starts every build running.
	Attached bool `json:"attached,omitempty"`
}

// DebugHaltTimeout bounds how long a build started halted for an attached IDE (DebugRequest.Attached)
// waits for the relay to let it run; then the supervisor lets it run itself (and starts later builds
// running until a relay says again that an IDE is attached), so a relay that has gone never leaves
// the app halted.
const DebugHaltTimeout = 15 * time.Second

// Validate checks the port.
func (r DebugRequest) Validate() error {
	if r.Port <= 0 || r.Port > 65535 {
		return fmt.Errorf("debug port %d: want 1-65535 (the rules' debug.port)", r.Port)
	}
	return nil
}

// DebugReply answers PathDebug once Delve listens (or has failed to).
type DebugReply struct {
	// Addr is where Delve listens in the pod, e.g. 127.0.0.1:2345.
	Addr string `json:"addr"`
	// Started is true when this request (re)started the app under Delve, false when it already ran so.
	Started bool `json:"started"`
	// Generation counts the app's starts; a relay that saw another one knows the app was restarted.
	Generation int `json:"generation"`
}
