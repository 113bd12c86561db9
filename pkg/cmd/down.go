package cmd

import (
	"context"
	"errors"
	"fmt"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

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

// NewCmdDown returns the down command.
func NewCmdDown(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DownOptions{IOStreams: streams, flags: flags}
	cmd := &cobra.Command{
		Use:   "down [DEPLOYMENT...]",
		Short: "Remove the injection: the Deployments are back exactly as they were",
		Long: templates.LongDesc(`
Restores the pod template recorded when 'up' injected each Deployment (default: every injected
Deployment in the namespace) and removes kubectl-fastdev's annotations. Works whether or not 'up' is
still running, including after it was killed.`),
		ValidArgsFunction: completeDeployments(flags),
		RunE: func(cmd *cobra.Command, args []string) error {
			// arguments are free-form names: from here on an error is about the cluster or the rules,
			// and the usage text would only bury it
			cmd.SilenceUsage = true
			if err := o.Complete(cmd.Context(), args); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
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

func (o *DownOptions) restore(ctx context.Context, d *appsv1.Deployment) error {
	for attempt := 0; ; attempt++ {
		orig, err := inject.Original(d.Annotations)
		if err != nil {
			return fmt.Errorf("deployment %q: %w", d.Name, err)
		}
		if orig == nil {
			fmt.Fprintf(o.ErrOut, "%s: not injected, nothing to do\n", d.Name)
			return nil
		}
		if !o.Force && !equality.Semantic.DeepEqual(inject.Strip(&d.Spec.Template, orig), orig) {
			return fmt.Errorf("deployment %q: %w; restoring would drop that change: re-run with --force to restore the original anyway", d.Name, inject.ErrChangedMeanwhile)
		}
		patch, err := inject.RestorePatch(d)
		if err != nil {
			return fmt.Errorf("deployment %q: %w", d.Name, err)
		}
		if _, err := o.client.PatchDeployment(ctx, d.Name, patch); err != nil {
			if attempt < 3 && isStale(err) {
				if d, err = o.client.GetDeployment(ctx, d.Name); err == nil {
					continue
				}
			}
			return fmt.Errorf("restoring deployment %q: %w", d.Name, err)
		}
		fmt.Fprintf(o.Out, "%s: restored\n", d.Name)
		return nil
	}
}
