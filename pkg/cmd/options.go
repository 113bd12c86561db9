package cmd

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// options is what every command's Options implement; runE calls them in kubectl's order.
type options interface {
	// Complete resolves the cluster and the arguments.
	Complete(ctx context.Context, args []string) error
	// Validate checks fields only.
	Validate() error
	// Run does the work.
	Run(ctx context.Context) error
}

// untilSignal marks a command that runs until it is stopped (up, logs -f): its context ends on SIGINT
// or SIGTERM, so it can clean up (release leases, restore the terminal) instead of dying mid-way.
const untilSignal = true

// runE is every command's RunE: Complete -> Validate -> Run. Arguments are free-form names, so once
// cobra accepted them an error is about the cluster, the flags' values or the rules, each message
// names its fix, and the usage text would only bury it.
func runE(o options, stoppable bool) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		cmd.SilenceUsage = true
		ctx := cmd.Context()
		if err := o.Complete(ctx, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		if stoppable {
			var stop context.CancelFunc
			ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
		}
		return o.Run(ctx)
	}
}
