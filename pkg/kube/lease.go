package kube

import (
	"context"
	"fmt"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Holder describes who holds a Deployment's dev lease.
type Holder struct {
	Identity string    // "host/pid"
	Renewed  time.Time // last renewal
	Duration time.Duration
}

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
	h := &Holder{}
	if l.Spec.HolderIdentity != nil {
		h.Identity = *l.Spec.HolderIdentity
	}
	if l.Spec.RenewTime != nil {
		h.Renewed = l.Spec.RenewTime.Time
	}
	if l.Spec.LeaseDurationSeconds != nil {
		h.Duration = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return h, nil
}

// AcquireLease takes (or renews) the lease for identity, overwriting any previous holder: callers
// decide beforehand whether taking over is right.
func (c *Client) AcquireLease(ctx context.Context, deployment, identity string, d time.Duration) error {
	leases := c.cs.CoordinationV1().Leases(c.Namespace)
	secs := int32(d / time.Second)
	now := metav1.NewMicroTime(time.Now())
	l, err := leases.Get(ctx, LeaseName(deployment), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: LeaseName(deployment), Labels: map[string]string{"app.kubernetes.io/managed-by": FieldManager}},
			Spec:       coordv1.LeaseSpec{HolderIdentity: &identity, LeaseDurationSeconds: &secs, RenewTime: &now, AcquireTime: &now},
		}, metav1.CreateOptions{FieldManager: FieldManager})
		return Explain(err, "create", "leases", c.Namespace)
	}
	if err != nil {
		return Explain(err, "get", "leases", c.Namespace)
	}
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != identity {
		l.Spec.AcquireTime = &now
	}
	l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = &identity, &secs, &now
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: FieldManager})
	if apierrors.IsConflict(err) {
		return fmt.Errorf("lease %s changed while renewing: %w", LeaseName(deployment), err)
	}
	return Explain(err, "update", "leases", c.Namespace)
}

// ReleaseLease deletes the lease if identity still holds it.
func (c *Client) ReleaseLease(ctx context.Context, deployment, identity string) error {
	h, err := c.GetLease(ctx, deployment)
	if err != nil || h == nil || h.Identity != identity {
		return err
	}
	err = c.cs.CoordinationV1().Leases(c.Namespace).Delete(ctx, LeaseName(deployment), metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return Explain(err, "delete", "leases", c.Namespace)
}
