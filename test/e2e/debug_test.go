package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	godap "github.com/google/go-dap"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
)

// dapClient is the IDE in TestDebugAcrossRebuild: one DAP connection, read by one goroutine.
type dapClient struct {
	t    *testing.T
	conn net.Conn
	msgs chan godap.Message
	seq  int
	seen []string // every event, in order
}

func dialDAP(t *testing.T, addr string) *dapClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("connecting to the debugger at %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &dapClient{t: t, conn: conn, msgs: make(chan godap.Message, 256)}
	go func() {
		defer close(c.msgs)
		r := bufio.NewReader(conn)
		for {
			m, err := godap.ReadProtocolMessage(r)
			if err != nil {
				return
			}
			c.msgs <- m
		}
	}()
	return c
}

func (c *dapClient) send(m godap.RequestMessage, command string) int {
	c.t.Helper()
	c.seq++
	r := m.GetRequest()
	r.Seq, r.Type, r.Command = c.seq, "request", command
	if err := godap.WriteProtocolMessage(c.conn, m); err != nil {
		c.t.Fatalf("sending %s: %v", command, err)
	}
	return c.seq
}

// wait reads messages until ok accepts one. The connection must never end and Delve's session must
// never be reported over (`terminated`): the relay keeps the IDE's session across rebuilds.
func (c *dapClient) wait(what string, timeout time.Duration, ok func(godap.Message) bool) godap.Message {
	c.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m, open := <-c.msgs:
			if !open {
				c.t.Fatalf("waiting for %s: the debugger closed the IDE's connection (events: %v)", what, c.seen)
			}
			if e, isEvent := m.(godap.EventMessage); isEvent {
				c.seen = append(c.seen, e.GetEvent().Event)
				if e.GetEvent().Event == "terminated" {
					c.t.Fatalf("waiting for %s: the debugger told the IDE the session terminated", what)
				}
			}
			if ok(m) {
				return m
			}
		case <-deadline:
			c.t.Fatalf("timed out after %s waiting for %s (events so far: %v)", timeout, what, c.seen)
		}
	}
}

// call sends a request and waits for its response, failing on an error response.
func (c *dapClient) call(m godap.RequestMessage, command string, timeout time.Duration) godap.Message {
	c.t.Helper()
	seq := c.send(m, command)
	resp := c.wait(command+"'s response", timeout, func(m godap.Message) bool {
		r, ok := m.(godap.ResponseMessage)
		return ok && r.GetResponse().RequestSeq == seq
	})
	if r := resp.(godap.ResponseMessage).GetResponse(); !r.Success {
		c.t.Fatalf("%s failed: %s", command, r.Message)
	}
	return resp
}

// getAsync requests url in the background; the handler may be held at a breakpoint meanwhile.
func getAsync(url string) <-chan string {
	out := make(chan string, 1)
	go func() {
		client := &http.Client{Timeout: 3 * time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Get(url)
		if err != nil {
			out <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			out <- "error: " + err.Error()
			return
		}
		out <- strings.TrimSpace(string(b))
	}()
	return out
}

func debugLine(t *testing.T, src, text string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.TrimSpace(l) == text {
			return i + 1
		}
	}
	t.Fatalf("no line %q in the source", text)
	return 0
}

// debugSession is web-go in a restricted namespace under `up --debug`, with an IDE attached.
type debugSession struct {
	up   *proc
	c    *dapClient
	main string // the local main.go
	src  string // its first content
	url  string // GET / through up's forward

	thread int // the thread of the last stop
}

