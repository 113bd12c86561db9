package devloop

import (
	"fmt"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// podView is a pod worker's view of its pod: per sync root, the entries the pod holds and the room its
// volume has. Only the worker's connection goroutine uses it; it is read from the synclet on connect
// and brought up to date after each update, in one place (podWorker.settle).
type podView struct {
	roots []tree.Manifest
	space []space
}

// space is what one sync root's volume in the pod has room for, in bytes (-1: not known).
type space struct {
	free  int64 // left on the file system, as the synclet last saw it
	limit int64 // the rules' sizeLimit for the volume
	used  int64 // bytes of the files the pod holds under the root
}

// room is how many more bytes the root can take, or -1 when nothing limits it that we know of. A
// volume that holds more than its sizeLimit has no room (0), not an unknown one.
func (s space) room() int64 {
	r := s.free
	if s.limit >= 0 && (r < 0 || s.limit-s.used < r) {
		r = max(s.limit-s.used, 0)
	}
	return r
}

// newPodView reads a synclet's manifest against the rules' sync roots.
func newPodView(m *protocol.Manifest, r *rules.Rules) (*podView, error) {
	n := len(r.Sync)
	if len(m.Roots) != n {
		return nil, fmt.Errorf("the synclet serves %d sync roots, the rules have %d: run `kubectl fastdev up` again to re-inject", len(m.Roots), n)
	}
	v := &podView{roots: make([]tree.Manifest, n), space: make([]space, n)}
	for _, root := range m.Roots {
		if root.Root < 0 || root.Root >= n {
			return nil, fmt.Errorf("the synclet serves a sync root numbered %d, the rules have %d: run `kubectl fastdev up` again to re-inject", root.Root, n)
		}
		tm := make(tree.Manifest, len(root.Entries))
		sp := space{free: -1, limit: -1}
		for _, e := range root.Entries {
			tm[e.Path] = e
			sp.used += e.Size
		}
		if root.Free != nil {
			sp.free = *root.Free
		}
		if l := r.Sync[root.Root].SizeLimit; l != nil {
			sp.limit = l.Value()
		}
		v.roots[root.Root], v.space[root.Root] = tm, sp
	}
	return v, nil
}

// applied records that the pod applied p: its deletions, the entries as they were sent (a file edited
// since it was planned is sent as it is now), and each volume's free space as the synclet reports it
// after the update (free may be shorter than the roots, from an older synclet).
func (v *podView) applied(p *plan, sent []archive.Put, free []int64) {
	for i := range v.roots {
		v.space[i].used += p.growth[i]
		if i < len(free) {
			v.space[i].free = free[i]
		}
		v.roots[i].Apply(tree.Diff{Delete: p.deletes[i]})
	}
	for _, s := range sent {
		v.roots[s.Root][s.Entry.Path] = s.Entry
	}
}
