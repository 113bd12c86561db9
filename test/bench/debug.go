package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	godap "github.com/google/go-dap"
	appsv1 "k8s.io/api/apps/v1"
)

// The debug measure (issue 18): web-go under `kubectl fastdev up --debug`, a DAP client (the IDE)
// attached through up's local debug port with a breakpoint in the handler of /. Each edit moves the
// breakpoint's line down by one and changes the reply; right after the write, GET / is issued again
// and again until the new build answers. Every stop is continued at once (a stop in the old build
// too); the edit is timed to the first `stopped` at the moved line in the new build, and to the first
// reply with the new text (which comes after that stop is continued). It writes docs/bench-debug.md.

// debugResult is what the debug measure measured.
type debugResult struct {
	started, finished  time.Time
	loadStart, loadEnd string
	edits              int
	stopped, served    []time.Duration // edit -> stopped in the new build; edit -> new reply
	running            []time.Duration // edit -> up's edit->running line for it
	oldStops           int             // stops in the old build while the new one was built, continued
	passed             int             // replies of a new build that passed the breakpoint (set again too late)
	passedEdits        int             // edits with at least one such reply
	reference          *result         // web-go without --debug, edit -> served
	refNote            string
	facts              [][2]string
	err                error
}

// debugBP is the handler's line the breakpoint is set on.
const debugBP = "fmt.Fprintln(w, message)"

var debugAddr = regexp.MustCompile(`debugger for web-go: attach your IDE to (\S+) `)

// debugSuite runs the debug measure, and the reference series without --debug unless measure 1 of
// this run has it.
func (e *env) debugSuite(ctx context.Context, rep *report) *debugResult {
	d := &debugResult{started: time.Now(), loadStart: loadavg(), edits: e.o.edits}
	e.logf("debug: web-go under up --debug, %d edits", e.o.edits)
	if err := e.debugRun(ctx, d); err != nil {
		d.err = err
		rep.problems = append(rep.problems, fmt.Sprintf("debug: %v", err))
		e.logf("FAILED debug: %v", err)
	}
	if g := rep.find(rep.latency, idGo); g != nil && g.err == nil && len(g.lat) > 0 {
		d.reference, d.refNote = g, "series *"+g.title+"* of measure 1 in the same run"
	} else if ctx.Err() == nil {
		r := &result{id: idGo, title: "kubectl-fastdev, web-go, in-pod `go build` + restart"}
		e.logf("debug: reference %s", r.title)
		if err := e.fastdevRun(ctx, r, webGo, e.o.edits, 1, nil); err != nil {
			r.err = err
			rep.problems = append(rep.problems, fmt.Sprintf("debug reference: %v", err))
		}
		d.reference, d.refNote = r, "run by this measure right after the debugged series, as in measure 1"
	}
	d.finished, d.loadEnd = time.Now(), loadavg()
	return d
}

