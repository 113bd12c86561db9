package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/dap"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
)

// debugOptions are up's debugger flags (docs/debug.md).
type debugOptions struct {
	Debug bool // --debug: every target runs under Delve, with the rules' debug key or its defaults
	Port  int  // --debug-port: the first local port of the relays (one per debugged Deployment)
	// ApplyWhileStopped is --debug-apply-while-stopped: an edit saved while the IDE has the program
	// stopped is applied at once (the session moves to the new build) instead of waiting for continue.
	ApplyWhileStopped bool
}

func (d *debugOptions) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&d.Debug, "debug", false, "run the apps under Delve and serve a debug adapter (DAP, \"request\": \"attach\", \"mode\": \"remote\") on a local port that stays attached across rebuilds (docs/debug.md); the rules' debug key does the same for one Deployment")
	fs.BoolVar(&d.ApplyWhileStopped, "debug-apply-while-stopped", false, "apply an edit saved while the program is stopped in the debugger at once, instead of when the IDE continues it")
	fs.IntVar(&d.Port, "debug-port", rules.DefaultDebugPort, "local port of the debug adapter (the next free one above when taken, one per debugged Deployment; 0: any free port)")
}

// validate checks the flags.
func (d *debugOptions) validate() error {
	if d.Port < 0 || d.Port > 65535 {
		return fmt.Errorf("--debug-port %d: want 1-65535 (the local port the IDE attaches to), or 0 for any free one", d.Port)
	}
	return nil
}

// debugged returns the rules' debug settings of a target under the flags: nil when it is not debugged.
func (d *debugOptions) debugged(r *rules.Rules) *rules.Debug {
	switch {
	case r != nil && r.Debug != nil:
		return r.Debug
	case d.Debug:
		return rules.DefaultDebug()
	}
	return nil
}

// startDebug serves a debug relay for every debugged target until the returned stop is called: a
// local listener (said in a line) whose IDE sessions reach the Delve in one of the target's pods and
// stay open across the rebuilds and restarts of the app.
// A target whose relay cannot listen is said in a warning; the others and the dev loop go on. hold is
// the dev loop's devloop.Config.Hold: an edit waits while the IDE has that target's program stopped.
func (o *UpOptions) startDebug(ctx context.Context, cluster *kube.SharingClient, targets []devloop.Target, view upView) (stop func(), hold func(context.Context, string) error) {
	relays := map[string]*dap.Relay{}
	var ups []*podDelve
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	dialer := cluster.PodDialer()
	next := o.debug.Port
	for _, t := range targets {
		dbg := o.debug.debugged(t.Rules)
		if dbg == nil {
			continue
		}
		host := forwardDefaultHost(o.forwards.Address)
		ln, port, err := listenFrom(host, next)
		if err != nil {
			view.Warn(fmt.Sprintf("%v; %s runs without a debugger", err, t.Name))
			continue
		}
		if next != 0 {
			next = port + 1
		}
		pods := newRunningPods()
		pods.gone = dialer.Forget // a replaced pod's port-forward connection is closed
		up := &podDelve{client: o.client, dialer: dialer, pods: pods, target: t,
			req: protocol.DebugRequest{Port: dbg.Port, GCFlags: dbg.GCFlags, Steps: buildSteps(t.Rules)}}
		relay := dap.NewRelay(dap.Config{Paths: o.debugPaths(t.Rules)}, up, view)
		relays[t.Name] = relay
		ups = append(ups, up)
		wg.Add(3)
		go func() {
			defer wg.Done()
			up.prime(ctx, view)
		}()
		go func() {
			defer wg.Done()
			if err := cluster.SubscribePods(ctx, t.Selector, pods.set, func(err error) { view.Warn(fmt.Sprintf("debugger: following pods of %s: %v", t.Name, err)) }); err != nil {
				view.Warn(fmt.Sprintf("debugger: %v", err))
			}
		}()
		go func() {
			defer wg.Done()
			if err := relay.Serve(ctx, ln); err != nil {
				view.Warn(fmt.Sprintf("debugger for %s stopped: %v", t.Name, err))
			}
		}()
		view.Info(fmt.Sprintf("debugger for %s: attach your IDE to %s (DAP, \"request\": \"attach\", \"mode\": \"remote\"; docs/debug.md); "+
			"it stays attached across rebuilds; %s", t.Name, ln.Addr(), o.debug.editsWhileStopped()))
		if note := debugFirstOnly(t.Name, t.Rules); note != "" { // the list form: issue 15 (run -c, forwards, logs cover every container)
			view.Info(note)
		}
	}
	stop = func() { cancel(); wg.Wait(); detachAll(ups); dialer.Close() }
	if o.debug.ApplyWhileStopped {
		return stop, nil
	}
	return stop, func(ctx context.Context, dep string) error { return holdWhileStopped(ctx, relays[dep], dep, view) }
}

