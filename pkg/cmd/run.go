package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// RunOptions are the settings of `kubectl fastdev run`.
type RunOptions struct {
	genericiooptions.IOStreams
	flags *genericclioptions.ConfigFlags

	Name      string
	Argv      []string
	Container string
	All       bool
	Stdin     bool

	dash   int // where `--` stood among the arguments (-1: nowhere), from cobra
	client *kube.Client
	target runTarget
	pods   []string
}

// runTarget is what `run` reads from an injected workload: how to reach its synclets, and which
// containers their supervisors run in.
type runTarget struct {
	keys       string // the public keys the pods accept (this machine's must be among them)
	port       int
	containers []string // the app containers the rules develop, the first (the default) first
	// in is what the synclet's run path names for -c: "" for the first container (set by Validate)
	in string
}

// NewRunOptions returns the defaults.
func NewRunOptions(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *RunOptions {
	return &RunOptions{IOStreams: streams, flags: flags, dash: -1}
}

// NewCmdRun returns the run command.
func NewCmdRun(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewRunOptions(flags, streams)
	cmd := &cobra.Command{
		Use:   "run [TYPE/]NAME [-c CONTAINER] [--all] [-i] -- CMD [ARGS...]",
		Short: "Run a command in the dev container of an injected workload (its environment, user and directory)",
		Long: templates.LongDesc(`
Runs a one-off command (a generator, a migration, npm install x) in the dev container of a
workload that 'kubectl fastdev up' injected, through the container's supervisor: the command gets
the app's environment, user and working directory, its stdout and stderr arrive separately, and
run exits with its exit code. No pods/exec permission is needed: run reaches the synclet through
a port-forward, as up does, whether or not up is running. When the rules list several containers
(containers:), -c picks one of them (default: the first listed).

The command runs in one ready pod (the first by name), or with --all in every ready pod, each output line prefixed
with the pod's name (the exit code is then the first non-zero one, in pod name order). -i passes
run's standard input to the command. Ctrl-C stops the command and its child processes in the pod
and exits with code 130.

An edit that up sends while the command runs still lands, and its steps and restart run; only a
restart: container update ends every process of the container, the command included.`),
		Example: templates.Examples(`  kubectl fastdev run web -- go generate ./...
  kubectl fastdev run web -i -- sh -c 'cat > config/local.json' < local.json
  kubectl fastdev run api --all -- env
  kubectl fastdev run api -c worker -- ./migrate`),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 { // the command after the Deployment runs in the pod: nothing local to offer
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return completeTargets(flags)(cmd, args, toComplete)
		},
	}
	cmd.RunE = func(c *cobra.Command, args []string) error {
		o.dash = c.ArgsLenAtDash()
		return runE(o, untilSignal)(c, args)
	}
	f := cmd.Flags()
	f.StringVarP(&o.Container, "container", "c", "", "the app container to run in: one the rules develop (default: the rules' container, or the first of their containers: list)")
	f.BoolVar(&o.All, "all", false, "run in every ready pod, each output line prefixed with the pod's name")
	f.BoolVarP(&o.Stdin, "stdin", "i", false, "pass standard input to the command")
	// fails only for a flag not defined or already registered: -c is defined just above (TestRunFlags)
	_ = cmd.RegisterFlagCompletionFunc("container", completeRunContainer(flags))
	return cmd
}

// parseRunArgs splits `DEPLOYMENT -- CMD ARGS...` as cobra gives it (dash: the index of the first
// argument after `--`, -1 without one).
func parseRunArgs(args []string, dash int) (string, []string, error) {
	const usage = "usage: kubectl fastdev run [TYPE/]NAME -- CMD [ARGS...]"
	switch {
	case len(args) == 0:
		return "", nil, errors.New("name the workload and the command: " + usage)
	case dash < 0:
		return "", nil, fmt.Errorf("put `--` before the command, so its flags are not taken for run's: %s", usage)
	case dash != 1:
		return "", nil, fmt.Errorf("give exactly one workload before `--`, got %d: %s", dash, usage)
	case len(args) == 1:
		return "", nil, errors.New("no command after `--`: " + usage)
	}
	return args[0], args[1:], nil
}

// Complete resolves the arguments, the Deployment, how to reach its synclets and the pods to run in.
func (o *RunOptions) Complete(ctx context.Context, args []string) error {
	var err error
	if o.Name, o.Argv, err = parseRunArgs(args, o.dash); err != nil {
		return err
	}
	if o.client, err = client(o.flags); err != nil {
		return err
	}
	ws, err := FindWorkloads(ctx, o.client, []string{o.Name}, "", nil, "")
	if err != nil {
		return err
	}
	d := ws[0]
	if o.target, err = readRunTarget(d); err != nil {
		return err
	}
	sel, err := selectorOf(d)
	if err != nil {
		return err
	}
	pods, _, err := o.client.ListPods(ctx, sel)
	if err != nil {
		return kube.Explain(err, "list", "pods", o.client.Namespace)
	}
	o.pods = readyInjected(pods)
	return nil
}

// readRunTarget reads the keys, port and dev container of an injected workload, as `up` does.
func readRunTarget(w workload.Workload) (runTarget, error) {
	name, what, notes := w.Ref().String(), describe(w.Ref()), w.Meta().Annotations
	orig, err := inject.Original(notes)
	if err != nil {
		return runTarget{}, fmt.Errorf("%s: %w", what, err)
	}
	keys := notes[inject.AnnotationKeys]
	if orig == nil || keys == "" {
		return runTarget{}, fmt.Errorf("%s is %w: run `kubectl fastdev up %s` first (run reaches the pods through the synclet it injects)", what, inject.ErrNotInjected, name)
	}
	t := runTarget{keys: keys}
	if _, err := fmt.Sscanf(notes[inject.AnnotationPort], "%d", &t.port); err != nil || t.port <= 0 || t.port > 65535 {
		return runTarget{}, fmt.Errorf("%s: annotation %s is %q, not a port: run `kubectl fastdev up %s` again to re-inject", what, inject.AnnotationPort, notes[inject.AnnotationPort], name)
	}
	if t.containers, err = devContainers(notes, orig); err != nil {
		return runTarget{}, fmt.Errorf("%s: %w", what, err)
	}
	return t, nil
}

// readyInjected returns, sorted, the pods a command can run in: injected, running, ready and not
// being deleted (what a Service would route to).
func readyInjected(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		if _, ok := p.Annotations[inject.AnnotationInjected]; !ok || p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				out = append(out, p.Name)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// Validate checks the container flag against the dev container, and that there is a pod to run in.
func (o *RunOptions) Validate() error {
	var err error
	if o.target.in, err = runContainer(o.Container, o.Name, o.target.containers); err != nil {
		return err
	}
	if o.All && o.Stdin {
		return errors.New("-i with --all: one input cannot feed several commands; run each pod's command without --all")
	}
	if len(o.pods) == 0 {
		return fmt.Errorf("deployment %q has no ready injected pod to run in: wait for its rollout (`kubectl rollout status deployment/%s`), or see `kubectl fastdev logs %s`", o.Name, o.Name, o.Name)
	}
	return nil
}

// Run runs the command in one ready pod, or in each with --all, and returns an *ExitError carrying
// the command's exit code when it is not 0.
func (o *RunOptions) Run(ctx context.Context) error {
	// stderr carries the command's own stderr alone, so a script can keep it apart: no note of which
	// pod ran it (the first ready one by name; the 126/127/137 explanations name it)
	pods := o.pods[:1]
	if o.All {
		pods = o.pods
	}
	req := protocol.CommandRequest{Argv: o.Argv, Stdin: o.Stdin}
	results := make([]podResult, len(pods))
	var wg sync.WaitGroup
	var outMu sync.Mutex
	for i, pod := range pods {
		out, errOut := io.Writer(o.Out), io.Writer(o.ErrOut)
		if o.All {
			out, errOut = &prefixWriter{w: o.Out, mu: &outMu, prefix: "[" + pod + "] "}, &prefixWriter{w: o.ErrOut, mu: &outMu, prefix: "[" + pod + "] "}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = o.runIn(ctx, pod, req, out, errOut)
			flushPrefixed(out, errOut)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return &ExitError{Code: 130}
	}
	return runOutcome(pods, o.Argv, results)
}