// debugRun deploys web-go, runs up --debug, attaches and makes the edits.
func (e *env) debugRun(ctx context.Context, d *debugResult) error {
	ns, cleanup, err := e.namespace(ctx, "debug")
	if err != nil {
		return err
	}
	defer cleanup()
	dir, err := e.examples(ns)
	if err != nil {
		return err
	}
	if _, err := e.deploy(ctx, ns, webGo.name, func(dep *appsv1.Deployment) error {
		// the kubelet's probe must not be a request that stops at the breakpoint in the handler of /
		dep.Spec.Template.Spec.Containers[0].ReadinessProbe.HTTPGet.Path = "/healthz"
		return nil
	}); err != nil {
		return err
	}
	up, err := e.up(ctx, ns, webGo.name, dir, 1, "--debug", "--debug-port", "0")
	if err != nil {
		return err
	}
	defer up.stop()
	l, _, err := up.wait(ctx, 0, time.Minute, "the debugger's address", debugAddr.MatchString)
	if err != nil {
		return err
	}
	addr := debugAddr.FindStringSubmatch(l.text)[1]
	if err := e.rolledOut(ctx, ns, webGo.name, 3*time.Minute); err != nil {
		return err
	}
	pods, err := e.runningPods(ctx, ns, "app="+webGo.name)
	if err != nil || len(pods) != 1 || pods[0].Status.PodIP == "" {
		return fmt.Errorf("want 1 running pod with an IP: %d pods, %v", len(pods), err)
	}
	s := &debugSession{url: "http://" + net.JoinHostPort(pods[0].Status.PodIP, "8080") + "/",
		main: filepath.Join(dir, webGo.file), interval: e.o.probeInterval}
	src, err := os.ReadFile(s.main)
	if err != nil {
		return err
	}
	s.src = string(src)
	defer func() { d.oldStops, d.passed = s.oldStops, s.passed }()
	if s.line = sourceLine(s.src, debugBP); s.line == 0 {
		return fmt.Errorf("%s: no line %q to set the breakpoint on", s.main, debugBP)
	}
	if s.c, err = dialDAP(ctx, addr); err != nil {
		return err
	}
	defer s.c.conn.Close()
	if err := s.attach(ctx); err != nil {
		return err
	}
	// the first stop, before any edit: the breakpoint works
	if _, _, err := s.until(ctx, time.Time{}, s.line, webGo.initial, 2*time.Minute); err != nil {
		return fmt.Errorf("before the first edit: %w", err)
	}
	from := up.mark()
	for i := 1; i <= e.o.edits; i++ {
		marker := fmt.Sprintf("edit-%d-%d", time.Now().UnixNano()%1_000_000, i)
		t0 := time.Now()
		if err := os.WriteFile(s.main, []byte(s.edited(i, marker)), 0o644); err != nil {
			return err
		}
		passed, oldStops := s.passed, s.oldStops
		stopped, served, err := s.until(ctx, t0, s.line+i, marker, 3*time.Minute)
		if s.passed > passed {
			d.passedEdits++
		}
		if err != nil {
			return fmt.Errorf("edit %d: %w", i, err)
		}
		d.stopped, d.served = append(d.stopped, stopped.Sub(t0)), append(d.served, served.Sub(t0))
		var ul line
		if ul, from, err = up.wait(ctx, from, time.Minute, "the update line of edit "+marker, func(s string) bool {
			_, ok := parseUpdate(line{text: s})
			return ok || strings.Contains(s, "FAILED")
		}); err != nil {
			return fmt.Errorf("edit %d: %w", i, err)
		}
		u, ok := parseUpdate(ul)
		if !ok {
			return fmt.Errorf("edit %d: update failed: %s", i, ul.text)
		}
		d.running = append(d.running, u.at.Sub(t0))
		if e.o.verbose {
			e.logf("debug: edit %d stopped after %s, served after %s (%d stops in the old build, %d replies of the new one passed the breakpoint)",
				i, fmtDur(stopped.Sub(t0)), fmtDur(served.Sub(t0)), s.oldStops-oldStops, s.passed-passed)
		}
		time.Sleep(e.o.gap)
	}
	e.logf("debug: %d edits, stopped p50 %s, served p50 %s (%d stops in old builds continued; %d replies of new builds passed the breakpoint, in %d edits)",
		len(d.stopped), fmtDur(percentile(d.stopped, 50)), fmtDur(percentile(d.served, 50)), s.oldStops, s.passed, d.passedEdits)
	return nil
}

// sourceLine returns the 1-based number of the line reading text (blanks aside), or 0.
func sourceLine(src, text string) int {
	for i, l := range strings.Split(src, "\n") {
		if strings.TrimSpace(l) == text {
			return i + 1
		}
	}
	return 0
}

// debugSession is the IDE's side: the DAP connection and web-go's source.
type debugSession struct {
	c        *dapConn
	url      string // GET / at the pod's IP
	main     string // the local main.go
	src      string // its first content
	line     int    // the breakpoint's line in src
	interval time.Duration
	oldStops int // stops in the old build, continued
	passed   int // replies of the new build that did not stop at the breakpoint
}

// edited is edit i of the source: i lines added above the breakpoint's (so it moves down by one
// line per edit) and the reply changed to marker.
func (s *debugSession) edited(i int, marker string) string {
	var add strings.Builder
	for k := range i {
		fmt.Fprintf(&add, "\t\tw.Header().Add(\"X-Edit\", \"%d\")\n", k+1)
	}
	src := strings.Replace(s.src, "\t\t"+debugBP, add.String()+"\t\t"+debugBP, 1)
	return goMessage.ReplaceAllString(src, `const message = "hello from web-go `+marker+`"`)
}

