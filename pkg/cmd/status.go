package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/state"
)

// StatusOptions are the settings of `kubectl fastdev status`.
type StatusOptions struct {
	genericiooptions.IOStreams
	flags *genericclioptions.ConfigFlags

	Names    []string
	Selector string
	Output   string

	client  *kube.Client
	targets []*appsv1.Deployment
}

// DeploymentStatus is one row of `status` (and one object of `-o json`).
type DeploymentStatus struct {
	Name     string      `json:"name"`
	Injected bool        `json:"injected"`
	UpActive bool        `json:"upRunning"`
	Pods     []PodStatus `json:"pods"`
}

// PodStatus is one pod of a dev Deployment.
type PodStatus struct {
	Name          string  `json:"name"`
	Phase         string  `json:"phase"`
	Synclet       bool    `json:"syncletRunning"`
	Connected     bool    `json:"connected"`
	LastSync      string  `json:"lastSync,omitempty"`
	LastLatencyMs float64 `json:"lastLatencyMs,omitempty"`
	LastError     string  `json:"lastError,omitempty"`
}

// NewCmdStatus returns the status command.
func NewCmdStatus(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &StatusOptions{IOStreams: streams, flags: flags}
	cmd := &cobra.Command{
		Use:   "status [DEPLOYMENT...]",
		Short: "Show what is injected, connected, last sync, last edit->running latency and last error",
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Names = args
			if o.Output != "" && o.Output != "json" && o.Output != "wide" {
				return fmt.Errorf("--output %q: want json or wide", o.Output)
			}
			var err error
			if o.client, err = client(o.flags); err != nil {
				return err
			}
			cmd.SilenceUsage = true
			o.targets, err = findDeployments(cmd.Context(), o.client, o.Names, o.Selector, func(d *appsv1.Deployment) bool {
				_, annotated := d.Annotations[rules.AnnotationKey]
				return annotated || isInjected(d)
			}, "annotated or injected")
			if err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
		ValidArgsFunction: completeDeployments(flags),
	}
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "label selector of the Deployments")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "output format: json")
	return cmd
}

// Run prints the status of each target.
func (o *StatusOptions) Run(ctx context.Context) error {
	store := state.DefaultStore()
	server := serverOf(o.flags)
	var out []DeploymentStatus
	for _, d := range o.targets {
		ds := DeploymentStatus{Name: d.Name, Injected: isInjected(d)}
		rec, _ := store.Read(server, o.client.Namespace, d.Name)
		ds.UpActive = rec.Live()
		sel, err := selectorOf(d)
		if err != nil {
			return err
		}
		pods, _, err := o.client.ListPods(ctx, sel)
		if err != nil {
			return err
		}
		sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
		for _, p := range pods {
			ps := PodStatus{Name: p.Name, Phase: string(p.Status.Phase), Synclet: inject.SyncletRunning(&p)}
			if p.DeletionTimestamp != nil {
				ps.Phase = "Terminating"
			}
			if rec != nil && rec.Pods[p.Name] != nil {
				r := rec.Pods[p.Name]
				ps.Connected = r.Connected && ds.UpActive
				if !r.LastSync.IsZero() {
					ps.LastSync = r.LastSync.Format(time.RFC3339)
				}
				ps.LastLatencyMs, ps.LastError = r.LastLatency, r.LastError
			}
			ds.Pods = append(ds.Pods, ps)
		}
		out = append(out, ds)
	}
	if o.Output == "json" {
		enc := json.NewEncoder(o.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEPLOYMENT\tINJECTED\tUP\tPOD\tPHASE\tSYNCLET\tCONNECTED\tLAST SYNC\tLATENCY\tLAST ERROR")
	for _, ds := range out {
		if len(ds.Pods) == 0 {
			fmt.Fprintf(tw, "%s\t%v\t%v\t-\t-\t-\t-\t-\t-\t-\n", ds.Name, ds.Injected, ds.UpActive)
		}
		for _, p := range ds.Pods {
			last, lat, lerr := "-", "-", "-"
			if p.LastSync != "" {
				last = p.LastSync
			}
			if p.LastLatencyMs > 0 {
				lat = fmt.Sprintf("%.0fms", p.LastLatencyMs)
			}
			if p.LastError != "" {
				lerr = p.LastError
			}
			fmt.Fprintf(tw, "%s\t%v\t%v\t%s\t%s\t%v\t%v\t%s\t%s\t%s\n", ds.Name, ds.Injected, ds.UpActive, p.Name, p.Phase, p.Synclet, p.Connected, last, lat, lerr)
		}
	}
	return tw.Flush()
}
