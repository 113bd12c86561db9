// Package cmd holds kubectl-fastdev's subcommands, one file each, in kubectl's Options style:
// NewCmdX builds the cobra command, Complete resolves the cluster and arguments, Validate checks
// fields, Run does the work.
package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
)

// Version and Commit are stamped at build time (see the Makefile).
var (
	Version = "v0.1.0-dev"
	Commit  = "unknown"
)

// DefaultSyncletImage is the published synclet image pinned to this release; the project's local
// cluster imports its image under exactly this name, so `up` needs no flag there.
// A release build names it by digest too (SyncletDigest), so what a node runs is that exact image.
func DefaultSyncletImage() string { return pinned("kubectl-fastdev/synclet:" + imageTag()) }

func imageTag() string {
	// a dev build still points at the release tag it was cut from ("v0.1.0-dev" -> "v0.1.0")
	v := Version
	for _, suffix := range []string{"-dev"} {
		if len(v) > len(suffix) && v[len(v)-len(suffix):] == suffix {
			v = v[:len(v)-len(suffix)]
		}
	}
	return v
}

// NewCmdRoot returns the kubectl-fastdev command tree.
func NewCmdRoot(streams genericiooptions.IOStreams) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:   "kubectl-fastdev",
		Short: "Make a code change live in running pods in well under a second",
		Long: templates.LongDesc(`
kubectl fastdev syncs your local tree into the pods of annotated Deployments, runs the in-pod
build steps the rules ask for and restarts the process: no image build, no registry, no new pod.

    kubectl annotate deployment web fastdev.dev/rules="$(cat web.fastdev.yaml)"
    kubectl fastdev up        # inject, sync, watch, push, rebuild, restart (Ctrl-C to stop)
    kubectl fastdev logs      # every dev pod's errors: build failures, stack traces, crashes, events
    kubectl fastdev status    # what is injected, connected, last sync and latency
    kubectl fastdev run web -- go generate ./...   # a one-off command in the dev container
    kubectl fastdev down      # restore the Deployments exactly`),
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl fastdev"},
		SilenceErrors: true,
	}
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	flags.AddFlags(root.PersistentFlags())
	prof := &profiling{}
	prof.addFlags(root.PersistentFlags())
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return prof.start() }
	root.PersistentPostRunE = func(*cobra.Command, []string) error { return prof.finish() }
	root.AddCommand(
		NewCmdInit(flags, streams),
		NewCmdUp(flags, streams),
		NewCmdDown(flags, streams),
		NewCmdStatus(flags, streams),
		NewCmdLogs(flags, streams),
		NewCmdRun(flags, streams),
		NewCmdVersion(flags, streams),
	)
	return root
}

// client builds the namespaced API client from kubectl's flags.
func client(flags *genericclioptions.ConfigFlags) (*kube.Client, error) {
	config, err := flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, fmt.Errorf("resolving namespace: %w", err)
	}
	return kube.New(config, ns)
}
