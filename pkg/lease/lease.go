// Package lease makes sure one `kubectl fastdev up` at a time serves a Deployment: it claims each
// Deployment's dev lease (refusing one another live `up` holds, unless told to take over), renews it,
// notices when another `up` takes it over, and releases it. It works over a small Store, which
// *kube.Client satisfies, so it is tested without a cluster.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	// GetLease returns the current holder (with the version read), or nil when there is no lease.
	GetLease(ctx context.Context, deployment string) (*kube.Holder, error)
	// PutLease takes or renews the lease for identity: it creates the lease when read is nil, and
	// otherwise updates it only while it is still at read.Version; kube.ErrLeaseChanged says another
	// writer came first.
	PutLease(ctx context.Context, deployment, identity string, d time.Duration, read *kube.Holder) error
	// ReleaseLease deletes the lease if identity still holds it.
	ReleaseLease(ctx context.Context, deployment, identity string) error
}

// claimTries bounds how often a claim reads the lease again after another writer came first.
const claimTries = 4

var _ Store = (*kube.Client)(nil)

// Options tune Claim. The zero value refuses a lease another live `up` holds, renews every
// Duration/3 and names this process by host name, pid and a random suffix.
type Options struct {
	// TakeOver claims leases another live `up` holds (that one notices at its next renewal and stops).
	TakeOver bool
	// Warn receives diagnostics while renewing: a failed renewal, a take-over.
	Warn func(msg string)
	// TakenOver is called once another `up` has taken a Deployment over; this one should stop.
	TakenOver func()
	// Names says how messages name the workload of each lease key (`statefulset "db"` for the key
	// "sts-db"); a key it lacks names a Deployment (`deployment "KEY"`).
	Names map[string]string

	// Every is the renewal period (default Duration/3, so two renewals may fail before expiry).
	Every time.Duration
	// Host and PID name this process (default os.Hostname and os.Getpid), and Nonce tells it from
	// a process of the same pid on another machine of the same name (default: random).
	Host  string
	PID   int
	Nonce string
	// Alive reports whether a process of this host runs (default state.ProcessAlive).
	Alive func(pid int) bool
}

// HeldError is a claim refused because another live `up` holds the lease.
type HeldError struct {
	Key    string // the lease key
	Target string // the workload, as Options.Names has it (`statefulset "db"`)
	Holder kube.Holder
	// Age is the time since the holder's last renewal.
	Age time.Duration
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("%s is served by another `kubectl fastdev up` (%s, renewed %s ago): stop that one, or run with --take-over",
		e.Target, e.Holder.Identity, e.Age.Round(time.Second))
}

