package kube

import (
	"context"
	"errors"
	"fmt"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Holder describes who holds a Deployment's dev lease.
type Holder struct {
	Identity string    // "host/pid/random": unique per `up` process
	Renewed  time.Time // last renewal
	Acquired time.Time
	Duration time.Duration
	Version  string // the Lease's resourceVersion as read: PutLease writes only over this one
}

// ErrLeaseChanged is a lease write refused because the lease was created, changed or deleted since it
// was read: another `up` wrote it meanwhile. Read it again and decide again.
var ErrLeaseChanged = errors.New("the dev lease changed since it was read")

// Expired reports whether the holder stopped renewing.
func (h Holder) Expired(now time.Time) bool { return now.Sub(h.Renewed) > h.Duration }

// LeaseName is the Lease object recording which `up` serves a Deployment.
func LeaseName(deployment string) string { return "fastdev-" + deployment }

// GetLease returns the current holder, or nil when there is no lease.
func (c *Client) GetLease(ctx context.Context, deployment string) (*Holder, error) {
	l, err := c.cs.CoordinationV1().Leases(c.Namespace).Get(ctx, LeaseName(deployment), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, Explain(err, "get", "leases", c.Namespace)
	}
	h := &Holder{Version: l.ResourceVersion}
	if l.Spec.HolderIdentity != nil {
		h.Identity = *l.Spec.HolderIdentity
	}
	if l.Spec.RenewTime != nil {
		h.Renewed = l.Spec.RenewTime.Time
	}
	if l.Spec.AcquireTime != nil {
		h.Acquired = l.Spec.AcquireTime.Time
	}
	if l.Spec.LeaseDurationSeconds != nil {
		h.Duration = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return h, nil
}

// PutLease records identity as the holder for d from now, atomically: with read nil it creates the
// lease (and fails if one exists), otherwise it updates the lease only if it is still at read.Version.
// Either way a lease another `up` wrote meanwhile gives ErrLeaseChanged, so two `up`s that both read a
// free lease cannot both win it.
func (c *Client) PutLease(ctx context.Context, deployment, identity string, d time.Duration, read *Holder) error {
	leases := c.cs.CoordinationV1().Leases(c.Namespace)
	secs := int32(d / time.Second)
	now := metav1.NewMicroTime(time.Now())
	l := &coordv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: LeaseName(deployment), Labels: map[string]string{"app.kubernetes.io/managed-by": FieldManager}},
		Spec:       coordv1.LeaseSpec{HolderIdentity: &identity, LeaseDurationSeconds: &secs, RenewTime: &now, AcquireTime: &now},
	}
	if read == nil {
		_, err := leases.Create(ctx, l, metav1.CreateOptions{FieldManager: FieldManager})
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("lease %s: %w", LeaseName(deployment), ErrLeaseChanged)
		}
		return Explain(err, "create", "leases", c.Namespace)
	}
	l.ResourceVersion = read.Version
	if read.Identity == identity && !read.Acquired.IsZero() {
		acquired := metav1.NewMicroTime(read.Acquired)
		l.Spec.AcquireTime = &acquired
	}
	_, err := leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: FieldManager})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return fmt.Errorf("lease %s: %w", LeaseName(deployment), ErrLeaseChanged)
	}
	return Explain(err, "update", "leases", c.Namespace)
}

// ReleaseLease deletes the lease if identity still holds it: the delete is conditional on the version
// read, so a lease another `up` took meanwhile is left alone.
func (c *Client) ReleaseLease(ctx context.Context, deployment, identity string) error {
	h, err := c.GetLease(ctx, deployment)
	if err != nil || h == nil || h.Identity != identity {
		return err
	}
	err = c.cs.CoordinationV1().Leases(c.Namespace).Delete(ctx, LeaseName(deployment),
		metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &h.Version}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return Explain(err, "delete", "leases", c.Namespace)
}