// attach does what VS Code does for "request": "attach", "mode": "remote", then sets the breakpoint.
func (s *debugSession) attach(ctx context.Context) error {
	c := s.c
	if _, err := c.call(ctx, &godap.InitializeRequest{Arguments: godap.InitializeRequestArguments{AdapterID: "go", PathFormat: "path",
		LinesStartAt1: true, ColumnsStartAt1: true}}, "initialize", 2*time.Minute); err != nil {
		return err
	}
	if _, err := c.call(ctx, &godap.AttachRequest{Arguments: json.RawMessage(`{"request":"attach","mode":"remote"}`)}, "attach", time.Minute); err != nil {
		return err
	}
	resp, err := c.call(ctx, &godap.SetBreakpointsRequest{Arguments: godap.SetBreakpointsArguments{Source: godap.Source{Path: s.main},
		Breakpoints: []godap.SourceBreakpoint{{Line: s.line}}}}, "setBreakpoints", 30*time.Second)
	if err != nil {
		return err
	}
	if b := resp.(*godap.SetBreakpointsResponse).Body.Breakpoints; len(b) != 1 || !b[0].Verified {
		return fmt.Errorf("the breakpoint at %s:%d was not verified: %+v", s.main, s.line, b)
	}
	_, err = c.call(ctx, &godap.ConfigurationDoneRequest{}, "configurationDone", 30*time.Second)
	return err
}

// until GETs / again and again (every interval after each reply) until the program has stopped at
// line (in the local main.go) and a reply holds want; every stop is continued at once. It returns
// when the program first stopped at line and when the first reply with want arrived (which may be
// before the stop: see passed). since is the edit's time: stops before it are not the edit's.
func (s *debugSession) until(ctx context.Context, since time.Time, line int, want string, timeout time.Duration) (time.Time, time.Time, error) {
	deadline := time.After(timeout)
	var stopped, served time.Time
	var last string
	for {
		body := getAsync(ctx, s.url)
		for got := false; !got; {
			select {
			case m, ok := <-s.c.next():
				if !ok {
					return stopped, time.Time{}, fmt.Errorf("the debugger closed the IDE's connection: %v", s.c.readErr)
				}
				at, err := s.handle(ctx, m, since, line)
				if err != nil {
					return stopped, time.Time{}, err
				}
				if stopped.IsZero() && !at.IsZero() {
					stopped = at
				}
			case r := <-body:
				got = true
				switch {
				case r.err != nil:
					last = r.err.Error()
				case strings.Contains(r.text, want):
					if served.IsZero() {
						served = r.at
					}
					if !stopped.IsZero() {
						return stopped, served, nil
					}
					// a reply of the new build that did not stop: it ran before the relay had set the
					// breakpoints again (the new build starts halted for that: this should not happen)
					s.passed++
					last = fmt.Sprintf("the new build answered %q without stopping", r.text)
				default:
					last = fmt.Sprintf("answered %q", r.text)
				}
			case <-deadline:
				return stopped, time.Time{}, fmt.Errorf("no reply with %q after %s (stopped at line %d: %v; last: %s)", want, timeout, line, !stopped.IsZero(), last)
			case <-ctx.Done():
				return stopped, time.Time{}, ctx.Err()
			}
		}
		select {
		case <-time.After(s.interval):
		case <-ctx.Done():
			return stopped, time.Time{}, ctx.Err()
		}
	}
}

