package synclet

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// debuggeePoll is how often watchDebuggee looks at Delve's target: an app that exits is started again
// within about this much more than without Delve.
const debuggeePoll = 250 * time.Millisecond

// watchDebuggee ends Delve (pid) once the program it runs has exited on its own: a headless Delve
// that accepts several clients outlives its target, and the supervisor starts the app again (after
// its backoff) only when its child, Delve, exits. It also bounds how long a build started halted for an
// attached IDE waits (haltedStart). It returns once pid is no longer the app's process.
func (s *Supervisor) watchDebuggee(pid int, every time.Duration) {
	go s.haltedStart(pid) // debug_halt.go: a build started halted runs once the relay (or a timeout) lets it
	t := time.NewTicker(every)
	defer t.Stop()
	target := 0
	for range t.C {
		if int(s.pid.Load()) != pid {
			return // stopped or replaced on purpose
		}
		if target == 0 {
			if kids := debuggees(pid); len(kids) > 0 {
				target = kids[0]
			}
			continue
		}
		if running(target) {
			continue
		}
		if !s.stopping.Load() {
			s.cfg.Log.Printf("supervisor: %s exited under Delve; stopping Delve so the app starts again", s.cfg.Argv[0])
		}
		signalGroup(pid, syscall.SIGKILL) // with a client attached Delve would keep SIGTERM to itself
		return
	}
}

// stopDebuggees ends the program Delve (pid) runs, then Delve, and returns the program's pids (for
// stopApp's last SIGKILL). The program gets SIGTERM, as without Delve, so it shuts down gracefully
// (Delve passes the signal on), or SIGKILL at once when it is stopped in the debugger (the signal
// would wait for the IDE) or after the grace period. Delve itself is killed: with a client attached
// it does not end on SIGTERM, and with its program gone it has nothing to clean up. s.mu must be held.
func (s *Supervisor) stopDebuggees(pid int) []int {
	s.pid.Store(0) // the stop is deliberate: watchDebuggee must not report it as an exit
	traced := debuggees(pid)
	for _, t := range traced {
		sig := syscall.SIGTERM
		if stoppedByDebugger(t) {
			sig = syscall.SIGKILL
		}
		killTree(t, sig)
	}
	deadline := time.Now().Add(s.cfg.Grace)
	for _, t := range traced {
		for running(t) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if running(t) {
			s.cfg.Log.Printf("supervisor: %s did not stop within %s of SIGTERM under Delve: killing it", s.cfg.Argv[0], s.cfg.Grace)
			killTree(t, syscall.SIGKILL)
		}
	}
	signalGroup(pid, syscall.SIGKILL)
	return traced
}

// stoppedByDebugger reports whether pid is in a tracing stop (at a breakpoint, after a step).
func stoppedByDebugger(pid int) bool { return procState(pid) == 't' }

// running reports whether pid exists and has not exited (a zombie has).
func running(pid int) bool {
	st := procState(pid)
	return st != 0 && st != 'Z'
}

// procState returns the state letter of /proc/PID/stat (R, S, t, Z, ...), or 0 when pid is gone.
func procState(pid int) byte {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || len(b) <= i+2 {
		return 0
	}
	return b[i+2]
}

// signalApp passes a signal on to the app: its process group, or while debugging the program Delve
// runs, so a SIGHUP or the kubelet's SIGTERM reaches it (Delve, with a client attached, keeps SIGTERM
// to itself; watchDebuggee then ends Delve once the program has gone).
func (s *Supervisor) signalApp(pid int, sig syscall.Signal) {
	if s.debugging.Load() {
		if kids := debuggees(pid); len(kids) > 0 {
			for _, k := range kids {
				killTree(k, sig)
			}
			return
		}
	}
	signalGroup(pid, sig)
}

// killTree signals the group pid leads (Delve starts its target in a group of its own) and pid
// itself, should it lead none. ESRCH, a process already gone, is what the caller wants.
func killTree(pid int, sig syscall.Signal) {
	signalGroup(pid, sig)
	_ = syscall.Kill(pid, sig)
}

// debuggees returns the children of pid: Delve's target, which runs in a process group of its own,
// so the supervisor stops it itself (stopDebuggees) and notices when it exits (watchDebuggee).
func debuggees(pid int) []int {
	if pid <= 0 {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var kids []int
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentOf(child); ok && ppid == pid {
			kids = append(kids, child)
		}
	}
	return kids
}

// parentOf reads a process's parent pid from /proc/PID/stat ("pid (comm) state ppid ...", where comm
// may hold spaces and parentheses, so the fields are counted after its last ')').
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(string(f[1]))
	return ppid, err == nil
}
