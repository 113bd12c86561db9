package devloop

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// podWorker keeps one pod's sync roots equal to the local tree. It owns the pod's connection; after
// every (re)connect it asks the synclet what it holds and sends the difference, so a restarted pod, a
// dropped port-forward or a restarted CLI all converge and no edit is lost.
type podWorker struct {
	dep  *deployment
	pod  string
	dirs []string      // the local directory of each sync root
	wake chan struct{} // capacity 1: a pending wake-up is never lost, never doubled

	mu    sync.Mutex
	dirty []map[string]bool // per root: paths changed since the last update; "." = everything
	first time.Time         // earliest edit not yet sent, zero for a convergence
	quiet time.Duration

	retry retrier // a failed update's paths are sent again after a backoff
	down  downloadState
}

// batch is what a worker takes from its queue for one update.
type batch struct {
	paths [][]string // per root: nil (nothing), or the paths (["."] for everything)
	first time.Time  // when the earliest edit was seen; zero for a convergence
	quiet time.Duration
}

func newPodWorker(dep *deployment, pod string) *podWorker {
	w := &podWorker{dep: dep, pod: pod, wake: make(chan struct{}, 1)}
	w.dirty = make([]map[string]bool, len(dep.local.roots))
	for i, r := range dep.local.roots {
		w.dirty[i] = map[string]bool{}
		w.dirs = append(w.dirs, r.dir)
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

// take returns and clears what is queued.
func (w *podWorker) take() batch {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := batch{paths: make([][]string, len(w.dirty)), first: w.first, quiet: w.quiet}
	for i, d := range w.dirty {
		if d["."] {
			b.paths[i] = []string{"."}
		} else {
			for p := range d {
				b.paths[i] = append(b.paths[i], p)
			}
		}
		w.dirty[i] = map[string]bool{}
	}
	w.first, w.quiet = time.Time{}, 0
	return b
}

// hold keeps a batch's paths that could not be sent (no room in the pod) or failed queued without
// waking the worker: the next edit sends them with its own (a retry's timer wakes it too), keeping the
// earliest edit time.
func (w *podWorker) hold(b batch) {
	w.mu.Lock()
	for i, ps := range b.paths {
		for _, p := range ps {
			w.dirty[i][p] = true
		}
	}
	if !b.first.IsZero() && (w.first.IsZero() || b.first.Before(w.first)) {
		w.first, w.quiet = b.first, b.quiet
	}
	w.mu.Unlock()
}

// requeue puts a batch back after a failed send, keeping the original edit time.
func (w *podWorker) requeue(b batch) {
	for i, ps := range b.paths {
		w.add(Change{Root: i, Paths: ps, First: b.first, Quiet: b.quiet})
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
	defer w.retry.stop()
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		err := w.serveConnection(ctx)
		if ctx.Err() != nil {
			return
		}
		if perm := permanent(err); perm != nil {
			// the worker stays registered, so the pod is not tried again until `up` restarts
			w.dep.report.PodState(w.dep.name, w.pod, false, perm)
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

// serveConnection runs one connection to the pod's synclet, from opening the port-forward until
// something breaks (the error says what) or ctx ends (nil).
func (w *podWorker) serveConnection(ctx context.Context) error {
	fwd, err := w.dep.api.PortForward(ctx, w.pod, w.dep.port)
	if err != nil {
		return err
	}
	defer fwd.Close()
	cl := syncletclient.New(fwd.Addr, w.dep.key)
	defer cl.Close()
	return w.serve(ctx, cl, fwd.Done)
}

// serve reads what the pod holds, converges it once the local tree is scanned, then sends one update
// per wake-up until ctx ends, the port-forward closes (closed) or the synclet stops answering.
func (w *podWorker) serve(ctx context.Context, upd updater, closed <-chan error) error {
	view, err := w.fetch(ctx, upd)
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
	poll, stopPoll, err := w.downloadPoll(ctx, upd)
	if err != nil {
		return err
	}
	defer stopPoll()
	// an idle connection is checked now and then, so a silently dead port-forward is replaced (and the
	// pod re-converged) before the next edit has to wait for it
	idle := time.NewTicker(healthEvery)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-closed:
			if err == nil {
				err = errors.New("port-forward closed")
			}
			return err
		case <-idle.C:
			if err := upd.Health(ctx, 5*time.Second); err != nil {
				return err
			}
			continue
		case <-poll:
			if err := w.pollDownloads(ctx, upd, view); err != nil {
				return err
			}
			continue
		case <-w.wake:
		}
		if w.dep.hold != nil {
			if err := w.dep.hold(ctx, w.dep.name); err != nil {
				return nil // ctx ended while held
			}
		}
		b := w.take()
		if err := w.send(ctx, upd, view, b); err != nil {
			w.requeue(b)
			return err
		}
	}
}

// fetch asks the synclet what the pod holds.
func (w *podWorker) fetch(ctx context.Context, upd updater) (*podView, error) {
	m, err := upd.Manifest(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the pod's files: %w", err)
	}
	return newPodView(m, w.dep.local.rules)
}

// plan compares a batch's paths with what the pod holds and plans the update.
func (w *podWorker) plan(view *podView, paths [][]string) (*plan, error) {
	diffs := make([]tree.Diff, len(paths))
	for i, ps := range paths {
		if ps == nil {
			continue
		}
		only := ps
		if len(ps) == 1 && ps[0] == "." {
			only = nil
		}
		diffs[i] = w.dep.local.compare(i, view.roots[i], only)
	}
	return planUpdate(w.dep.local.rules, w.dirs, diffs, view)
}

// send plans a batch for the pod and sends it as one update. A transport error is returned (the caller
// reconnects and re-converges); an update the pod has no room for is reported and its paths held.
func (w *podWorker) send(ctx context.Context, upd updater, view *podView, b batch) error {
	p, err := w.plan(view, b.paths)
	var noRoom *noRoomError
	if errors.As(err, &noRoom) {
		w.hold(b)
		w.dep.report.Updated(Update{Deployment: w.dep.name, Pod: w.pod, Convergence: b.first.IsZero(), Err: noRoom.Error()})
		return nil
	}
	if err != nil {
		return err
	}
	w.owedSteps(p)
	if p.empty() && len(p.meta.Steps) == 0 && len(p.meta.Apps) == 0 {
		w.converged(b)
		return nil
	}
	start := time.Now()
	var steps []StepOutput
	res, files, err := w.sendParts(ctx, upd, view, split(p, partCaps, view.roots), func(e protocol.Event) {
		switch e.Type {
		case protocol.EventOutput:
			w.dep.report.StepLine(w.dep.name, w.pod, e.Step, e.Line)
		case protocol.EventStep:
			steps = append(steps, StepOutput{Cmd: e.Step, ExitCode: e.ExitCode, Duration: msDur(e.Millis)})
		}
	})
	if err != nil {
		return err
	}
	u := w.outcome(b, p, res, files, steps, time.Since(start))
	if res.Error == "" {
		w.retry.succeeded()
		w.converged(b)
	} else {
		u.Err = w.retryFailed(view, b, p, len(steps) > 0, res.Error)
	}
	w.dep.report.Updated(u)
	w.dep.local.release.burst(files)
	if res.Error == "" && len(steps) > 0 {
		return w.download(ctx, upd, view, "a step")
	}
	return nil
}

// sendParts sends the parts of one update in order, each as a request, bringing view up to date after
// each; a part the pod answers as failed ends it there. It returns the results merged (the last one
// answered, with the write times of all) and how many entries were sent.
func (w *podWorker) sendParts(ctx context.Context, upd updater, view *podView, parts []*plan, onEvent func(protocol.Event)) (*protocol.Event, int, error) {
	var res *protocol.Event
	files := 0
	for _, part := range parts {
		part.meta.ID = strconv.FormatInt(time.Now().UnixNano(), 10)
		r, sent, err := upd.Update(w.withProgress(ctx, part.puts), part.meta, part.puts, onEvent)
		if err != nil {
			return nil, files, fmt.Errorf("sending update: %w", err)
		}
		files += len(sent)
		res = mergeResults(res, r)
		if err := w.settle(ctx, upd, view, part, r, sent); err != nil {
			return nil, files, err
		}
		if r.Error != "" {
			break
		}
	}
	return res, files, nil
}

// converged tells a ConvergeReporter that b, a comparison of every root as a whole, left the pod
// equal to the local tree.
func (w *podWorker) converged(b batch) {
	for _, ps := range b.paths {
		if len(ps) != 1 || ps[0] != "." {
			return
		}
	}
	if c, ok := w.dep.report.(ConvergeReporter); ok {
		c.Converged(w.dep.name, w.pod)
	}
}

// settle brings view up to date after the pod answered an update; it is the one place the view changes
// after a send. A failed update may be partly applied (a failed step leaves all its files in place), so
// the pod is asked again; a successful one is recorded as sent.
func (w *podWorker) settle(ctx context.Context, upd updater, view *podView, p *plan, res *protocol.Event, sent []archive.Put) error {
	if res.Error == "" {
		view.applied(p, sent, res.Free)
		return nil
	}
	fresh, err := w.fetch(ctx, upd)
	if err != nil {
		return err
	}
	*view = *fresh
	return nil
}

// outcome is the report of an update the pod answered, sent in send.
func (w *podWorker) outcome(b batch, p *plan, res *protocol.Event, files int, steps []StepOutput, send time.Duration) Update {
	u := Update{Deployment: w.dep.name, Pod: w.pod, Files: files, Deletes: len(p.meta.Deletes), Steps: steps,
		Convergence: b.first.IsZero(), Queued: res.Queued, Err: res.Error, Quiet: b.quiet, Send: send}
	if res.Timings != nil {
		u.Write, u.StepsTime, u.Restart = msDur(res.Timings.Write), msDur(res.Timings.Steps), msDur(res.Timings.Restart)
	}
	if !b.first.IsZero() {
		u.Latency = time.Since(b.first)
	}
	return u
}

func msDur(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