// detachAll tells the pods whose relay had an IDE attached that none is any more, so their next
// builds start running (`up` is ending; the sessions' own word may not have gone out in time).
func detachAll(ups []*podDelve) {
	for _, up := range ups {
		if !up.attached.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = up.Attached(ctx, false) // best effort: the pod also lets a halted build run after protocol.DebugHaltTimeout
		cancel()
	}
}

// editsWhileStopped says what becomes of an edit saved while the program is stopped.
func (d *debugOptions) editsWhileStopped() string {
	if d.ApplyWhileStopped {
		return "an edit saved while the program is stopped is applied at once, the session moving to the new build"
	}
	return "an edit saved while the program is stopped waits until the IDE continues it (--debug-apply-while-stopped applies it at once)"
}

// holdWhileStopped waits, before an update of dep, while the IDE has its program stopped: the edit
// would pull the process away under the developer's eyes.
func holdWhileStopped(ctx context.Context, relay *dap.Relay, dep string, view upView) error {
	if relay == nil || !relay.Stopped() {
		return nil
	}
	view.Info(fmt.Sprintf("%s: an edit waits: the program is stopped in the debugger; it is applied when the IDE continues (--debug-apply-while-stopped applies it at once)", dep))
	return relay.WaitRunning(ctx)
}

// buildSteps are every run step of the rules, which the pod runs once with Delve's flags before it
// first starts the app under Delve.
func buildSteps(r *rules.Rules) []protocol.Step {
	var out []protocol.Step
	for _, st := range r.Run {
		out = append(out, protocol.Step{Argv: st.Argv, Display: st.Cmd, TimeoutMs: st.Timeout.Milliseconds()})
	}
	return out
}

// debugPaths maps each sync rule of the first listed container (the one Delve runs) from its local
// directory to its in-pod path, for Delve's substitutePath: another container's entry for the same
// in-pod path must not shadow it.
func (o *UpOptions) debugPaths(r *rules.Rules) []dap.Mapping {
	var maps []dap.Mapping
	for _, s := range r.Sync {
		if s.App != 0 {
			continue
		}
		maps = append(maps, dap.Mapping{Local: filepath.Join(o.absDir, filepath.FromSlash(s.From)), Pod: s.To})
	}
	return maps
}

// listenFrom listens on host at port, or the next free port above it (up to 100 tries); port 0 is any
// free port.
func listenFrom(host string, port int) (net.Listener, int, error) {
	if port == 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, 0, fmt.Errorf("debugger: listening on %s: %w", host, err)
		}
		return ln, ln.Addr().(*net.TCPAddr).Port, nil
	}
	for p := port; p < port+100 && p <= 65535; p++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return ln, p, nil
		}
	}
	return nil, 0, fmt.Errorf("debugger: no free local port from %d to %d on %s: pick another with --debug-port", port, port+99, host)
}

// podDelve is the relay's upstream: the Delve of one running injected pod of the target, reached
// through a port-forward after the pod's synclet is asked to run the app under Delve.
type podDelve struct {
	client *kube.Client
	dialer *kube.PodDialer
	pods   *runningPods
	target devloop.Target
	req    protocol.DebugRequest
	// attached is what the relay last said (Attached): every debug request carries it, so the pod
	// starts new builds halted while an IDE's session is configured
	attached atomic.Bool
}

