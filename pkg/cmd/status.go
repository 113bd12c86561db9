package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/state"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// StatusOptions are the settings of `kubectl fastdev status`.
type StatusOptions struct {
	genericiooptions.IOStreams
	flags *genericclioptions.ConfigFlags

	Names    []string
	Selector string
	Output   string

	client *kube.Client
	store  state.Store
	server string
}

// DeploymentStatus is one row of `status` (and one object of `-o json`).
type DeploymentStatus struct {
	Name      string      `json:"name"`
	Injected  bool        `json:"injected"`
	UpRunning bool        `json:"upRunning"`
	Pods      []PodStatus `json:"pods"`
	// Forwards are the local URLs the running `up` forwards to the Deployment's ready pods.
	Forwards []state.ForwardRecord `json:"forwards,omitempty"`
}

// PodStatus is one pod of a dev Deployment.
type PodStatus struct {
	Name           string  `json:"name"`
	Phase          string  `json:"phase"`
	SyncletRunning bool    `json:"syncletRunning"`
	Connected      bool    `json:"connected"`
	LastSync       string  `json:"lastSync,omitempty"`
	LastLatencyMs  float64 `json:"lastLatencyMs,omitempty"`
	LastError      string  `json:"lastError,omitempty"`
	// Stale is an injected, running pod that no `up` on this machine converged since the pod started
	// (created while `up` was not running: a scale-up, an eviction): it runs the image's code.
	Stale bool `json:"stale"`
	// Node and LastFiles are shown by -o wide; they are left out of -o json, whose fields scripts read.
	Node      string `json:"-"`
	LastFiles int    `json:"-"`
}

// NewStatusOptions returns the defaults.
func NewStatusOptions(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *StatusOptions {
	return &StatusOptions{IOStreams: streams, flags: flags, store: state.DefaultStore()}
}

// NewCmdStatus returns the status command.
func NewCmdStatus(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewStatusOptions(flags, streams)
	cmd := &cobra.Command{
		Use:               "status [[TYPE/]NAME...]",
		Short:             "Show what is injected, connected, last sync, last edit->running latency and last error",
		RunE:              runE(o, false),
		ValidArgsFunction: completeTargets(flags),
	}
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "label selector of the workloads (Deployments, StatefulSets, DaemonSets)")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "output format: json, or wide (adds each pod's node and the files of its last sync)")
	return cmd
}

// Complete resolves the cluster. The Deployments are resolved by Run: a failure there is about the
// cluster, not the command line.
func (o *StatusOptions) Complete(_ context.Context, args []string) error {
	o.Names = args
	var err error
	if o.client, err = client(o.flags); err != nil {
		return err
	}
	o.server = serverOf(o.flags)
	return nil
}

// Validate checks the output format.
func (o *StatusOptions) Validate() error {
	if o.Output != "" && o.Output != "json" && o.Output != "wide" {
		return fmt.Errorf("--output %q: want json or wide", o.Output)
	}
	return nil
}

