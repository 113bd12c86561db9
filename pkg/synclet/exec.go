package synclet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// supervisorExecPath is where the supervisor takes `kubectl fastdev run` commands (every other path
// runs steps); the synclet's transport dials its unix socket whatever the host.
const (
	supervisorExecPath = "/exec"
	supervisorExecURL  = "http://supervisor" + supervisorExecPath
)

// execChunk is the most output one event of a run carries: a pipe's read size, so a chatty command
// costs few events and a quiet one is seen at once.
const execChunk = 32 << 10

// outputLinger is how long the output of a command that has ended is still read: a background
// process it left holding the pipe must not hang its reply.
const outputLinger = time.Second

// serveExec runs one `kubectl fastdev run` command for the synclet. It does not take s.mu: a command
// runs beside the steps and restarts of updates, however long it takes.
func (s *Supervisor) serveExec(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	if err := rc.EnableFullDuplex(); err != nil { // the command's input streams in while its output streams out
		s.cfg.Log.Printf("supervisor: run: %v", err)
	}
	br := bufio.NewReaderSize(r.Body, execChunk)
	req, err := protocol.ReadCommandRequest(br)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil { // the synclet learns at once that the command started
		return
	}
	ev := &lockedEvents{w: protocol.NewEventWriter(w, func() { _ = rc.Flush() })}
	res := s.execCommand(r.Context(), req, br, ev)
	// the command has ended whether or not the synclet hears of it
	if err := ev.write(res); err != nil {
		s.cfg.Log.Printf("supervisor: run result not delivered to the synclet: %v", err)
	}
}

// lockedEvents lets the stdout and stderr readers share one reply.
type lockedEvents struct {
	mu sync.Mutex
	w  *protocol.EventWriter
}

func (l *lockedEvents) write(e protocol.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(e)
}

// execCommand runs req in a process group of its own, in the app container's environment, user and
// working directory (the supervisor's own), with stdin (when asked for) as its input, streaming its
// output to ev. When ctx ends, or the caller's stream breaks, it stops the command as Ctrl-C in a
// terminal would. It returns the result event: the exit code, or why the command did not run.
func (s *Supervisor) execCommand(ctx context.Context, req protocol.CommandRequest, stdin io.Reader, ev *lockedEvents) protocol.Event {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p, err := newExecPipes(req.Stdin)
	if err != nil {
		return protocol.Event{Type: protocol.EventResult, ExitCode: 1, Error: "run: " + err.Error()}
	}
	defer p.close()
	cmd := exec.Command(req.Argv[0], req.Argv[1:]...)
	cmd.Stdout, cmd.Stderr = p.childOut, p.childErr
	if p.childIn != nil { // a nil *os.File would not read as no input (/dev/null)
		cmd.Stdin = p.childIn
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	done, err := s.procs.start(cmd)
	p.closeChild() // the child holds its own copies; ours must go so the readers see the end of the output
	if err != nil {
		return protocol.Event{Type: protocol.EventResult, ExitCode: 127,
			Error: fmt.Sprintf("command %s could not start: %v (is it installed in the app image, and on its PATH?)", req.Display(), err)}
	}
	pid := cmd.Process.Pid
	s.runs.add(pid)
	defer s.runs.remove(pid)
	go p.feed(stdin, cancel)
	outputs := p.pump(ev, cancel)
	var ws syscall.WaitStatus
	select {
	case ws = <-done:
	case <-ctx.Done():
		s.cfg.Log.Printf("supervisor: run %s: its caller has gone: stopping its process group", req.Display())
		ws = s.stopGroup(pid, done, syscall.SIGINT)
	}
	release(cmd)
	awaitOutput(outputs, p.outR, p.errR)
	return protocol.Event{Type: protocol.EventResult, ExitCode: exitCode(ws)}
}

// awaitOutput waits for the readers of a command that has ended to reach the end of its output, for
// outputLinger at most; then it closes the pipes under them.
func awaitOutput(done <-chan struct{}, pipes ...io.Closer) {
	select {
	case <-done:
		return
	case <-time.After(outputLinger):
	}
	for _, p := range pipes {
		_ = p.Close() // only unblocks the reader; a second close elsewhere is harmless
	}
	<-done
}

// execPipes are a command's standard streams: the child's ends and ours.
type execPipes struct {
	childIn, childOut, childErr *os.File // childIn nil: the command reads /dev/null
	inW, outR, errR             *os.File
}

func newExecPipes(stdin bool) (*execPipes, error) {
	p := &execPipes{}
	var err error
	if p.outR, p.childOut, err = os.Pipe(); err != nil {
		return nil, err
	}
	if p.errR, p.childErr, err = os.Pipe(); err != nil {
		p.close()
		return nil, err
	}
	if stdin {
		if p.childIn, p.inW, err = os.Pipe(); err != nil {
			p.close()
			return nil, err
		}
	}
	return p, nil
}

// closeChild closes the child's ends, once it has its own.
func (p *execPipes) closeChild() {
	for _, f := range []*os.File{p.childIn, p.childOut, p.childErr} {
		if f != nil {
			_ = f.Close() // a pipe end we opened: closing it cannot fail in a way worth reporting
		}
	}
}

func (p *execPipes) close() {
	p.closeChild()
	for _, f := range []*os.File{p.inW, p.outR, p.errR} {
		if f != nil {
			_ = f.Close() // see closeChild; also unblocks a feed still writing
		}
	}
}

// feed copies the caller's input into the command until it ends (then the command reads its end),
// and cancels when the caller's stream breaks: the caller has gone. Without stdin it only watches the
// request for that.
func (p *execPipes) feed(stdin io.Reader, cancel func()) {
	var err error
	if p.inW != nil {
		_, err = io.Copy(p.inW, stdin)
		_ = p.inW.Close() // the command sees the end of its input; a close error has no reader to tell
	} else {
		_, err = io.Copy(io.Discard, stdin)
	}
	if err != nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, syscall.EPIPE) {
		cancel()
	}
}

// pump streams stdout and stderr as events until both end; a reply that cannot be written means the
// caller has gone, so it cancels (and keeps reading, so the command never blocks on a full pipe).
func (p *execPipes) pump(ev *lockedEvents, cancel func()) <-chan struct{} {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, s := range []struct {
		r    *os.File
		kind string
	}{{p.outR, protocol.EventStdout}, {p.errR, protocol.EventStderr}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, execChunk)
			for {
				n, err := s.r.Read(buf)
				if n > 0 {
					if werr := ev.write(protocol.Event{Type: s.kind, Data: buf[:n]}); werr != nil {
						cancel()
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	return done
}

// groups are the process groups of running commands: a container stop reaches them too.
type groups struct {
	mu   sync.Mutex
	pids map[int]bool
}

func (g *groups) add(pid int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pids == nil {
		g.pids = map[int]bool{}
	}
	g.pids[pid] = true
}

func (g *groups) remove(pid int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.pids, pid)
}

// signal sends sig to every group.
func (g *groups) signal(sig syscall.Signal) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for pid := range g.pids {
		signalGroup(pid, sig)
	}
}
