package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewCmdVersion returns the version command.
func NewCmdVersion(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client version, commit, synclet image and (when reachable) the server version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(streams.Out, "Client Version: %s\nCommit: %s\nSynclet Image: %s\n", Version, Commit, DefaultSyncletImage())
			if clientOnly {
				return nil
			}
			c, err := client(flags)
			if err == nil {
				var v string
				if v, err = c.ServerVersion(); err == nil {
					fmt.Fprintf(streams.Out, "Server Version: %s\n", v)
					return nil
				}
			}
			fmt.Fprintf(streams.Out, "Server Version: unreachable (%v)\n", err)
			return nil
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "print the client version only")
	return cmd
}
