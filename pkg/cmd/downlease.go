package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/lease"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

var _ lease.Reader = (*kube.Client)(nil)

// refuseLive returns an error naming the `up` that serves ref right now: restoring would end that
// developer's session behind their back. --force restores anyway.
func refuseLive(ctx context.Context, r lease.Reader, ref workload.Ref) error {
	h, err := lease.LiveHolder(ctx, r, ref.LeaseKey(), lease.Options{})
	if err != nil {
		return fmt.Errorf("%s: reading its dev lease to see whether an `up` serves it: %w", describe(ref), err)
	}
	if h == nil {
		return nil
	}
	return fmt.Errorf("%s is served by a live `kubectl fastdev up` (%s, renewed %s ago): stop that one, or run `kubectl fastdev down --force` to end its session", describe(ref), h.Identity, time.Since(h.Renewed).Round(time.Second))
}
