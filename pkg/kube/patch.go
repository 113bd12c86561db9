package kube

import (
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// staleRetries is how many times a patch planned against a workload that changed meanwhile is
// planned again: a controller writing the Deployment in a tight loop is reported, not chased forever.
const staleRetries = 3

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