// Run prints the status of each annotated or injected Deployment.
func (o *StatusOptions) Run(ctx context.Context) error {
	targets, err := FindWorkloads(ctx, o.client, o.Names, o.Selector, func(w workload.Workload) bool {
		return isAnnotated(w) || isInjected(w)
	}, "annotated or injected")
	if err != nil {
		return err
	}
	var out []DeploymentStatus
	for _, d := range targets {
		ds, err := o.status(ctx, d)
		if err != nil {
			return err
		}
		out = append(out, ds)
	}
	if o.Output == "json" {
		enc := json.NewEncoder(o.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if err := printStatus(o.Out, out, o.Output == "wide"); err != nil {
		return err
	}
	printForwards(o.Out, out)
	printStale(o.Out, out)
	return nil
}

// printStale says, below the table, which pods run the image's code rather than the local tree.
func printStale(w io.Writer, out []DeploymentStatus) {
	for _, ds := range out {
		for _, p := range ds.Pods {
			if p.Stale {
				fmt.Fprintf(w, "%s: pod %s is stale: no `kubectl fastdev up` converged it since it started, so it runs the image's code; run `kubectl fastdev up %s` to sync it\n", ds.Name, p.Name, ds.Name)
			}
		}
	}
}

// printForwards lists, below the table, the forwards of the running `up`s.
func printForwards(w io.Writer, out []DeploymentStatus) {
	for _, ds := range out {
		for _, f := range ds.Forwards {
			fmt.Fprintf(w, "%s: forwarding %s -> port %d\n", ds.Name, f.URL, f.RemotePort)
		}
	}
}

// status gathers one Deployment's pods and what the `up` serving it recorded.
func (o *StatusOptions) status(ctx context.Context, w workload.Workload) (DeploymentStatus, error) {
	ds := DeploymentStatus{Name: w.Ref().String(), Injected: isInjected(w)}
	rec, err := o.store.Read(o.server, o.client.Namespace, ds.Name)
	if err != nil {
		// the cluster's view is still worth showing; the record is as good as missing
		fmt.Fprintf(o.ErrOut, "warning: %v\n", err)
	}
	ds.UpRunning = rec.Live()
	if ds.UpRunning {
		ds.Forwards = rec.Forwards
	}
	sel, err := selectorOf(w)
	if err != nil {
		return ds, err
	}
	pods, _, err := o.client.ListPods(ctx, sel)
	if err != nil {
		return ds, err
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	for i := range pods {
		ds.Pods = append(ds.Pods, podStatus(&pods[i], rec, ds.UpRunning))
	}
	return ds, nil
}

// podStatus is one pod as the cluster sees it, with what a running `up` recorded about it.
func podStatus(p *corev1.Pod, rec *state.Record, upRunning bool) PodStatus {
	ps := PodStatus{Name: p.Name, Phase: string(p.Status.Phase), SyncletRunning: inject.SyncletRunning(p), Node: p.Spec.NodeName}
	if p.DeletionTimestamp != nil {
		ps.Phase = "Terminating"
	}
	ps.Stale = stale(p, rec)
	if rec == nil || rec.Pods[p.Name] == nil {
		return ps
	}
	r := rec.Pods[p.Name]
	ps.Connected = r.Connected && upRunning
	if !r.LastSync.IsZero() {
		ps.LastSync = r.LastSync.Format(time.RFC3339)
	}
	ps.LastLatencyMs, ps.LastError, ps.LastFiles = r.LastLatencyMs, r.LastError, r.LastFiles
	return ps
}

// stale reports an injected, running pod that, as far as the records of this machine tell, no `up`
// found equal to the local tree since it started. Pod names are never reused, so a pod the record does
// not mark converged is one `up` never compared (or one it could not bring up to date).
func stale(p *corev1.Pod, rec *state.Record) bool {
	if _, injected := p.Annotations[inject.AnnotationInjected]; !injected || p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
		return false
	}
	return rec == nil || rec.Pods[p.Name] == nil || rec.Pods[p.Name].Converged.IsZero()
}

// printStatus prints the table of `status`; wide adds each pod's node and the files of its last sync.
func printStatus(w io.Writer, out []DeploymentStatus, wide bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	extraHead, extraNone := "", ""
	if wide {
		extraHead, extraNone = "\tNODE\tFILES", "\t-\t-"
	}
	fmt.Fprintln(tw, "WORKLOAD\tINJECTED\tUP\tPOD\tPHASE\tSYNCLET\tCONNECTED\tLAST SYNC\tLATENCY"+extraHead+"\tLAST ERROR")
	for _, ds := range out {
		if len(ds.Pods) == 0 {
			fmt.Fprintf(tw, "%s\t%v\t%v\t-\t-\t-\t-\t-\t-%s\t-\n", ds.Name, ds.Injected, ds.UpRunning, extraNone)
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
			extra := ""
			if wide {
				node, files := "-", "-"
				if p.Node != "" {
					node = p.Node
				}
				if p.LastSync != "" {
					files = fmt.Sprint(p.LastFiles)
				}
				extra = "\t" + node + "\t" + files
			}
			fmt.Fprintf(tw, "%s\t%v\t%v\t%s\t%s\t%v\t%v\t%s\t%s%s\t%s\n", ds.Name, ds.Injected, ds.UpRunning, p.Name, p.Phase, p.SyncletRunning, p.Connected, last, lat, extra, lerr)
		}
	}
	return tw.Flush()
}
