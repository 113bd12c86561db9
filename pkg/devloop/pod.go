package devloop

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// podWorker keeps one pod's sync roots equal to the local tree. It owns the pod's connection; after
// every (re)connect it asks the synclet what it holds and sends the difference, so a restarted pod, a
// dropped port-forward or a restarted CLI all converge and no edit is lost.
type podWorker struct {
	dep  *deployment
	pod  string
	wake chan struct{} // capacity 1: a pending wake-up is never lost, never doubled

	mu    sync.Mutex
	dirty []map[string]bool // per root: paths changed since the last update; "." = everything
	first time.Time         // earliest edit not yet sent, zero for a convergence
	quiet time.Duration

	space []space // per root, what the pod's volume has room for; owned by the run goroutine
}

func newPodWorker(dep *deployment, pod string) *podWorker {
	w := &podWorker{dep: dep, pod: pod, wake: make(chan struct{}, 1)}
	w.dirty = make([]map[string]bool, len(dep.local.roots))
	for i := range w.dirty {
		w.dirty[i] = map[string]bool{}
	}
	return w
}

// add queues a local change for this pod.
func (w *podWorker) add(c Change) {
	w.mu.Lock()
	for _, p := range c.Paths {
		w.dirty[c.Root][p] = true
	}
	if w.first.IsZero() || c.First.Before(w.first) {
		w.first, w.quiet = c.First, c.Quiet
	}
	w.mu.Unlock()
	w.poke()
}

func (w *podWorker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// take returns and clears what is queued: per root nil (nothing), or the paths (["."] for everything).
func (w *podWorker) take() ([][]string, time.Time, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([][]string, len(w.dirty))
	for i, d := range w.dirty {
		if d["."] {
			out[i] = []string{"."}
		} else {
			for p := range d {
				out[i] = append(out[i], p)
			}
		}
		w.dirty[i] = map[string]bool{}
	}
	first, quiet := w.first, w.quiet
	w.first, w.quiet = time.Time{}, 0
	return out, first, quiet
}

// hold keeps paths that could not be sent (no room in the pod) queued without waking the worker: the
// next edit sends them with its own, once there is room (a removed file or a larger volume).
func (w *podWorker) hold(paths [][]string) {
	w.mu.Lock()
	for i, ps := range paths {
		for _, p := range ps {
			w.dirty[i][p] = true
		}
	}
	w.mu.Unlock()
}

// requeue puts paths back after a failed send, keeping the original edit time.
func (w *podWorker) requeue(paths [][]string, first time.Time, quiet time.Duration) {
	for i, ps := range paths {
		w.add(Change{Root: i, Paths: ps, First: first, Quiet: quiet})
	}
}

func (w *podWorker) everything() {
	for i := range w.dirty {
		w.add(Change{Root: i, Paths: []string{"."}})
	}
}

const healthEvery = 10 * time.Second

// run connects, converges and sends updates until ctx ends (the pod went away or `up` stops).
func (w *podWorker) run(ctx context.Context) {
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		err := w.connected(ctx)
		if ctx.Err() != nil {
			return
		}
		w.dep.report.PodState(w.dep.name, w.pod, false, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < 2*time.Second {
			backoff *= 2
		}
	}
}

// connected runs one connection: port-forward, manifest, then updates until something breaks.
func (w *podWorker) connected(ctx context.Context) error {
	fwd, err := w.dep.api.PortForward(ctx, w.pod, w.dep.port)
	if err != nil {
		return err
	}
	defer fwd.Close()
	cl := syncletclient.New(fwd.Addr, w.dep.token)
	defer cl.Close()
	remote, err := w.fetch(ctx, cl)
	if err != nil {
		return err
	}
	select {
	case <-w.dep.scanned:
	case <-ctx.Done():
		return nil
	}
	w.dep.report.PodState(w.dep.name, w.pod, true, nil)
	w.everything()
	// an idle connection is checked now and then, so a silently dead port-forward is replaced (and the
	// pod re-converged) before the next edit has to wait for it
	idle := time.NewTicker(healthEvery)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-fwd.Done:
			if err == nil {
				err = errors.New("port-forward closed")
			}
			return err
		case <-idle.C:
			if err := cl.Health(ctx, 5*time.Second); err != nil {
				return err
			}
			continue
		case <-w.wake:
		}
		paths, first, quiet := w.take()
		if err := w.send(ctx, cl, remote, paths, first, quiet); err != nil {
			w.requeue(paths, first, quiet)
			return err
		}
	}
}

