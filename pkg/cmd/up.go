package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/forward"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/lease"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/state"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tui"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/watch"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
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
	// PollInterval is --poll-interval: zero rescans every watch.DefaultPollInterval, slower on a huge
	// tree; a value given rescans at exactly that period.
	PollInterval time.Duration
	Plain        bool
	TakeOver     bool
	forwards     forwardOptions
	debug        debugOptions // --debug (debug.go)
	settle       settleFlag   // --settle (settle.go)
	file         fileOptions  // -f, --dry-run: rules from a file (upfile.go)
	compress     compressFlag // --compress (compress.go)
	web          webFlag      // --web: the web view's address (pkg/cmd/web.go)

	client  *kube.Client
	absDir  string
	targets []workload.Workload
	rules   map[string]*rules.Rules
	warnMu  sync.Mutex
	warnTo  func(string)
}

// NewUpOptions returns the defaults.
func NewUpOptions(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *UpOptions {
	return &UpOptions{IOStreams: streams, flags: flags, Dir: ".", SyncletImage: DefaultSyncletImage(),
		SyncletPort: protocol.DefaultPort, Quiet: watch.DefaultQuiet, forwards: forwardOptions{Address: []string{forward.DefaultAddress}}}
}

// NewCmdUp returns the up command.
func NewCmdUp(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewUpOptions(flags, streams)
	cmd := &cobra.Command{
		Use:   "up [TYPE/]NAME...",
		Short: "Inject the synclet, sync the local tree and push every edit until Ctrl-C",
		Long: templates.LongDesc(`
Injects the synclet into the named workloads (default: every Deployment, StatefulSet and DaemonSet
in the namespace with a fastdev.dev/rules annotation), syncs each rule's local directory into every pod, then watches the
tree and pushes each edit: files land, triggered steps run in the pod, the process restarts.

While it runs, up forwards local ports to the Deployments' ready pods: the rules' forward list,
else the app container's declared containerPorts (each on the same local port when free, else
the next free one). Each connection goes to a ready pod at the moment it arrives, so a forward
outlives process restarts and replaced pods. --forward replaces a Deployment's list, --no-forward
opens none.

It also serves a web view on loopback (a free port; the URL, with its token, is printed once): pods,
each edit's edit->running time by stage, the error console with links to the lines, step output and
recent events, live. --web 127.0.0.1:PORT picks the address, --web=false turns it off.

Ctrl-C stops watching and leaves the injection in place; 'kubectl fastdev down' restores the Deployments.`),
		Example: templates.Examples(`  kubectl fastdev up
  kubectl fastdev up web --dir ./services/web
  kubectl fastdev up sts/db deploy/web ds/agent
  kubectl fastdev up -l team=payments -n dev
  kubectl fastdev up web --forward 18080:8080
  kubectl fastdev up web api --forward web=18080:8080 --forward api=3000 --address 0.0.0.0`),
		ValidArgsFunction: completeTargets(flags),
		RunE:              runE(o, untilSignal),
	}
	f := cmd.Flags()
	f.StringVarP(&o.Selector, "selector", "l", "", "label selector of the workloads to develop (Deployments, StatefulSets, DaemonSets)")
	f.StringVar(&o.Dir, "dir", o.Dir, "local directory the rules' sync.from paths are relative to")
	f.StringVar(&o.SyncletImage, "synclet-image", o.SyncletImage, "synclet image to inject")
	f.IntVar(&o.SyncletPort, "synclet-port", o.SyncletPort, "loopback port of the synclet inside the pod (change it if the app uses it)")
	f.DurationVar(&o.Quiet, "quiet", o.Quiet, "quiet window: edits closer together than this are sent as one update")
	o.settle.addFlags(f)
	f.BoolVar(&o.Poll, "poll", false, "poll the file system instead of using file events (for mounts without inotify)")
	f.DurationVar(&o.PollInterval, "poll-interval", o.PollInterval, "how often --poll rescans the tree (default: 100ms, longer on a tree so large that rescanning it would keep a core busy)")
	f.BoolVar(&o.TakeOver, "take-over", false, "serve Deployments another running `up` serves (that one stops syncing them)")
	f.BoolVar(&o.Plain, "plain", false, "print plain lines instead of the live view, even on a terminal")
	o.forwards.addFlags(f)
	o.debug.addFlags(f)
	o.file.addFlags(f)
	o.compress.addFlags(f)
	f.Var(&o.web, "web", "serve the web view on this loopback address (a free port by default; the URL is printed once), or --web=false")
	return cmd
}

// Complete resolves the cluster, the local directory, the Deployments and their rules.
func (o *UpOptions) Complete(ctx context.Context, args []string) error {
	o.Names = args
	var err error
	if o.absDir, err = filepath.Abs(o.Dir); err != nil {
		return fmt.Errorf("--dir %s: %w", o.Dir, err)
	}
	if o.client, err = client(o.flags); err != nil {
		return err
	}
	if o.targets, err = o.findTargets(ctx); err != nil {
		return err
	}
	o.rules = map[string]*rules.Rules{}
	var problems []string
	for _, w := range o.targets {
		name := w.Ref().String()
		text, ok := w.Meta().Annotations[rules.AnnotationKey]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s has no %s annotation: add the rules (see `kubectl fastdev up --help`)", describe(w.Ref()), rules.AnnotationKey))
			continue
		}
		r, err := rules.Parse(text)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", describe(w.Ref()), err))
			continue
		}
		if err := r.CheckLocal(o.Dir); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v (sync.from is relative to --dir %s)", describe(w.Ref()), err, o.Dir))
			continue
		}
		o.rules[name] = r
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
	if o.Quiet <= 0 {
		return fmt.Errorf("--quiet %s: want a positive window such as %s (edits closer together than this are sent as one update)", o.Quiet, watch.DefaultQuiet)
	}
	if err := o.settle.validate(o.Quiet); err != nil {
		return err
	}
	if o.PollInterval < 0 {
		return fmt.Errorf("--poll-interval %s: want a positive period such as 1s, or leave it out for the adaptive default", o.PollInterval)
	}
	if o.SyncletImage == "" {
		return errors.New("--synclet-image is empty")
	}
	if err := o.debug.validate(); err != nil {
		return err
	}
	return o.validateForwards()
}

