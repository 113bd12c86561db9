// Package lease makes sure one `kubectl fastdev up` at a time serves a Deployment: it claims each
// Deployment's dev lease (refusing one another live `up` holds, unless told to take over), renews it,
// notices when another `up` takes it over, and releases it. It works over a small Store, which
// *kube.Client satisfies, so it is tested without a cluster.
package lease

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/state"
)

// Duration is how long a dev lease outlives its last renewal: a killed `up` blocks a new one on
// another machine for at most this long (on the same machine a dead holder is detected at once).
const Duration = 30 * time.Second

// releaseTimeout bounds releasing at exit: an unreachable cluster must not hold up Ctrl-C, and an
// unreleased lease expires after Duration anyway.
const releaseTimeout = 5 * time.Second

// unknownHost names the host when the system does not; such a holder is never taken for a local one.
const unknownHost = "unknown-host"

// Store reads, takes and gives back a Deployment's dev lease.
type Store interface {
	// GetLease returns the current holder, or nil when there is no lease.
	GetLease(ctx context.Context, deployment string) (*kube.Holder, error)
	// AcquireLease takes or renews the lease for identity, overwriting any other holder.
	AcquireLease(ctx context.Context, deployment, identity string, d time.Duration) error
	// ReleaseLease deletes the lease if identity still holds it.
	ReleaseLease(ctx context.Context, deployment, identity string) error
}

var _ Store = (*kube.Client)(nil)

// Options tune Claim. The zero value refuses a lease another live `up` holds, renews every
// Duration/3 and names this process by host name and pid.
type Options struct {
	// TakeOver claims leases another live `up` holds (that one notices at its next renewal and stops).
	TakeOver bool
	// Warn receives diagnostics while renewing: a failed renewal, a take-over.
	Warn func(msg string)
	// TakenOver is called once another `up` has taken a Deployment over; this one should stop.
	TakenOver func()

	// Every is the renewal period (default Duration/3, so two renewals may fail before expiry).
	Every time.Duration
	// Host and PID name this process (default os.Hostname and os.Getpid).
	Host string
	PID  int
	// Alive reports whether a process of this host runs (default state.ProcessAlive).
	Alive func(pid int) bool
}

// HeldError is a claim refused because another live `up` holds the lease.
type HeldError struct {
	Deployment string
	Holder     kube.Holder
	// Age is the time since the holder's last renewal.
	Age time.Duration
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("deployment %q is served by another `kubectl fastdev up` (%s, renewed %s ago): stop that one, or run with --take-over",
		e.Deployment, e.Holder.Identity, e.Age.Round(time.Second))
}

// Claim holds the dev leases of some Deployments until Release.
type Claim struct {
	store       Store
	me          string
	deployments []string
	opts        Options

	cancel context.CancelFunc
	done   chan struct{} // closed when the renewal goroutine has returned
	once   sync.Once
}

// Acquire claims each Deployment's lease, refusing with a *HeldError (and claiming none) one that
// another live `up` holds unless opts.TakeOver, and renews them until Release or ctx ends.
func Acquire(ctx context.Context, s Store, deployments []string, opts Options) (*Claim, error) {
	opts = withDefaults(opts)
	c := &Claim{store: s, me: opts.Host + "/" + strconv.Itoa(opts.PID), deployments: deployments, opts: opts}
	for _, d := range deployments {
		h, err := s.GetLease(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("reading the dev lease of deployment %q: %w", d, err)
		}
		if h != nil && h.Identity != c.me && !h.Expired(time.Now()) && !opts.TakeOver && !c.deadLocal(h.Identity) {
			return nil, &HeldError{Deployment: d, Holder: *h, Age: time.Since(h.Renewed)}
		}
	}
	for _, d := range deployments {
		if err := s.AcquireLease(ctx, d, c.me, Duration); err != nil {
			return nil, fmt.Errorf("claiming the dev lease of deployment %q: %w", d, err)
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	c.cancel, c.done = cancel, make(chan struct{})
	go c.renewEvery(rctx)
	return c, nil
}

func withDefaults(o Options) Options {
	if o.Every <= 0 {
		o.Every = Duration / 3
	}
	if o.Host == "" {
		// Without a host name no holder can be known to be local: only expiry or --take-over frees a
		// lease a killed `up` left, which is the behaviour across machines anyway.
		if h, err := os.Hostname(); err == nil && h != "" {
			o.Host = h
		} else {
			o.Host = unknownHost
		}
	}
	if o.PID == 0 {
		o.PID = os.Getpid()
	}
	if o.Alive == nil {
		o.Alive = state.ProcessAlive
	}
	return o
}

// Identity is how this Claim names its holder in the leases ("host/pid").
func (c *Claim) Identity() string { return c.me }

// renewEvery renews the leases every opts.Every until ctx ends or another `up` takes one over.
func (c *Claim) renewEvery(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.opts.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			takenOver, err := c.renew(ctx)
			if takenOver {
				return
			}
			if err != nil && ctx.Err() == nil {
				c.warn(fmt.Sprintf("renewing the dev lease: %v", err))
			}
		}
	}
}

// renew renews every lease, unless another holder has taken one over: then it warns, calls
// TakenOver and reports true.
func (c *Claim) renew(ctx context.Context) (bool, error) {
	for _, d := range c.deployments {
		// A failed read is not a take-over: the renewal below reports the trouble.
		if h, err := c.store.GetLease(ctx, d); err == nil && h != nil && h.Identity != c.me {
			c.warn(fmt.Sprintf("%s: taken over by another `kubectl fastdev up` (%s); stopping", d, h.Identity))
			if c.opts.TakenOver != nil {
				c.opts.TakenOver()
			}
			return true, nil
		}
		if err := c.store.AcquireLease(ctx, d, c.me, Duration); err != nil {
			return false, err
		}
	}
	return false, nil
}

// Release stops renewing and gives back the leases this process still holds. Renewal has stopped
// before the first lease is deleted, so none is taken again behind the release.
func (c *Claim) Release() error {
	var errs []error
	c.once.Do(func() {
		c.cancel()
		<-c.done
		ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		defer cancel()
		for _, d := range c.deployments {
			if err := c.store.ReleaseLease(ctx, d, c.me); err != nil {
				errs = append(errs, fmt.Errorf("releasing the dev lease of %s (it expires within %s): %w", d, Duration, err))
			}
		}
	})
	return errors.Join(errs...)
}

func (c *Claim) warn(msg string) {
	if c.opts.Warn != nil {
		c.opts.Warn(msg)
	}
}

// deadLocal reports a holder on this host whose process is gone (an `up` killed with SIGKILL).
func (c *Claim) deadLocal(identity string) bool {
	h, pid, ok := strings.Cut(identity, "/")
	if !ok || h != c.opts.Host || h == unknownHost {
		return false
	}
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return false // not an identity an `up` writes: treat it as alive
	}
	return !c.opts.Alive(n)
}