var _ dap.Upstream = (*podDelve)(nil)

// Attached implements dap.Upstream: the pod's synclet hears at once whether an IDE is attached, so
// the next build starts halted (or running).
func (p *podDelve) Attached(ctx context.Context, attached bool) error {
	p.attached.Store(attached)
	_, err := p.start(ctx)
	return err
}

// Connect implements dap.Upstream.
func (p *podDelve) Connect(ctx context.Context) (io.ReadWriteCloser, error) {
	pod, err := p.start(ctx)
	if err != nil {
		return nil, err
	}
	c, err := p.dialer.DialPod(ctx, pod, p.req.Port)
	if err != nil {
		return nil, fmt.Errorf("reaching Delve in pod %s: %w", pod, err)
	}
	return c, nil
}

// start picks a running pod and has its synclet run the app under Delve (a no-op when it already
// does); it returns once Delve listens there.
func (p *podDelve) start(ctx context.Context) (string, error) {
	pod, err := p.pods.pick(ctx)
	if err != nil {
		return "", err
	}
	fwd, err := p.client.PortForward(ctx, pod, p.target.Port)
	if err != nil {
		return "", fmt.Errorf("reaching the synclet of pod %s: %w", pod, err)
	}
	defer fwd.Close()
	cl := syncletclient.New(fwd.Addr, p.target.Key)
	defer cl.Close()
	req := p.req
	req.Attached = p.attached.Load()
	if _, err := cl.Debug(ctx, req); err != nil {
		return "", fmt.Errorf("starting Delve in pod %s: %w", pod, err)
	}
	return pod, nil
}

// prime starts Delve in a pod as soon as `up` runs, so the IDE's first attach does not wait for the
// build with Delve's flags; it tries until it succeeds or ctx ends, warning once when a pod's synclet
// has not answered for a while (a pod that is starting does not answer at once).
func (p *podDelve) prime(ctx context.Context, view upView) {
	warned, since := false, time.Now()
	for {
		pod, err := p.start(ctx)
		if err == nil {
			view.Info(fmt.Sprintf("debugger for %s: Delve runs the app in pod %s", p.target.Name, pod))
			return
		}
		if ctx.Err() != nil {
			return
		}
		if !warned && time.Since(since) > 30*time.Second {
			view.Warn(fmt.Sprintf("debugger for %s: %v; trying again", p.target.Name, err))
			warned = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

// runningPods are the target's injected pods that run and are not being deleted. Readiness does not
// count: a program stopped at a breakpoint fails its readiness probe, and must stay debuggable.
type runningPods struct {
	gone    func(pod string) // called once a pod no longer runs; may be nil
	mu      sync.Mutex
	running map[string]bool
	changed chan struct{} // closed at the next change
}

func newRunningPods() *runningPods {
	return &runningPods{running: map[string]bool{}, changed: make(chan struct{})}
}

// set is the pod informer's callback.
func (r *runningPods) set(pod *corev1.Pod, gone bool) {
	_, injected := pod.Annotations[inject.AnnotationInjected]
	ok := !gone && injected && pod.DeletionTimestamp == nil && pod.Status.Phase == corev1.PodRunning
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[pod.Name] == ok {
		return
	}
	if ok {
		r.running[pod.Name] = true
	} else {
		delete(r.running, pod.Name)
		if r.gone != nil {
			r.gone(pod.Name)
		}
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

// pick returns the first running pod by name, waiting for one.
func (r *runningPods) pick(ctx context.Context) (string, error) {
	for {
		r.mu.Lock()
		names := make([]string, 0, len(r.running))
		for n := range r.running {
			names = append(names, n)
		}
		changed := r.changed
		r.mu.Unlock()
		if len(names) > 0 {
			sort.Strings(names)
			return names[0], nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return "", errors.New("no running pod to debug")
		}
	}
}

// forwardDefaultHost is where the relays listen: the first of up's --address values, as the forwards.
func forwardDefaultHost(addrs []string) string {
	if len(addrs) == 0 || addrs[0] == "" {
		return "127.0.0.1"
	}
	return addrs[0]
}
