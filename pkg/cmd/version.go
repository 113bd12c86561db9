package cmd

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// SyncletDigest is the synclet image's manifest digest ("sha256:..."), stamped into release builds by
// hack/release (make dist); empty in a development build, whose image is named by tag alone.
var SyncletDigest = ""

// pinned returns image named by SyncletDigest as well, when the build carries one.
func pinned(image string) string {
	if SyncletDigest == "" {
		return image
	}
	return image + "@" + SyncletDigest
}

// VersionInfo is what `kubectl fastdev version` reports; with -o json it is printed as is.
type VersionInfo struct {
	ClientVersion string `json:"clientVersion"`
	Commit        string `json:"commit"`
	SyncletImage  string `json:"syncletImage"`
	// SyncletDigest is the digest a release pins the synclet image to; empty in a development build.
	SyncletDigest string `json:"syncletDigest,omitempty"`
	// ServerVersion is the API server's version, empty with --client or when the server did not answer.
	ServerVersion string `json:"serverVersion,omitempty"`
	// ServerError says why the server version is missing when it was asked for.
	ServerError string `json:"serverError,omitempty"`
}

// VersionOptions are the settings of `kubectl fastdev version`.
type VersionOptions struct {
	genericiooptions.IOStreams
	flags *genericclioptions.ConfigFlags

	ClientOnly bool
	Output     string
}

// NewCmdVersion returns the version command.
func NewCmdVersion(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &VersionOptions{IOStreams: streams, flags: flags}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client version, commit, synclet image and (when reachable) the server version",
		Args:  cobra.NoArgs,
		RunE:  runE(o, false),
	}
	cmd.Flags().BoolVar(&o.ClientOnly, "client", false, "print the client version only")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "output format: json")
	return cmd
}

// Complete has nothing to resolve: the server is asked in Run, where an unreachable one is part of
// the report rather than an error.
func (o *VersionOptions) Complete(context.Context, []string) error { return nil }

// Validate checks the output format.
func (o *VersionOptions) Validate() error {
	if o.Output != "" && o.Output != "json" {
		return fmt.Errorf("--output %q: want json, or no -o for text", o.Output)
	}
	return nil
}

// Run prints the versions. An unreachable server is reported, not an error: the client version is
// what a user asking for it needs, and the reason the server did not answer is part of the report.
func (o *VersionOptions) Run(context.Context) error {
	v := VersionInfo{ClientVersion: Version, Commit: Commit, SyncletImage: DefaultSyncletImage(), SyncletDigest: SyncletDigest}
	if !o.ClientOnly {
		c, err := client(o.flags)
		if err == nil {
			v.ServerVersion, err = c.ServerVersion()
		}
		if err != nil {
			v.ServerError = err.Error()
		}
	}
	if o.Output == "json" {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(o.Out, "%s\n", b)
		return err
	}
	digest := v.SyncletDigest
	if digest == "" {
		digest = "none (a development build: the image is named by its tag; releases pin it)"
	}
	fmt.Fprintf(o.Out, "Client Version: %s\nCommit: %s\nSynclet Image: %s\nSynclet Digest: %s\n", v.ClientVersion, v.Commit, v.SyncletImage, digest)
	switch {
	case v.ServerVersion != "":
		fmt.Fprintf(o.Out, "Server Version: %s\n", v.ServerVersion)
	case v.ServerError != "":
		fmt.Fprintf(o.Out, "Server Version: unreachable (%s)\n", v.ServerError)
	}
	return nil
}