// handle answers one message from the debugger: a stop is continued, and its time returned when it
// is at line; `terminated` is an error (the relay keeps the session across rebuilds).
func (s *debugSession) handle(ctx context.Context, m dapMsg, since time.Time, line int) (time.Time, error) {
	switch ev := m.m.(type) {
	case *godap.TerminatedEvent:
		return time.Time{}, errors.New("the debugger told the IDE the session terminated")
	case *godap.StoppedEvent:
		// a refused stackTrace is a stop of the old build whose Delve went away meanwhile (the restart)
		resp, err := s.c.call(ctx, &godap.StackTraceRequest{Arguments: godap.StackTraceArguments{ThreadId: ev.Body.ThreadId, Levels: 1}}, "stackTrace", 30*time.Second)
		if err != nil && resp == nil {
			return time.Time{}, err
		}
		fs := stackFrames(resp, err)
		var at time.Time
		if len(fs) > 0 && fs[0].Source != nil &&
			fs[0].Source.Path == s.main && fs[0].Line == line && m.at.After(since) {
			at = m.at
		} else {
			s.oldStops++
		}
		// a continue the relay refuses (the session moved to a new build meanwhile) is not fatal: the
		// reply, or the next stop, tells
		_, _ = s.c.call(ctx, &godap.ContinueRequest{Arguments: godap.ContinueArguments{ThreadId: ev.Body.ThreadId}}, "continue", 30*time.Second)
		return at, nil
	}
	return time.Time{}, nil
}

// stackFrames returns the frames of a successful stackTrace response.
func stackFrames(resp godap.ResponseMessage, err error) []godap.StackFrame {
	if tr, ok := resp.(*godap.StackTraceResponse); ok && err == nil {
		return tr.Body.StackFrames
	}
	return nil
}

type httpReply struct {
	text string
	err  error
	at   time.Time
}

// getAsync requests url in the background: the handler may be held at the breakpoint meanwhile.
func getAsync(ctx context.Context, url string) <-chan httpReply {
	out := make(chan httpReply, 1)
	go func() {
		client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			out <- httpReply{err: err}
			return
		}
		resp, err := client.Do(req)
		if err != nil {
			out <- httpReply{err: err, at: time.Now()}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		out <- httpReply{text: strings.TrimSpace(string(b)), err: err, at: time.Now()}
	}()
	return out
}

// dapConn is a DAP client connection; one goroutine reads it, stamping each message with its arrival.
type dapConn struct {
	conn    net.Conn
	msgs    chan dapMsg
	pending []dapMsg // events read while waiting for a response, handed out first by next
	seq     int
	readErr error
}

type dapMsg struct {
	m  godap.Message
	at time.Time
}

func dialDAP(ctx context.Context, addr string) (*dapConn, error) {
	var dl net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := dl.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to up's debugger at %s: %w", addr, err)
	}
	c := &dapConn{conn: conn, msgs: make(chan dapMsg, 256)}
	go func() {
		defer close(c.msgs)
		r := bufio.NewReader(conn)
		for {
			m, err := godap.ReadProtocolMessage(r)
			if err != nil {
				c.readErr = err
				return
			}
			c.msgs <- dapMsg{m, time.Now()}
		}
	}()
	return c, nil
}

// next returns a channel with the next message: a pending one first.
func (c *dapConn) next() <-chan dapMsg {
	if len(c.pending) == 0 {
		return c.msgs
	}
	ch := make(chan dapMsg, 1)
	ch <- c.pending[0]
	c.pending = c.pending[1:]
	return ch
}