func (w *podWorker) fetch(ctx context.Context, cl *syncletclient.Client) ([]tree.Manifest, error) {
	m, err := cl.Manifest(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the pod's files: %w", err)
	}
	if len(m.Roots) != len(w.dep.local.roots) {
		return nil, fmt.Errorf("the synclet serves %d sync roots, the rules have %d: run `kubectl fastdev up` again to re-inject", len(m.Roots), len(w.dep.local.roots))
	}
	out := make([]tree.Manifest, len(m.Roots))
	w.space = make([]space, len(m.Roots))
	for _, r := range m.Roots {
		tm := make(tree.Manifest, len(r.Entries))
		sp := space{free: -1, limit: -1}
		for _, e := range r.Entries {
			tm[e.Path] = e
			sp.used += e.Size
		}
		if r.Free != nil {
			sp.free = *r.Free
		}
		if l := w.dep.local.rules.Sync[r.Root].SizeLimit; l != nil {
			sp.limit = l.Value()
		}
		out[r.Root] = tm
		w.space[r.Root] = sp
	}
	return out, nil
}

// space is what one sync root's volume in the pod has room for, in bytes (-1: not known).
type space struct {
	free  int64 // left on the file system, as the synclet last saw it
	limit int64 // the rules' sizeLimit for the volume
	used  int64 // bytes of the files the pod holds under the root
}

