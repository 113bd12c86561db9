package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
)

// DownOptions are the settings of `kubectl fastdev down`.
type DownOptions struct {
	genericiooptions.IOStreams
	flags *genericclioptions.ConfigFlags

	Names    []string
	Selector string
	Force    bool

	client  *kube.Client
	targets []*appsv1.Deployment
}

// NewDownOptions returns the defaults.
func NewDownOptions(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *DownOptions {
	return &DownOptions{IOStreams: streams, flags: flags}
}

// NewCmdDown returns the down command.
func NewCmdDown(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewDownOptions(flags, streams)
	cmd := &cobra.Command{
		Use:   "down [DEPLOYMENT...]",
		Short: "Remove the injection: the Deployments are back exactly as they were",
		Long: templates.LongDesc(`
Restores the pod template recorded when 'up' injected each Deployment (default: every injected
Deployment in the namespace) and removes kubectl-fastdev's annotations. Works whether or not 'up' is
still running, including after it was killed.`),
		ValidArgsFunction: completeDeployments(flags),
		RunE:              runE(o, false),
	}
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "label selector of the Deployments to restore")
	cmd.Flags().BoolVar(&o.Force, "force", false, "restore even if someone changed the pod template after injection (their change is lost)")
	return cmd
}

// Complete resolves the cluster and the Deployments.
func (o *DownOptions) Complete(ctx context.Context, args []string) error {
	o.Names = args
	var err error
	if o.client, err = client(o.flags); err != nil {
		return err
	}
	o.targets, err = findDeployments(ctx, o.client, o.Names, o.Selector, isInjected, "injected")
	return err
}

// Validate checks the flags: down has none that can be wrong (names with --selector is refused while
// resolving the Deployments, as for every command).
func (o *DownOptions) Validate() error { return nil }

// isInjected picks the default set of `down`: Deployments with a recorded original.
func isInjected(d *appsv1.Deployment) bool {
	_, ok := d.Annotations[inject.AnnotationOriginal]
	return ok
}

// Run restores each Deployment with one patch.
func (o *DownOptions) Run(ctx context.Context) error {
	var failed []error
	for _, d := range o.targets {
		if err := o.restore(ctx, d); err != nil {
			failed = append(failed, err)
		}
	}
	return errors.Join(failed...)
}

// restore puts one Deployment's recorded pod template back, planning again if it changed meanwhile.
// The patch is planned on the Deployment's JSON as the server sends it, so fields newer than this
// client's types are compared and restored too.
func (o *DownOptions) restore(ctx context.Context, d *appsv1.Deployment) error {
	injected := true
	err := o.client.PatchPlannedRaw(ctx, d.Name, "restoring", func(raw []byte) ([]byte, error) {
		patch, err := inject.RestorePatchRaw(raw, o.Force)
		switch {
		case errors.Is(err, inject.ErrNotInjected):
			injected = false
			return nil, nil
		case errors.Is(err, inject.ErrChangedMeanwhile):
			return nil, fmt.Errorf("deployment %q: %w; restoring would drop that change: re-run with --force to restore the original anyway", d.Name, err)
		case err != nil:
			return nil, fmt.Errorf("deployment %q: %w", d.Name, err)
		}
		injected = true
		return patch, nil
	})
	switch {
	case err != nil:
		return err
	case !injected:
		fmt.Fprintf(o.ErrOut, "%s: not injected, nothing to do\n", d.Name)
	default:
		fmt.Fprintf(o.Out, "%s: restored\n", d.Name)
	}
	return nil
}