// Run injects every target, then runs the dev loop until ctx ends.
func (o *UpOptions) Run(ctx context.Context) error {
	opts, err := o.plan(ctx)
	if err != nil {
		return err
	}
	if o.file.DryRun {
		return o.showFileRules()
	}
	ctx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	claim, err := lease.Acquire(ctx, o.client, o.leaseKeys(), lease.Options{TakeOver: o.TakeOver, Warn: o.warn, TakenOver: stopAll, Names: o.leaseNames()})
	if err != nil {
		return err
	}
	defer func() {
		if err := claim.Release(); err != nil {
			o.warn(err.Error())
		}
	}()
	forwards, err := o.openForwards()
	if err != nil {
		return err
	}
	defer forwards.Close()
	if err := o.writeFileRules(ctx); err != nil {
		return err
	}
	var targets []devloop.Target
	for _, d := range o.targets {
		t, err := o.inject(ctx, d, opts)
		if err != nil {
			return err
		}
		targets = append(targets, *t)
	}
	// a revert of the injection (a GitOps sync, `kubectl replace`) is reported and re-injected
	defer o.startGuard(ctx, targets, opts)()
	rec := state.NewRecorder(state.DefaultStore(), serverOf(o.flags), o.client.Namespace, o.targetNames(), os.Getpid(), o.warn)
	// one pod informer per Deployment, shared by the dev loop, the live view and its log follower
	cluster := o.client.Sharing()
	ctx, view, stopView := o.startView(ctx, cluster, targets)
	view, stopWeb := o.startWeb(ctx, cluster, targets, view) // the shared model, the web view, the pods' logs
	defer stopWeb()
	o.setWarn(view.Warn)
	defer o.setWarn(nil)
	stopForwards := startForwards(ctx, cluster, forwards, targets, view, rec)
	stopDebug, hold := o.startDebug(ctx, cluster, targets, view) // debug.go
	defer stopDebug()
	err = devloop.Run(o.compress.context(ctx), cluster, devloop.Config{Dir: o.absDir, Targets: targets, Hold: hold,
		Watch: watch.Options{Quiet: o.Quiet, Settle: o.settle.value(), Poll: o.Poll, PollInterval: o.PollInterval}}, recordingReporter{Reporter: view, rec: rec})
	stopForwards()
	if verr := stopView(); verr != nil && err == nil {
		err = fmt.Errorf("live view: %w (--plain prints plain lines instead)", verr)
	}
	rec.Stop()
	if err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "stopped watching; %s stay injected: `kubectl fastdev down %s` restores them\n", names(o.targets), names(o.targets))
	return nil
}

// startView starts the live view on a terminal (unless --plain), else plain lines; the returned ctx
// ends when the user quits the live view, and stop ends the view.
func (o *UpOptions) startView(ctx context.Context, cluster *kube.SharingClient, targets []devloop.Target) (context.Context, upView, func() error) {
	if o.Plain || !tui.IsTerminal(o.Out) {
		return ctx, &devloop.LineReporter{Out: o.Out, ErrOut: o.ErrOut}, func() error { return nil }
	}
	ctx, quit := context.WithCancel(ctx)
	live := tui.Start(ctx, tui.Config{In: o.In, Out: o.Out, Title: "kubectl fastdev up · namespace " + o.client.Namespace,
		Targets: targets, OnQuit: quit})
	return ctx, live, func() error {
		defer quit()
		return live.Stop()
	}
}

// targetNames returns the targets as up names them (a Deployment by its name, "statefulset/db").
func (o *UpOptions) targetNames() []string {
	var n []string
	for _, w := range o.targets {
		n = append(n, w.Ref().String())
	}
	return n
}

// leaseKeys returns what names each target's dev lease (workload.Ref.LeaseKey).
func (o *UpOptions) leaseKeys() []string {
	var n []string
	for _, w := range o.targets {
		n = append(n, w.Ref().LeaseKey())
	}
	return n
}

// leaseNames says how lease messages name the workload of each lease key (`statefulset "db"`).
func (o *UpOptions) leaseNames() map[string]string {
	n := map[string]string{}
	for _, w := range o.targets {
		n[w.Ref().LeaseKey()] = describe(w.Ref())
	}
	return n
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
