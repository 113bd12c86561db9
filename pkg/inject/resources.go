package inject

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// The requests and limits of every container injection adds (install, seed, synclet), unless the
// rules' synclet.resources says otherwise. A namespace whose ResourceQuota covers cpu or memory
// refuses a pod with any container that sets none, so they are always set.
//
//   - requests (10m, 16Mi): what the quota and the scheduler charge for as long as the pod lives.
//     The synclet idles between edits, so it asks for little. The install and seed init containers
//     count toward the pod's requests only as the largest of them (init containers run one at a
//     time), so giving them the synclet's small values adds nothing beyond the synclet's own.
//   - limit cpu 1: a cpu limit only slows a process down, never kills it, and under contention the
//     10m request (CPU shares) already gives the app the node first: the limit only caps what the
//     synclet takes from idle cores. One core lets a first sync or a large converge finish: at 500m
//     a 11,000-file first sync here was throttled at the limit (0.9 s of CPU in 2 s), and up to 5 s
//     of kernel time creating inodes on an ext4 disk that had just deleted as many files took 10 s.
//   - limit memory 256Mi: past it the kernel kills the synclet, and the sidecar restarts, converges
//     and may be killed again. A converge holds the manifest of the whole tree (paths and hashes:
//     tens of MiB for 100,000 files) plus the Go runtime's headroom, which 128Mi does not cover.
var (
	defaultRequests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}
	defaultLimits   = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("256Mi")}
)

// resourcesFor returns the injected containers' requests and limits: the defaults, each resource
// the rules name replaced by the rules' value. The API server refuses a request over its limit, so a
// request the rules raise above a default limit raises that limit with it, and a limit the rules
// lower below a default request lowers that request.
func resourcesFor(r *rules.Rules) corev1.ResourceRequirements {
	req, lim := defaultRequests.DeepCopy(), defaultLimits.DeepCopy()
	for name, q := range r.Synclet.Requests {
		req[corev1.ResourceName(name)] = q.DeepCopy()
	}
	for name, q := range r.Synclet.Limits {
		lim[corev1.ResourceName(name)] = q.DeepCopy()
	}
	for name, q := range req {
		l, ok := lim[name]
		if !ok || q.Cmp(l) <= 0 {
			continue
		}
		if _, given := r.Synclet.Limits[string(name)]; given {
			req[name] = l.DeepCopy() // only a default request can be over a given limit: rules refuse both given so
		} else {
			lim[name] = q.DeepCopy()
		}
	}
	return corev1.ResourceRequirements{Requests: req, Limits: lim}
}