// room is how many more bytes the root can take, or -1 when nothing limits it that we know of.
func (s space) room() int64 {
	r := s.free
	if s.limit >= 0 && (r < 0 || s.limit-s.used < r) {
		r = s.limit - s.used
	}
	return r
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

// noRoom returns, when some root's update needs more room (need, per root) than its volume has left,
// the message that says so; nothing is sent then, so the pod never holds half of a tree.
func (w *podWorker) noRoom(need []int64) string {
	for i, n := range need {
		room := w.space[i].room()
		if room < 0 || n <= room {
			continue
		}
		s := w.dep.local.rules.Sync[i]
		fix := fmt.Sprintf("give the volume a larger sync[%d].sizeLimit in the rules and run `kubectl fastdev up` again", i)
		if s.SizeLimit == nil {
			fix = fmt.Sprintf("free space on the node, or set a larger sync[%d].sizeLimit for a memory-backed volume", i)
		}
		return fmt.Sprintf("%s needs %s more under %s but its volume has %s left; nothing was sent to this pod (no half-synced tree). Add large files to sync[%d].ignore, or %s",
			w.dep.local.roots[i].dir, humanBytes(n), s.To, humanBytes(room), i, fix)
	}
	return ""
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

// send compares the queued paths with what the pod holds and sends one update for the difference.
// remote is updated to what the pod holds afterwards.
func (w *podWorker) send(ctx context.Context, cl *syncletclient.Client, remote []tree.Manifest, paths [][]string, first time.Time, quiet time.Duration) error {
	r := w.dep.local.rules
	var puts []archive.Put
	var meta protocol.UpdateMeta
	changed := make([][]string, len(paths)) // per root, for triggers
	diffs := make([]tree.Diff, len(paths))
	for i, ps := range paths {
		if ps == nil {
			continue
		}
		only := ps
		if len(ps) == 1 && ps[0] == "." {
			only = nil
		}
		d := w.dep.local.compare(i, remote[i], only)
		diffs[i] = d
		for _, e := range d.Put {
			if e.Kind == tree.Symlink && !tree.LinkStaysInside(e.Path, e.Target) {
				w.dep.warnOnce(fmt.Sprintf("%s: symlink to %q is not synced: it points outside %s (or climbs through a name); make it relative and inside the tree",
					filepath.Join(w.dep.local.roots[i].dir, e.Path), e.Target, w.dep.local.roots[i].dir))
				continue
			}
			puts = append(puts, archive.Put{Root: i, Local: filepath.Join(w.dep.local.roots[i].dir, filepath.FromSlash(e.Path)), Entry: e})
			changed[i] = append(changed[i], e.Path)
		}
		for _, p := range d.Delete {
			meta.Deletes = append(meta.Deletes, protocol.EntryName(i, p))
			changed[i] = append(changed[i], p)
		}
	}
	if len(puts) == 0 && len(meta.Deletes) == 0 {
		return nil
	}
	need := make([]int64, len(diffs))
	for i, d := range diffs {
		need[i] = growth(d, remote[i])
	}
	if msg := w.noRoom(need); msg != "" {
		w.hold(paths)
		w.dep.report.Updated(Update{Deployment: w.dep.name, Pod: w.pod, Convergence: first.IsZero(), Err: msg})
		return nil
	}
	meta.Steps = triggeredSteps(r, changed)
	if r.Restart != rules.RestartNone {
		meta.Restart = string(r.Restart)
	}
	meta.ID = fmt.Sprintf("%d", time.Now().UnixNano())
	start := time.Now()
	var steps []StepOutput
	res, sent, err := cl.Update(ctx, meta, puts, func(e protocol.Event) {
		switch e.Type {
		case protocol.EventOutput:
			w.dep.report.StepLine(w.dep.name, w.pod, e.Step, e.Line)
		case protocol.EventStep:
			steps = append(steps, StepOutput{Cmd: e.Step, ExitCode: e.ExitCode, Duration: msDur(e.Millis)})
		}
	})
	if err != nil {
		return fmt.Errorf("sending update: %w", err)
	}
	u := Update{Deployment: w.dep.name, Pod: w.pod, Files: len(sent), Deletes: len(meta.Deletes), Steps: steps,
		Convergence: first.IsZero(), Queued: res.Queued, Err: res.Error, Quiet: quiet, Send: time.Since(start)}
	if res.Timings != nil {
		u.Write, u.StepsTime, u.Restart = msDur(res.Timings.Write), msDur(res.Timings.Steps), msDur(res.Timings.Restart)
	}
	if !first.IsZero() {
		u.Latency = time.Since(first)
	}
	if res.Error != "" {
		// files may be partly applied (a failed step leaves them all in place): ask the pod again
		fresh, err := w.fetch(ctx, cl)
		if err != nil {
			return err
		}
		copy(remote, fresh)
	} else {
		for i := range remote {
			w.space[i].used += need[i]
			if i < len(res.Free) {
				w.space[i].free = res.Free[i]
			}
			remote[i].Apply(tree.Diff{Delete: diffs[i].Delete})
		}
		for _, p := range sent {
			remote[p.Root][p.Entry.Path] = p.Entry
		}
	}
	w.dep.report.Updated(u)
	if len(sent) >= burstFiles {
		releaseSoon()
	}
	return nil
}

// burstFiles is the update size after which `up` hands the memory it used back to the system.
const burstFiles = 2000

var release = struct {
	sync.Mutex
	timer *time.Timer
}{}

// releaseSoon returns freed memory to the operating system shortly after a burst (a first sync of a
// large tree builds and drops tens of megabytes of manifests and tar buffers). Go's runtime would keep
// it mapped for minutes, so an idle `up` watching 100,000 files would stay at its peak resident size;
// bursts that follow each other (one per pod) are released once, a second after the last one.
func releaseSoon() {
	release.Lock()
	defer release.Unlock()
	if release.timer != nil {
		release.timer.Stop()
	}
	release.timer = time.AfterFunc(time.Second, debug.FreeOSMemory)
}

// triggeredSteps returns, in rules order, the steps whose trigger matches a changed path.
func triggeredSteps(r *rules.Rules, changed [][]string) []protocol.Step {
	var out []protocol.Step
	for _, st := range r.Run {
		hit := false
		for _, ps := range changed {
			for _, p := range ps {
				if st.Triggered(p) {
					hit = true
					break
				}
			}
		}
		if hit {
			out = append(out, protocol.Step{Argv: st.Argv, Display: st.Cmd})
		}
	}
	return out
}

func msDur(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
