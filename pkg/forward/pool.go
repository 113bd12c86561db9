package forward

import (
	"context"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// Ready reports whether a pod may take new connections: running, not being deleted, and Ready
// (its containers started and their readiness probes passing), as a Service would route to it.
func Ready(pod *corev1.Pod) bool {
	if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// pool is the ready pods of one Deployment. Connections are spread over them in turn (round robin
// over the pods sorted by name), as a Service spreads them; a connection that arrives while none is
// ready waits for one.
type pool struct {
	mu    sync.Mutex
	ready map[string]bool
	next  int
	wake  chan struct{} // closed (and replaced) when a pod becomes ready
}

func newPool() *pool {
	return &pool{ready: map[string]bool{}, wake: make(chan struct{})}
}

// set records whether a pod is ready; a deleted pod is set not ready.
func (p *pool) set(pod string, ready bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !ready {
		delete(p.ready, pod)
		return
	}
	if !p.ready[pod] {
		p.ready[pod] = true
		close(p.wake)
		p.wake = make(chan struct{})
	}
}

// sortedLocked returns the ready pods, sorted; p.mu is held.
func (p *pool) sortedLocked() []string {
	out := make([]string, 0, len(p.ready))
	for name := range p.ready {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// pick returns the next ready pod in turn, waiting for one until ctx ends.
func (p *pool) pick(ctx context.Context) (string, error) {
	for {
		p.mu.Lock()
		names := p.sortedLocked()
		if len(names) > 0 {
			name := names[p.next%len(names)]
			p.next++
			p.mu.Unlock()
			return name, nil
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}
