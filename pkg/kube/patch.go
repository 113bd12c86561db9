package kube

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// staleRetries is how many times a patch planned against a Deployment that changed meanwhile is
// planned again: a controller writing the Deployment in a tight loop is reported, not chased forever.
const staleRetries = 3

// PlanFunc plans the JSON patch for a Deployment as last read; a nil patch means there is nothing to
// do. Its errors are returned as they are.
type PlanFunc func(d *appsv1.Deployment) ([]byte, error)

// PatchPlanned applies the patch plan returns for d. When the patch fails because the Deployment
// changed after it was read, it reads it again and plans again (up to staleRetries times). It returns
// the Deployment the applied plan was made for; an error of the API is wrapped as "<verb> deployment
// NAME: ...", e.g. verb "patching" or "restoring".
func (c *Client) PatchPlanned(ctx context.Context, d *appsv1.Deployment, verb string, plan PlanFunc) (*appsv1.Deployment, error) {
	for attempt := 0; ; attempt++ {
		patch, err := plan(d)
		if err != nil || patch == nil {
			return d, err
		}
		_, err = c.PatchDeployment(ctx, d.Name, patch)
		if err == nil {
			return d, nil
		}
		if attempt < staleRetries && isStale(err) {
			fresh, gerr := c.GetDeployment(ctx, d.Name)
			if gerr == nil {
				d = fresh
				continue
			}
			err = gerr
		}
		return d, fmt.Errorf("%s deployment %q: %w", verb, d.Name, err)
	}
}

// isStale reports a patch that failed because the object changed after it was read. Every patch of
// kubectl-fastdev starts with a JSON-patch "test" of the resourceVersion read; when that test fails the
// API server answers 422 with reason Invalid and a generic message ("the server rejected our request
// due to an error in our request": k8s.io/apiserver's patch handler maps any error of applying a JSON
// patch so), which is why the reason is checked and not the text. A conflict is the same story told
// by an update. A patch invalid for another reason is Invalid too: it is planned again, fails the same
// way, and its error is returned after staleRetries.
func isStale(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsInvalid(err)
}
