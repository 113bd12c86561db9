package devloop

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// plan is one update for one pod, worked out from a batch's diffs without any I/O: the entries to put,
// the deletions, steps and restart the synclet acts on, and how much each sync root grows.
type plan struct {
	puts    []archive.Put
	meta    protocol.UpdateMeta // its ID is set when it is sent
	deletes [][]string          // per root, the paths meta.Deletes names
	growth  []int64             // per root, in bytes (negative when the update frees space)
}

// empty reports an update that would change nothing in the pod: it is not sent.
func (p *plan) empty() bool { return len(p.puts) == 0 && len(p.meta.Deletes) == 0 }

// planUpdate turns a batch's diffs (per sync root; a zero Diff for a root the batch does not touch) into
// one update for a pod that holds what view says. dirs are the roots' local directories. When some
// root's volume has no room for what the update adds, it returns a *noRoomError and no plan: nothing
// is sent then, so the pod never holds half of a tree.
//
// Paths matching the root's keep patterns are the pod's: they are neither put nor deleted, whatever the
// diff says (the local comparison already leaves them out; this holds for any diff).
func planUpdate(r *rules.Rules, dirs []string, diffs []tree.Diff, view *podView) (*plan, error) {
	p := &plan{deletes: make([][]string, len(diffs)), growth: make([]int64, len(diffs))}
	diffs = slices.Clone(diffs) // the caller's stay as they are
	for i := range diffs {
		diffs[i] = withoutKept(diffs[i], r.Sync[i].Keep)
		d := diffs[i]
		for _, e := range d.Put {
			have, held := view.roots[i][e.Path]
			e.Mode = tree.SendMode(e, have, held) // a mode the local system does not know: the pod's
			p.puts = append(p.puts, archive.Put{Root: i, Local: filepath.Join(dirs[i], filepath.FromSlash(e.Path)), Entry: e})
		}
		for _, q := range d.Delete {
			p.meta.Deletes = append(p.meta.Deletes, protocol.EntryName(i, q))
		}
		p.deletes[i] = d.Delete
	}
	if p.empty() {
		return p, nil
	}
	for i, d := range diffs {
		p.growth[i] = growth(d, view.roots[i])
		if room := view.space[i].room(); room >= 0 && p.growth[i] > room {
			s := r.Sync[i]
			return nil, &noRoomError{root: i, key: r.SyncKey(i), dir: dirs[i], to: s.To, need: p.growth[i], room: room, limited: s.SizeLimit != nil}
		}
	}
	setRuns(r, diffs, &p.meta)
	return p, nil
}

// setRuns sets in meta the steps and restart of each app container whose sync roots the diffs touch
// (the first container's in meta's own fields, the others' in meta.Apps): an edit for one container
// runs only its steps and restarts only it. With one app container, every root is its own.
func setRuns(r *rules.Rules, diffs []tree.Diff, meta *protocol.UpdateMeta) {
	for k, a := range r.Apps() {
		own := make([]tree.Diff, len(diffs))
		touched := false
		for _, i := range r.Roots(k) {
			if i < len(diffs) {
				own[i] = diffs[i]
				touched = touched || len(diffs[i].Put)+len(diffs[i].Delete) > 0
			}
		}
		if !touched {
			continue
		}
		run := protocol.AppRun{Container: a.Container, Steps: triggeredSteps(a.Run, own)}
		if a.Restart != protocol.RestartNone {
			run.Restart = a.Restart
		}
		if k == 0 {
			meta.Steps, meta.Restart = run.Steps, run.Restart
			continue
		}
		meta.Apps = append(meta.Apps, run)
	}
}

// withoutKept returns d without the paths keep matches (d itself when none does).
func withoutKept(d tree.Diff, keep []string) tree.Diff {
	if len(keep) == 0 {
		return d
	}
	out := tree.Diff{Put: make([]tree.Entry, 0, len(d.Put)), Delete: make([]string, 0, len(d.Delete))}
	for _, e := range d.Put {
		if !rules.MatchAny(keep, e.Path) {
			out.Put = append(out.Put, e)
		}
	}
	for _, q := range d.Delete {
		if !rules.MatchAny(keep, q) {
			out.Delete = append(out.Delete, q)
		}
	}
	return out
}

// growth is how many bytes a diff adds to what the pod holds under a root: what it puts minus what it
// replaces or deletes (a deleted directory frees what is below it).
func growth(d tree.Diff, remote tree.Manifest) int64 {
	var n int64
	for _, e := range d.Put {
		n += e.Size
		n -= remote[e.Path].Size
	}
	for _, p := range d.Delete {
		r, ok := remote[p]
		if !ok {
			continue
		}
		n -= r.Size
		if r.Kind == tree.Dir {
			prefix := p + "/"
			for q, e := range remote {
				if strings.HasPrefix(q, prefix) {
					n -= e.Size
				}
			}
		}
	}
	return n
}

// triggeredSteps returns, in rules order, the steps whose trigger matches a path the diffs put or
// delete, under any root.
func triggeredSteps(run []rules.Step, diffs []tree.Diff) []protocol.Step {
	var out []protocol.Step
	for _, st := range run {
		if triggeredBy(st, diffs) {
			out = append(out, protocol.Step{Argv: st.Argv, Display: st.Cmd, TimeoutMs: st.Timeout.Milliseconds()})
		}
	}
	return out
}

func triggeredBy(st rules.Step, diffs []tree.Diff) bool {
	for _, d := range diffs {
		for _, e := range d.Put {
			if st.Triggered(e.Path) {
				return true
			}
		}
		for _, p := range d.Delete {
			if st.Triggered(p) {
				return true
			}
		}
	}
	return false
}

// noRoomError is an update that one sync root's volume has no room for.
type noRoomError struct {
	root       int
	key        string // the root's sync entry as the rules name it: sync[0], containers[1].sync[0]
	dir, to    string // the root's local directory and its path in the pod
	need, room int64  // bytes the update adds, bytes the volume has left
	limited    bool   // the rules set a sizeLimit for the volume
}

func (e *noRoomError) Error() string {
	fix := fmt.Sprintf("give the volume a larger %s.sizeLimit in the rules and run `kubectl fastdev up` again", e.key)
	if !e.limited {
		fix = fmt.Sprintf("free space on the node, or set a larger %s.sizeLimit for a memory-backed volume", e.key)
	}
	return fmt.Sprintf("%s needs %s more under %s but its volume has %s left; nothing was sent to this pod (no half-synced tree). Add large files to %s.ignore, or %s",
		e.dir, humanBytes(e.need), e.to, humanBytes(e.room), e.key, fix)
}

// humanBytes renders a byte count for messages, as 12.3 MiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// appRun returns the steps and restart meta carries for app container k (named name).
func appRun(meta protocol.UpdateMeta, k int, name string) protocol.AppRun {
	if k == 0 {
		return protocol.AppRun{Steps: meta.Steps, Restart: meta.Restart}
	}
	for _, a := range meta.Apps {
		if a.Container == name {
			return a
		}
	}
	return protocol.AppRun{Container: name}
}

// setAppRun sets the steps and restart of app container k in meta.
func setAppRun(meta *protocol.UpdateMeta, k int, run protocol.AppRun) {
	if k == 0 {
		meta.Steps, meta.Restart = run.Steps, run.Restart
		return
	}
	for i := range meta.Apps {
		if meta.Apps[i].Container == run.Container {
			meta.Apps[i] = run
			return
		}
	}
	meta.Apps = append(meta.Apps, run)
}