// call sends a request and waits for its response (an error when it failed); other messages read
// meanwhile are kept for next.
func (c *dapConn) call(ctx context.Context, m godap.RequestMessage, command string, timeout time.Duration) (godap.ResponseMessage, error) {
	c.seq++
	r := m.GetRequest()
	r.Seq, r.Type, r.Command = c.seq, "request", command
	if err := godap.WriteProtocolMessage(c.conn, m); err != nil {
		return nil, fmt.Errorf("sending %s to the debugger: %w", command, err)
	}
	deadline := time.After(timeout)
	for {
		select {
		case dm, ok := <-c.msgs:
			if !ok {
				return nil, fmt.Errorf("the debugger closed the connection waiting for %s's response: %v", command, c.readErr)
			}
			if resp, isResp := dm.m.(godap.ResponseMessage); isResp && resp.GetResponse().RequestSeq == c.seq {
				if !resp.GetResponse().Success {
					return resp, fmt.Errorf("%s failed: %s", command, resp.GetResponse().Message)
				}
				return resp, nil
			}
			c.pending = append(c.pending, dm)
		case <-deadline:
			return nil, fmt.Errorf("no response to %s after %s", command, timeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// debugFile is the debug measure's own report, beside BENCHMARKS.md, so `-only debug` leaves that one alone.
const debugFile = "bench-debug.md"

// markdown renders docs/bench-debug.md.
func (d *debugResult) markdown(o options) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Benchmark: a debugger attached across rebuilds (issue 18)\n\n")
	w("Generated by `bin/bench -only debug` (or `make bench`; `test/bench/debug.go`) on %s; the measure took %s. 1-minute load\n",
		d.started.UTC().Format("2006-01-02 15:04 UTC"), d.finished.Sub(d.started).Round(time.Second))
	w("average %s at its start, %s at its end (the machine is shared; the tails are the noisiest figures).\n\n", d.loadStart, d.loadEnd)
	w("**No verdict.** Issue 18 sets no target for this measurement, so the numbers are reported as they are, without a\n")
	w("met / not met (a rule fixed before the first run).\n\n")
	w("web-go runs under `kubectl fastdev up --debug` (Delve in the pod, headless DAP); a DAP client (github.com/google/go-dap,\n")
	w("as an IDE) attaches through up's local debug port (`\"request\": \"attach\", \"mode\": \"remote\"`) and sets a breakpoint on\n")
	w("the handler's `%s` line. Each of the %d edits adds a line above the breakpoint's (moving it down by one) and\n", debugBP, d.edits)
	w("changes the reply; the in-pod `go build` and the restart under Delve follow, and the relay re-applies the breakpoint\n")
	w("at the moved line on the same connection. Right after the write the client GETs `/` at the pod's IP, again every\n")
	w("%s after each reply, until the new build has both answered and stopped at the moved line; every stop is\n", o.probeInterval)
	w("continued at once.\n\n")
	w("- *edit -> stopped*: from just before the write to the `stopped` event at the moved line in the new build.\n")
	w("- *edit -> served*: to the first reply with the new text. When that request stopped at the breakpoint, this also\n")
	w("  holds the client's stackTrace and continue round trips through the relay.\n")
	w("- *edit -> up's line*: to up's `edit->running` line for the edit (the app restarted under Delve and attached).\n")
	w("- p95 is given only for series of 30 edits or more; shorter runs give the max alone.\n\n")
	if d.err != nil {
		w("The debugged series failed: %s\n\n", strings.ReplaceAll(firstLine(d.err.Error()), "|", "\\|"))
	}
	w("| series | edits | p50 | p95 | max |\n|---|---:|---:|---:|---:|\n")
	row := func(what string, ds []time.Duration) {
		p95 := "- (< 30 edits)"
		if len(ds) >= 30 {
			p95 = fmtDur(percentile(ds, 95))
		}
		w("| %s | %d | %s | %s | %s |\n", what, len(ds), fmtDur(percentile(ds, 50)), p95, fmtDur(percentile(ds, 100)))
	}
	row("`up --debug`: edit -> stopped at the breakpoint in the new build", d.stopped)
	row("`up --debug`: edit -> served", d.served)
	row("`up --debug`: edit -> up's edit->running line", d.running)
	switch {
	case d.reference == nil:
	case d.reference.err != nil:
		w("| without `--debug`: edit -> served | failed: %s | | | |\n", strings.ReplaceAll(firstLine(d.reference.err.Error()), "|", "\\|"))
	default:
		row("without `--debug`: edit -> served (reference)", d.reference.lat)
	}
	w("\nThe reference is web-go's edit -> served without `--debug` and without a breakpoint (%s).\n", d.refNote)
	w("While a new build was made, %d requests stopped at the breakpoint in the old build and were continued; an edit that\n", d.oldStops)
	w("reaches `up` while the program is stopped waits for that continue (a few ms here), as it would for an IDE.\n")
	w("%d replies of a new build passed the breakpoint without stopping, in %d of the %d edits: with an IDE attached each new\n", d.passed, d.passedEdits, len(d.stopped))
	w("build starts halted and runs once the relay has set the IDE's breakpoints in it (docs/debug.md), so the first request\n")
	w("it answers stops; requests before that find nothing listening and are asked again.\n")
	w("\n## Machine and versions\n\n| | |\n|---|---|\n")
	for _, f := range d.facts {
		w("| %s | %s |\n", f[0], strings.ReplaceAll(f[1], "|", "\\|"))
	}
	return b.String()
}