// startDebugSession deploys web-go (non-root, restricted), runs `up --debug` and attaches a DAP client
// to its debugger as VS Code would: attach, mode remote, no substitutePath (up adds the rules'). extra
// are more flags for up.
func startDebugSession(e *env, extra ...string) *debugSession {
	t := e.t
	t.Helper()
	ns := e.namespace(map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	e.applyExample(ns, "web-go", func(d *appsv1.Deployment) {
		uid, no, yes := int64(1000), false, true
		spec := &d.Spec.Template.Spec
		spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid,
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
		spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: &no,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
		// the kubelet's probe must not be the request that hits the breakpoint in the handler of /
		spec.Containers[0].ReadinessProbe.HTTPGet.Path = "/healthz"
	})
	e.waitAvailable(ns, "web-go", rollout)
	dir := e.copyExamples()
	d := &debugSession{main: filepath.Join(dir, "web-go/src/main.go")}
	appPort, dbgPort := freePort(t), freePort(t)
	d.up = e.upAndConnect(ns, "web-go", dir, 1, append([]string{"--plain", "--debug", "--debug-port", fmt.Sprint(dbgPort),
		"--forward", fmt.Sprintf("%d:8080", appPort)}, extra...)...)
	// the forward must not send the test's request to the pod from before the injection, still ready
	// while the rollout ends it: that one answers without stopping
	e.eventually(rollout, "the pods from before the injection gone", func() error {
		l, err := e.cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=web-go"})
		if err != nil {
			return err
		}
		for _, p := range l.Items {
			if _, ok := p.Annotations[inject.AnnotationInjected]; !ok {
				return fmt.Errorf("pod %s (not injected) is still there", p.Name)
			}
		}
		return nil
	})
	addr := fmt.Sprintf("127.0.0.1:%d", dbgPort)
	d.up.waitOutput("debugger for web-go: attach your IDE to "+addr, 30*time.Second)
	d.url = e.forwardOf(d.up, "web-go", 8080) + "/"
	src, err := os.ReadFile(d.main)
	if err != nil {
		t.Fatal(err)
	}
	d.src = string(src)

	c := dialDAP(t, addr)
	c.call(&godap.InitializeRequest{Arguments: godap.InitializeRequestArguments{AdapterID: "go", PathFormat: "path", LinesStartAt1: true, ColumnsStartAt1: true}}, "initialize", 2*time.Minute)
	c.call(&godap.AttachRequest{Arguments: json.RawMessage(`{"request":"attach","mode":"remote"}`)}, "attach", time.Minute)
	if !slices.Contains(c.seen, "initialized") { // Delve may send it before its attach response
		c.wait("initialized", 30*time.Second, func(m godap.Message) bool { _, ok := m.(*godap.InitializedEvent); return ok })
	}
	d.c = c
	return d
}

// stopsAt requests / in the background, checks the IDE stops at the local main.go's line, and
// continues; it returns the response body's channel.
func (d *debugSession) stopsAt(what string, line int) <-chan string {
	d.c.t.Helper()
	body := getAsync(d.url)
	st := d.c.wait(what, time.Minute, func(m godap.Message) bool { _, ok := m.(*godap.StoppedEvent); return ok }).(*godap.StoppedEvent)
	d.checkStop(what, st, line)
	return body
}

func (d *debugSession) resume() {
	d.c.t.Helper()
	d.c.call(&godap.ContinueRequest{Arguments: godap.ContinueArguments{ThreadId: d.thread}}, "continue", 30*time.Second)
}

const bpText = "fmt.Fprintln(w, message)"

// breakpoint sets the IDE's breakpoint on the handler's line and ends the configuration; it returns
// the line.
func (d *debugSession) breakpoint() int {
	t := d.c.t
	t.Helper()
	line := debugLine(t, d.src, bpText)
	sb := d.c.call(&godap.SetBreakpointsRequest{Arguments: godap.SetBreakpointsArguments{Source: godap.Source{Path: d.main},
		Breakpoints: []godap.SourceBreakpoint{{Line: line}}}}, "setBreakpoints", 30*time.Second).(*godap.SetBreakpointsResponse)
	if b := sb.Body.Breakpoints; len(b) != 1 || !b[0].Verified || b[0].Line != line {
		t.Fatalf("breakpoint at %s:%d: %+v", d.main, line, b)
	}
	d.c.call(&godap.ConfigurationDoneRequest{}, "configurationDone", 30*time.Second)
	return line
}

// movedEdit returns the source with one line added above the breakpoint's and the reply at version v.
func (d *debugSession) movedEdit(v string) string {
	src := strings.Replace(d.src, "\t\t"+bpText, "\t\tw.Header().Set(\"X-Debugged\", \"yes\")\n\t\t"+bpText, 1)
	return strings.Replace(src, "hello from web-go v1", "hello from web-go "+v, 1)
}

// TestDebugAcrossRebuild: an IDE (go-dap as the client) attached to `up --debug` stops at a
// breakpoint in web-go's handler, with the local source path; after an edit that moves the line, the
// app is rebuilt and restarted in the pod, and on the SAME DAP connection the FIRST request the new
// build answers stops at the moved line (the build waits halted until the relay has set the breakpoint); an edit saved while it is stopped waits until the IDE continues. The namespace enforces
// the restricted Pod Security Standard; the app runs as non-root.
func TestDebugAcrossRebuild(t *testing.T) {
	e := newEnv(t)
	d := startDebugSession(e)
	line := d.breakpoint()
	body := d.stopsAt("the stop at the breakpoint", line)
	d.resume()
	if b := <-body; b != "hello from web-go v1" {
		t.Errorf("GET / answered %q after continue", b)
	}

	// the edit moves the breakpoint's line down by one and changes the reply
	v2 := d.movedEdit("v2")
	edit := time.Now()
	e.writeFile(d.main, v2, 0o644)
	d.up.waitOutputCount("edit->running", 1, 3*time.Minute)
	served := time.Since(edit)
	body = d.firstRequestStops(line + 1)
	stopped := time.Since(edit)
	d.holdsEdit(strings.Replace(v2, "hello from web-go v2", "hello from web-go v3", 1))
	if b := <-body; b != "hello from web-go v2" {
		t.Errorf("GET / answered %q after continue in the new build", b)
	}
	t.Logf("edit -> served (up's edit->running line) %s; edit -> stopped at the breakpoint in the new build %s",
		served.Round(time.Millisecond), stopped.Round(time.Millisecond))
	for _, l := range strings.Split(d.up.Output(), "\n") {
		if strings.Contains(l, "edit->running") || strings.Contains(l, "debugger") {
			t.Log(l)
		}
	}
	d.leaves("hello from web-go v3")
}

// firstRequestStops requests / right after the new build started, again while it does not answer
// yet, and checks that the FIRST request it answers stops at the moved breakpoint (line), announced
// to the IDE as moved before: the build waits for the relay to set the IDE's breakpoints before it
// runs. It returns the held request's body.
func (d *debugSession) firstRequestStops(line int) <-chan string {
	t := d.c.t
	t.Helper()
	var moved *godap.BreakpointEvent
	deadline := time.After(2 * time.Minute)
	for {
		body := getAsync(d.url)
	wait:
		for {
			select {
			case b := <-body:
				if strings.HasPrefix(b, "error:") { // the new build does not listen yet
					time.Sleep(100 * time.Millisecond)
					break wait
				}
				t.Fatalf("the first request answered by the new build passed the breakpoint: %q (events: %v)", b, d.c.seen)
			case m, open := <-d.c.msgs:
				if !open {
					t.Fatalf("the debugger closed the IDE's connection (events: %v)", d.c.seen)
				}
				if e, ok := m.(godap.EventMessage); ok {
					d.c.seen = append(d.c.seen, e.GetEvent().Event)
				}
				switch m := m.(type) {
				case *godap.TerminatedEvent:
					t.Fatal("the debugger told the IDE the session terminated")
				case *godap.BreakpointEvent:
					if m.Body.Reason == "changed" {
						moved = m
					}
				case *godap.StoppedEvent:
					if moved == nil || moved.Body.Breakpoint.Line != line || !moved.Body.Breakpoint.Verified {
						t.Errorf("stopped in the new build after the breakpoint event %+v, want one verified at line %d", moved, line)
					}
					d.checkStop("the first request to the new build", m, line)
					return body
				}
			case <-deadline:
				t.Fatalf("no stop in the new build within 2m (events: %v)", d.c.seen)
			}
		}
	}
}

// checkStop checks that a stop is at the local main.go's line and keeps its thread for resume.
func (d *debugSession) checkStop(what string, st *godap.StoppedEvent, line int) {
	d.c.t.Helper()
	tr := d.c.call(&godap.StackTraceRequest{Arguments: godap.StackTraceArguments{ThreadId: st.Body.ThreadId, Levels: 1}}, "stackTrace", 30*time.Second).(*godap.StackTraceResponse)
	if len(tr.Body.StackFrames) == 0 || tr.Body.StackFrames[0].Source == nil {
		d.c.t.Fatalf("%s: no frame with a source: %+v", what, tr.Body)
	}
	if f := tr.Body.StackFrames[0]; f.Source.Path != d.main || f.Line != line {
		d.c.t.Errorf("%s: stopped at %s:%d, want %s:%d (the local path)", what, f.Source.Path, f.Line, d.main, line)
	}
	d.thread = st.Body.ThreadId
}

// holdsEdit saves src while the program is stopped: up holds it until the IDE continues, then applies
// it and the session moves to that build.
func (d *debugSession) holdsEdit(src string) {
	t := d.c.t
	t.Helper()
	d.up.e.writeFile(d.main, src, 0o644)
	d.up.waitOutput("web-go: an edit waits: the program is stopped in the debugger", 30*time.Second)
	time.Sleep(3 * time.Second)
	if n := strings.Count(d.up.Output(), "edit->running"); n != 1 {
		t.Errorf("%d updates applied while the program was stopped, want the first one only", n)
	}
	d.resume()
	d.up.waitOutputCount("edit->running", 2, 3*time.Minute)
	d.c.wait("the session on the third build", 2*time.Minute, func(m godap.Message) bool {
		o, ok := m.(*godap.OutputEvent)
		return ok && strings.Contains(o.Body.Output, "attached to the new build")
	})
}

// leaves disconnects the IDE; the app runs on under Delve without stopping at the breakpoint. The
// build the relay has just let run may not listen yet: a refused connection is asked again.
func (d *debugSession) leaves(want string) {
	t := d.c.t
	t.Helper()
	d.c.call(&godap.DisconnectRequest{}, "disconnect", 30*time.Second)
	deadline := time.After(30 * time.Second)
	for {
		select {
		case b := <-getAsync(d.url):
			if strings.HasPrefix(b, "error:") {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			if b != want {
				t.Errorf("GET / answered %q after the IDE disconnected, want %q", b, want)
			}
			return
		case <-deadline:
			t.Error("GET / hangs or fails after the IDE disconnected: the program stayed stopped")
			return
		}
	}
}

// TestDebugApplyWhileStopped: with --debug-apply-while-stopped an edit saved while the program is
// stopped at a breakpoint is applied at once; the IDE hears that the stopped program went on
// (`continued`) and stops in the new build on the same connection.
func TestDebugApplyWhileStopped(t *testing.T) {
	e := newEnv(t)
	d := startDebugSession(e, "--debug-apply-while-stopped")
	line := d.breakpoint()
	held := d.stopsAt("the stop at the breakpoint", line)
	e.writeFile(d.main, d.movedEdit("v2"), 0o644)
	d.c.wait("continued", 2*time.Minute, func(m godap.Message) bool { _, ok := m.(*godap.ContinuedEvent); return ok })
	if b := <-held; !strings.HasPrefix(b, "error:") {
		t.Errorf("the request held at the breakpoint got %q, want its connection cut with the old process", b)
	}
	body := d.firstRequestStops(line + 1)
	d.resume()
	if b := <-body; b != "hello from web-go v2" {
		t.Errorf("GET / answered %q in the new build", b)
	}
	if strings.Contains(d.up.Output(), "an edit waits") {
		t.Error("up held the edit despite --debug-apply-while-stopped")
	}
}