// name is how messages name the workload of lease key d.
func (o Options) name(d string) string {
	if n, ok := o.Names[d]; ok {
		return n
	}
	return fmt.Sprintf("deployment %q", d)
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

// Acquire claims each Deployment's lease, refusing with a *HeldError (and holding none) one that
// another live `up` holds unless opts.TakeOver, and renews them until Release or ctx ends. Each claim
// is atomic (create, or update of the version read), so of several `up`s racing for a free lease
// exactly one wins.
func Acquire(ctx context.Context, s Store, deployments []string, opts Options) (*Claim, error) {
	opts = withDefaults(opts)
	c := &Claim{store: s, me: opts.Host + "/" + strconv.Itoa(opts.PID) + "/" + opts.Nonce, deployments: deployments, opts: opts}
	// a first look refuses a lease another live `up` holds before any is written; the claims below
	// decide again, atomically, on what they read
	for _, d := range deployments {
		if err := c.check(ctx, d); err != nil {
			return nil, err
		}
	}
	for i, d := range deployments {
		if err := c.claim(ctx, d); err != nil {
			// give back what this call took; a lease left behind expires after Duration anyway
			held := &Claim{store: s, me: c.me, deployments: deployments[:i], opts: opts}
			if rerr := held.release(); rerr != nil {
				err = fmt.Errorf("%w (and %w)", err, rerr)
			}
			return nil, err
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	c.cancel, c.done = cancel, make(chan struct{})
	go c.renewEvery(rctx)
	return c, nil
}

// check reads d's lease and refuses it (a *HeldError) when another live `up` holds it and the claim
// does not take over; it returns what it read.
func (c *Claim) check(ctx context.Context, d string) error {
	_, err := c.read(ctx, d)
	return err
}

func (c *Claim) read(ctx context.Context, d string) (*kube.Holder, error) {
	h, err := c.store.GetLease(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("reading the dev lease of %s: %w", c.opts.name(d), err)
	}
	if h != nil && h.Identity != c.me && !h.Expired(time.Now()) && !c.opts.TakeOver && !c.deadLocal(h.Identity) {
		return nil, &HeldError{Key: d, Target: c.opts.name(d), Holder: *h, Age: time.Since(h.Renewed)}
	}
	return h, nil
}

// claim takes d's lease unless another live `up` holds it; when another writer came between the read
// and the write, it reads again and decides again.
func (c *Claim) claim(ctx context.Context, d string) error {
	for try := 1; ; try++ {
		h, err := c.read(ctx, d)
		if err != nil {
			return err
		}
		err = c.store.PutLease(ctx, d, c.me, Duration, h)
		if errors.Is(err, kube.ErrLeaseChanged) && try < claimTries {
			continue
		}
		if err != nil {
			return fmt.Errorf("claiming the dev lease of %s: %w", c.opts.name(d), err)
		}
		return nil
	}
}

func withDefaults(o Options) Options {
	if o.Every <= 0 {
		o.Every = Duration / 3
	}
	if o.Host == "" {
		// Without a host name no holder can be known to be local: only expiry or --take-over frees a
		// lease a killed `up` left, which is the behaviour across machines anyway.
		if h, err := os.Hostname(); err == nil && h != "" {
			o.Host = h + machineSuffix()
		} else {
			o.Host = unknownHost
		}
	}
	if o.PID == 0 {
		o.PID = os.Getpid()
	}
	if o.Nonce == "" {
		b := make([]byte, 4)
		// crypto/rand.Read never returns an error (Go 1.24 and later: it crashes the program instead)
		_, _ = rand.Read(b)
		o.Nonce = hex.EncodeToString(b)
	}
	if o.Alive == nil {
		o.Alive = state.ProcessAlive
	}
	return o
}

// machineSuffix tells apart machines that share a host name (cloned VMs, "localhost", CI runners), so
// a live `up` on one is never taken for a dead process of the other: "-" and the start of the
// systemd machine id where there is one, nothing elsewhere.
func machineSuffix() string {
	b, err := os.ReadFile("/etc/machine-id")
	if id := strings.TrimSpace(string(b)); err == nil && len(id) >= 8 {
		return "-" + id[:8]
	}
	return ""
}

// Identity is how this Claim names its holder in the leases ("host/pid/random").
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
		h, err := c.store.GetLease(ctx, d)
		if err != nil {
			return false, err
		}
		if h != nil && h.Identity != c.me {
			c.warn(fmt.Sprintf("%s: taken over by another `kubectl fastdev up` (%s); stopping", c.opts.name(d), h.Identity))
			if c.opts.TakenOver != nil {
				c.opts.TakenOver()
			}
			return true, nil
		}
		// a lease deleted meanwhile (h nil) is created again; one written meanwhile fails here and the
		// next renewal sees who wrote it
		if err := c.store.PutLease(ctx, d, c.me, Duration, h); err != nil {
			return false, err
		}
	}
	return false, nil
}

// Release stops renewing and gives back the leases this process still holds. Renewal has stopped
// before the first lease is deleted, so none is taken again behind the release.
func (c *Claim) Release() error {
	var err error
	c.once.Do(func() {
		c.cancel()
		<-c.done
		err = c.release()
	})
	return err
}

// release deletes the leases this process still holds.
func (c *Claim) release() error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	for _, d := range c.deployments {
		if err := c.store.ReleaseLease(ctx, d, c.me); err != nil {
			errs = append(errs, fmt.Errorf("releasing the dev lease of %s (it expires within %s): %w", c.opts.name(d), Duration, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Claim) warn(msg string) {
	if c.opts.Warn != nil {
		c.opts.Warn(msg)
	}
}

// deadLocal reports a holder on this host whose process is gone (an `up` killed with SIGKILL).
func (c *Claim) deadLocal(identity string) bool { return deadLocal(c.opts, identity) }

func deadLocal(o Options, identity string) bool {
	// "host/pid/random" (or "host/pid" from releases before the random part)
	parts := strings.SplitN(identity, "/", 3)
	if len(parts) < 2 || parts[0] != o.Host || parts[0] == unknownHost {
		return false
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n <= 0 {
		return false // not an identity an `up` writes: treat it as alive
	}
	return !o.Alive(n)
}

// Reader reads a Deployment's dev lease (Store's first method).
type Reader interface {
	GetLease(ctx context.Context, deployment string) (*kube.Holder, error)
}

// LiveHolder returns the holder of the lease key when a live `up` holds it (renewed within the lease's
// duration, and not a process of this machine that is gone), or nil. `down` asks before ending
// someone's session. opts names this process as for Acquire (its zero value: the defaults).
func LiveHolder(ctx context.Context, r Reader, key string, opts Options) (*kube.Holder, error) {
	opts = withDefaults(opts)
	h, err := r.GetLease(ctx, key)
	if err != nil || h == nil || h.Expired(time.Now()) || deadLocal(opts, h.Identity) {
		return nil, err
	}
	return h, nil
}
