package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// DownOptions are the settings of `kubectl fastdev down`.
type DownOptions struct {
	genericiooptions.IOStreams
	flags *genericclioptions.ConfigFlags

	Names    []string
	Selector string
	Force    bool

	client  *kube.Client
	targets []workload.Workload
}

// NewDownOptions returns the defaults.
func NewDownOptions(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *DownOptions {
	return &DownOptions{IOStreams: streams, flags: flags}
}

// NewCmdDown returns the down command.
func NewCmdDown(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewDownOptions(flags, streams)
	cmd := &cobra.Command{
		Use:   "down [[TYPE/]NAME...]",
		Short: "Remove the injection: the workloads are back exactly as they were",
		Long: templates.LongDesc(`
Restores the pod template recorded when 'up' injected each workload (default: every injected
Deployment, StatefulSet and DaemonSet in the namespace) and removes kubectl-fastdev's annotations. Works whether or not 'up' is
still running, including after it was killed.`),
		ValidArgsFunction: completeTargets(flags),
		RunE:              runE(o, false),
	}
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "label selector of the workloads to restore")
	cmd.Flags().BoolVar(&o.Force, "force", false, "restore even if a live `up` serves the workload (its session ends) or someone changed the pod template after injection (their change is lost)")
	return cmd
}

// Complete resolves the cluster and the workloads.
func (o *DownOptions) Complete(ctx context.Context, args []string) error {
	o.Names = args
	var err error
	if o.client, err = client(o.flags); err != nil {
		return err
	}
	o.targets, err = FindWorkloads(ctx, o.client, o.Names, o.Selector, injectedOrFromFile, "injected")
	return err
}

// Validate checks the flags: down has none that can be wrong (names with --selector is refused while
// resolving the Deployments, as for every command).
func (o *DownOptions) Validate() error { return nil }

// Run restores each workload with one patch.
func (o *DownOptions) Run(ctx context.Context) error {
	var failed []error
	for _, d := range o.targets {
		err := o.restore(ctx, d)
		if err == nil {
			err = o.restoreFileRules(ctx, d) // the rules `up -f` wrote (upfile.go)
		}
		if err != nil {
			failed = append(failed, err)
		}
	}
	return errors.Join(failed...)
}

// restore puts one workload's recorded pod template back, planning again if it changed meanwhile.
// The patch is planned on the workload's JSON as the server sends it, so fields newer than this
// client's types are compared and restored too.
func (o *DownOptions) restore(ctx context.Context, w workload.Workload) error {
	injected := true
	ref := w.Ref()
	if !o.Force {
		if err := refuseLive(ctx, o.client, ref); err != nil {
			return err
		}
	}
	err := o.client.PatchWorkloadRaw(ctx, ref, "restoring", func(raw []byte) ([]byte, error) {
		patch, err := inject.RestorePatchRaw(raw, o.Force)
		switch {
		case errors.Is(err, inject.ErrNotInjected):
			injected = false
			return nil, nil
		case errors.Is(err, inject.ErrChangedMeanwhile):
			return nil, fmt.Errorf("%s: %w; restoring would drop that change: re-run with --force to restore the original anyway", describe(ref), err)
		case err != nil:
			return nil, fmt.Errorf("%s: %w", describe(ref), err)
		}
		injected = true
		return patch, nil
	})
	switch {
	case err != nil:
		return err
	case !injected:
		fmt.Fprintf(o.ErrOut, "%s: not injected, nothing to do\n", ref)
	default:
		fmt.Fprintf(o.Out, "%s: restored\n", ref)
	}
	return nil
}
