package cmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"k8s.io/kubectl/pkg/util/templates"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/state"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tui"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/watch"
)

// UpOptions are the settings of `kubectl fastdev up`.
type UpOptions struct {
	genericiooptions.IOStreams
	flags *genericclioptions.ConfigFlags

	Names        []string
	Selector     string
	Dir          string
	SyncletImage string
	SyncletPort  int
	Quiet        time.Duration
	Poll         bool
	PollInterval time.Duration
	PollFixed    bool // --poll-interval was given: poll at exactly that period
	Plain        bool
	TakeOver     bool

	client  *kube.Client
	targets []*appsv1.Deployment
	rules   map[string]*rules.Rules
	warnMu  sync.Mutex
	warnTo  func(string)
}

// NewUpOptions returns the defaults.
func NewUpOptions(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *UpOptions {
	return &UpOptions{IOStreams: streams, flags: flags, Dir: ".", SyncletImage: DefaultSyncletImage(),
		SyncletPort: protocol.DefaultPort, Quiet: watch.DefaultQuiet, PollInterval: watch.DefaultPollInterval}
}

// NewCmdUp returns the up command.
func NewCmdUp(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewUpOptions(flags, streams)
	cmd := &cobra.Command{
		Use:   "up [DEPLOYMENT...]",
		Short: "Inject the synclet, sync the local tree and push every edit until Ctrl-C",
		Long: templates.LongDesc(`
Injects the synclet into the named Deployments (default: every Deployment in the namespace with a
fastdev.dev/rules annotation), syncs each rule's local directory into every pod, then watches the
tree and pushes each edit: files land, triggered steps run in the pod, the process restarts.
Ctrl-C stops watching and leaves the injection in place; 'kubectl fastdev down' restores the Deployments.`),
		Example: templates.Examples(`  kubectl fastdev up
  kubectl fastdev up web --dir ./services/web
  kubectl fastdev up -l team=payments -n dev`),
		ValidArgsFunction: completeDeployments(flags),
		RunE: func(cmd *cobra.Command, args []string) error {
			// arguments are free-form names: from here on an error is about the cluster or the rules,
			// and the usage text would only bury it
			cmd.SilenceUsage = true
			o.PollFixed = cmd.Flags().Changed("poll-interval")
			if err := o.Complete(cmd.Context(), args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return o.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Selector, "selector", "l", "", "label selector of the Deployments to develop")
	f.StringVar(&o.Dir, "dir", o.Dir, "local directory the rules' sync.from paths are relative to")
	f.StringVar(&o.SyncletImage, "synclet-image", o.SyncletImage, "synclet image to inject")
	f.IntVar(&o.SyncletPort, "synclet-port", o.SyncletPort, "loopback port of the synclet inside the pod (change it if the app uses it)")
	f.DurationVar(&o.Quiet, "quiet", o.Quiet, "quiet window: edits closer together than this are sent as one update")
	f.BoolVar(&o.Poll, "poll", false, "poll the file system instead of using file events (for mounts without inotify)")
	f.DurationVar(&o.PollInterval, "poll-interval", o.PollInterval, "how often --poll rescans the tree (default: 100ms, longer on a tree so large that rescanning it would keep a core busy)")
	f.BoolVar(&o.TakeOver, "take-over", false, "serve Deployments another running `up` serves (that one stops syncing them)")
	f.BoolVar(&o.Plain, "plain", false, "print plain lines instead of the live view, even on a terminal")
	return cmd
}

// Complete resolves the cluster, the Deployments and their rules.
func (o *UpOptions) Complete(ctx context.Context, args []string) error {
	o.Names = args
	var err error
	if o.client, err = client(o.flags); err != nil {
		return err
	}
	o.targets, err = findDeployments(ctx, o.client, o.Names, o.Selector, func(d *appsv1.Deployment) bool {
		_, ok := d.Annotations[rules.AnnotationKey]
		return ok
	}, "annotated ("+rules.AnnotationKey+")")
	if err != nil {
		return err
	}
	o.rules = map[string]*rules.Rules{}
	var problems []string
	for _, d := range o.targets {
		text, ok := d.Annotations[rules.AnnotationKey]
		if !ok {
			problems = append(problems, fmt.Sprintf("deployment %q has no %s annotation: add the rules (see `kubectl fastdev up --help`)", d.Name, rules.AnnotationKey))
			continue
		}
		r, err := rules.Parse(text)
		if err != nil {
			problems = append(problems, fmt.Sprintf("deployment %q: %v", d.Name, err))
			continue
		}
		if err := r.CheckLocal(o.Dir); err != nil {
			problems = append(problems, fmt.Sprintf("deployment %q: %v (sync.from is relative to --dir %s)", d.Name, err, o.Dir))
			continue
		}
		o.rules[d.Name] = r
	}
	if len(problems) > 0 {
		// all or nothing: one bad Deployment patches none
		return fmt.Errorf("nothing was changed:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// Validate checks the flags.
func (o *UpOptions) Validate() error {
	if o.SyncletPort <= 0 || o.SyncletPort > 65535 {
		return fmt.Errorf("--synclet-port %d: want 1-65535", o.SyncletPort)
	}
	if o.Quiet < 0 || o.PollInterval <= 0 {
		return errors.New("--quiet must be >= 0 and --poll-interval > 0")
	}
	if o.SyncletImage == "" {
		return errors.New("--synclet-image is empty")
	}
	return nil
}

// Run injects every target, then runs the dev loop until ctx ends.
func (o *UpOptions) Run(ctx context.Context) error {
	minor, err := o.client.ServerMinor()
	if err != nil {
		return err
	}
	opts := inject.Options{SyncletImage: o.SyncletImage, Port: o.SyncletPort, NativeSidecar: minor >= 29}
	// plan every Deployment before patching any: a mistake in one leaves all of them untouched
	var problems []string
	for _, d := range o.targets {
		if _, err := inject.InjectPatch(d, o.rules[d.Name], withToken(opts)); err != nil {
			problems = append(problems, fmt.Sprintf("deployment %q: %v", d.Name, err))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("nothing was changed:\n  %s", strings.Join(problems, "\n  "))
	}
	ctx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	release, err := o.claim(ctx, stopAll)
	if err != nil {
		return err
	}
	defer release()
	var targets []devloop.Target
	for _, d := range o.targets {
		t, err := o.inject(ctx, d, opts)
		if err != nil {
			return err
		}
		targets = append(targets, *t)
	}
	rec := newRecorder(o.flags, o.client.Namespace, targets)
	var view devloop.Reporter = &devloop.LineReporter{Out: o.Out, ErrOut: o.ErrOut}
	stopView := func() error { return nil }
	if !o.Plain && tui.IsTerminal(o.Out) {
		var quit context.CancelFunc
		ctx, quit = context.WithCancel(ctx)
		defer quit()
		live := tui.Start(ctx, tui.Config{In: o.In, Out: o.Out, Title: "kubectl fastdev up · namespace " + o.client.Namespace,
			API: o.client, Targets: targets, Dir: o.Dir, OnQuit: quit})
		view, stopView = live, live.Stop
	}
	o.setWarn(view.Warn)
	defer o.setWarn(nil)
	report := recordingReporter{Reporter: view, rec: rec}
	abs, _ := filepath.Abs(o.Dir)
	err = devloop.Run(ctx, o.client, devloop.Config{Dir: abs, Targets: targets,
		Watch: watch.Options{Quiet: o.Quiet, Poll: o.Poll, PollInterval: o.PollInterval, PollFixed: o.PollFixed}}, report)
	if verr := stopView(); verr != nil && err == nil {
		err = fmt.Errorf("live view: %w (--plain prints plain lines instead)", verr)
	}
	rec.stop()
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "stopped watching; %s stay injected: `kubectl fastdev down %s` restores them\n", names(o.targets), names(o.targets))
	return nil
}

// inject patches one Deployment (or finds it already injected) and returns its dev loop target.
func (o *UpOptions) inject(ctx context.Context, d *appsv1.Deployment, opts inject.Options) (*devloop.Target, error) {
	r := o.rules[d.Name]
	for attempt := 0; ; attempt++ {
		plan, err := inject.InjectPatch(d, r, withToken(opts))
		if err != nil {
			return nil, fmt.Errorf("deployment %q: %w", d.Name, err)
		}
		switch {
		case plan.Patch == nil:
			fmt.Fprintf(o.ErrOut, "%s: already injected, unchanged\n", d.Name)
		default:
			if _, err := o.client.PatchDeployment(ctx, d.Name, plan.Patch); err != nil {
				if attempt < 3 && isStale(err) { // changed between our read and our patch: read again, plan again
					if d, err = o.client.GetDeployment(ctx, d.Name); err == nil {
						continue
					}
				}
				return nil, fmt.Errorf("patching deployment %q: %w", d.Name, err)
			}
			verb := "injected"
			if plan.Already {
				verb = "re-injected (rules or synclet changed)"
			}
			fmt.Fprintf(o.ErrOut, "%s: %s, rolling out\n", d.Name, verb)
		}
		sel, err := selectorOf(d)
		if err != nil {
			return nil, err
		}
		return &devloop.Target{Name: d.Name, Selector: sel, Rules: r, Token: plan.Token, Port: plan.Port}, nil
	}
}

// warn shows a diagnostic through the current view (plain lines or the live view, which plain writes
// to ErrOut would draw over).
func (o *UpOptions) warn(msg string) {
	o.warnMu.Lock()
	f := o.warnTo
	o.warnMu.Unlock()
	if f == nil {
		fmt.Fprintln(o.ErrOut, msg)
		return
	}
	f(msg)
}

func (o *UpOptions) setWarn(f func(string)) {
	o.warnMu.Lock()
	o.warnTo = f
	o.warnMu.Unlock()
}

// leaseDuration is how long a dev lease outlives its last renewal: a killed `up` blocks a new one on
// another machine for at most this long (on the same machine a dead holder is detected at once).
const leaseDuration = 30 * time.Second

// claim takes each Deployment's dev lease, refusing (without --take-over) one that another live `up`
// holds, and keeps renewing them; the returned func releases them.
func (o *UpOptions) claim(ctx context.Context, takenOver func()) (func(), error) {
	host, _ := os.Hostname()
	me := fmt.Sprintf("%s/%d", host, os.Getpid())
	for _, d := range o.targets {
		h, err := o.client.GetLease(ctx, d.Name)
		if err != nil {
			return nil, err
		}
		if h != nil && h.Identity != me && !h.Expired(time.Now()) && !o.TakeOver && !deadLocalHolder(h.Identity, host) {
			return nil, fmt.Errorf("deployment %q is served by another `kubectl fastdev up` (%s, renewed %s ago): stop that one, or run with --take-over",
				d.Name, h.Identity, time.Since(h.Renewed).Round(time.Second))
		}
	}
	first := true
	renew := func() error {
		for _, d := range o.targets {
			if !first {
				if h, err := o.client.GetLease(ctx, d.Name); err == nil && h != nil && h.Identity != me {
					o.warn(fmt.Sprintf("%s: taken over by another `kubectl fastdev up` (%s); stopping", d.Name, h.Identity))
					takenOver()
					return nil
				}
			}
			if err := o.client.AcquireLease(ctx, d.Name, me, leaseDuration); err != nil {
				return err
			}
		}
		return nil
	}
	if err := renew(); err != nil {
		return nil, err
	}
	first = false
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(leaseDuration / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := renew(); err != nil && ctx.Err() == nil {
					o.warn(fmt.Sprintf("renewing the dev lease: %v", err))
				}
			}
		}
	}()
	return func() {
		close(done)
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, d := range o.targets {
			_ = o.client.ReleaseLease(rctx, d.Name, me)
		}
	}, nil
}

// deadLocalHolder reports a holder on this host whose process is gone (an `up` killed with SIGKILL).
func deadLocalHolder(identity, host string) bool {
	h, pid, ok := strings.Cut(identity, "/")
	if !ok || h != host {
		return false
	}
	var n int
	if _, err := fmt.Sscanf(pid, "%d", &n); err != nil || n <= 0 {
		return false
	}
	return !state.ProcessAlive(n)
}

// withToken gives a new injection its own random token (an existing injection keeps its own).
func withToken(o inject.Options) inject.Options {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	o.Token = hex.EncodeToString(b)
	return o
}

// recordingReporter records pod states and updates for `status` before passing them on.
type recordingReporter struct {
	devloop.Reporter
	rec *recorder
}

func (r recordingReporter) PodState(dep, pod string, ok bool, err error) {
	r.rec.connected(dep, pod, ok, err)
	r.Reporter.PodState(dep, pod, ok, err)
}

func (r recordingReporter) PodGone(dep, pod string) {
	r.rec.gone(dep, pod)
	r.Reporter.PodGone(dep, pod)
}

func (r recordingReporter) Updated(u devloop.Update) {
	r.rec.updated(u)
	r.Reporter.Updated(u)
}

// recorder keeps the state file `status` reads up to date. Changes are written at most every
// recordEvery, off the pod workers' path: a write per update and pod (a temporary file and a rename)
// was a quarter of `up`'s CPU time when one edit went to ten replicas.
type recorder struct {
	mu      sync.Mutex
	store   state.Store
	deps    map[string]*state.Deployment
	dirty   map[string]bool
	pending *time.Timer
}

const recordEvery = 250 * time.Millisecond

// changed marks a Deployment's record for the next write; r.mu is held.
func (r *recorder) changed(dep string) {
	r.dirty[dep] = true
	if r.pending == nil {
		r.pending = time.AfterFunc(recordEvery, r.flush)
	}
}

func (r *recorder) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = nil
	for dep := range r.dirty {
		if d := r.deps[dep]; d != nil {
			_ = r.store.Write(d)
		}
	}
	clear(r.dirty)
}

func newRecorder(flags *genericclioptions.ConfigFlags, ns string, targets []devloop.Target) *recorder {
	r := &recorder{store: state.DefaultStore(), deps: map[string]*state.Deployment{}, dirty: map[string]bool{}}
	server := serverOf(flags)
	for _, t := range targets {
		d := &state.Deployment{Server: server, Namespace: ns, Name: t.Name, PID: os.Getpid(), Started: time.Now(), Pods: map[string]*state.Pod{}}
		r.deps[t.Name] = d
		_ = r.store.Write(d)
	}
	return r
}

func serverOf(flags *genericclioptions.ConfigFlags) string {
	if c, err := flags.ToRESTConfig(); err == nil {
		return c.Host
	}
	return ""
}

func (r *recorder) pod(dep, pod string) *state.Pod {
	d := r.deps[dep]
	if d == nil {
		return nil
	}
	if d.Pods[pod] == nil {
		d.Pods[pod] = &state.Pod{}
	}
	return d.Pods[pod]
}

func (r *recorder) updated(u devloop.Update) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pod(u.Deployment, u.Pod)
	if p == nil {
		return
	}
	p.Connected, p.LastSync, p.LastFiles, p.LastError = true, time.Now(), u.Files+u.Deletes, u.Err
	if u.Latency > 0 {
		p.LastLatency = float64(u.Latency.Microseconds()) / 1000
	}
	r.changed(u.Deployment)
}

func (r *recorder) connected(dep, pod string, ok bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pod(dep, pod)
	if p == nil {
		return
	}
	p.Connected = ok
	if err != nil {
		p.LastError = err.Error()
	}
	r.changed(dep)
}

func (r *recorder) gone(dep, pod string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d := r.deps[dep]; d != nil {
		delete(d.Pods, pod)
		r.changed(dep)
	}
}

// stop marks the records as no longer served.
func (r *recorder) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending != nil {
		r.pending.Stop()
		r.pending = nil
	}
	clear(r.dirty)
	for _, d := range r.deps {
		d.PID = 0
		for _, p := range d.Pods {
			p.Connected = false
		}
		_ = r.store.Write(d)
	}
}
