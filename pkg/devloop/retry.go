package devloop

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
)

// Retry delays of an update the pod answered as failed (a write error, a full disk): the first retry
// after retryFirst, doubling up to retryMax, back to retryFirst after an update that succeeds. A write
// that fails the same way every time (a path the synclet may not write) is then tried every 10 s
// without flooding the pod or the terminal.
const (
	retryFirst = 500 * time.Millisecond
	retryMax   = 10 * time.Second
)

// retrier schedules a pod worker's retries: the paths of a failed update stay queued and the worker is
// woken after the backoff (an edit meanwhile sends them at once, with its own). It also carries the
// steps of a failed update that never reached them, so the retry runs them even when it sends fewer files.
type retrier struct {
	mu    sync.Mutex
	delay time.Duration // the next retry's delay; 0 means retryFirst
	timer *time.Timer
	steps map[int][]protocol.Step // steps owed to the pod per app container (rules.Apps order): triggered by an update that failed before running them
}

// next returns the delay of the next retry and doubles the one after it.
func (r *retrier) next() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.delay
	if d == 0 {
		d = retryFirst
	}
	r.delay = min(2*d, retryMax)
	return d
}

// schedule calls wake after d, replacing a retry already scheduled.
func (r *retrier) schedule(d time.Duration, wake func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
	}
	r.timer = time.AfterFunc(d, wake)
}

// succeeded resets the backoff and forgets the owed steps: an update that succeeded ran them.
func (r *retrier) succeeded() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delay, r.steps = 0, nil
}

// owe records steps of app container app (whose rules steps are run) a failed update did not run.
func (r *retrier) owe(app int, run []rules.Step, steps []protocol.Step) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.steps == nil {
		r.steps = map[int][]protocol.Step{}
	}
	r.steps[app] = mergeSteps(run, r.steps[app], steps)
}

// owed returns the steps owed to app container app merged with steps, in rules order.
func (r *retrier) owed(app int, run []rules.Step, steps []protocol.Step) []protocol.Step {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.steps[app]) == 0 {
		return steps
	}
	return mergeSteps(run, r.steps[app], steps)
}

// stop cancels a scheduled retry (the worker ends).
func (r *retrier) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
	}
}

// mergeSteps returns the steps of a and b, each once, in the order the rules list them.
func mergeSteps(run []rules.Step, a, b []protocol.Step) []protocol.Step {
	in := map[string]bool{}
	for _, s := range append(append([]protocol.Step(nil), a...), b...) {
		in[s.Display] = true
	}
	var out []protocol.Step
	for _, st := range run {
		if in[st.Cmd] {
			out = append(out, protocol.Step{Argv: st.Argv, Display: st.Cmd, TimeoutMs: st.Timeout.Milliseconds()})
		}
	}
	return out
}

// permanentError is a pod whose synclet refuses this `up` for a reason a retry cannot change: the pod
// worker says what to fix and stops retrying that pod.
type permanentError struct {
	err error
	fix string
}

func (e *permanentError) Error() string {
	// a synclet's reply ends with a newline (http.Error's)
	return fmt.Sprintf("%s; not retrying this pod: %s", strings.TrimSpace(e.err.Error()), e.fix)
}

func (e *permanentError) Unwrap() error { return e.err }

// permanent returns err as a *permanentError when retrying cannot help: the synclet refuses this
// machine's key (401: the pod was injected by an `up` elsewhere, without it) or the protocol version (409), or the
// API server forbids the port-forward (403). Otherwise it returns nil.
func permanent(err error) *permanentError {
	var se *syncletclient.StatusError
	switch {
	case errors.As(err, &se) && se.Code == http.StatusUnauthorized:
		return &permanentError{err, "the pod does not accept this machine's key (an `up` elsewhere injected it, or an older kubectl-fastdev did); run `kubectl fastdev up` again, with --take-over if another `up` still holds the Deployment, to add the key"}
	case errors.As(err, &se) && se.Code == http.StatusConflict:
		return &permanentError{err, "the pod's synclet speaks another protocol version: run `kubectl fastdev up` again with this kubectl-fastdev to re-inject, or use the kubectl-fastdev that injected it"}
	case errors.As(err, &se) && se.Code == http.StatusForbidden, kube.IsForbidden(err):
		return &permanentError{err, "grant the permission named above (manifests/rbac.yaml lists everything kubectl-fastdev needs) and run `kubectl fastdev up` again"}
	}
	return nil
}

// owedSteps adds to p the steps a failed update owes the pod (then p restarts as the rules say, even
// when it carries no file).
func (w *podWorker) owedSteps(p *plan) {
	for k, a := range w.dep.local.rules.Apps() {
		have := appRun(p.meta, k, a.Container)
		steps := w.retry.owed(k, a.Run, have.Steps)
		if len(steps) == len(have.Steps) {
			continue // nothing owed, or only what p runs anyway
		}
		have.Steps, have.Restart = steps, ""
		if a.Restart != protocol.RestartNone {
			have.Restart = a.Restart
		}
		setAppRun(&p.meta, k, have)
	}
}

// retryFailed handles an update the pod answered as failed, once view holds what the pod reports it
// has. An update that failed before its steps ran owes them to the pod. While the pod lacks part of the
// batch, or is owed steps, the batch stays queued and the worker is woken after the backoff. A failed
// step leaves every file in place, so nothing is left to retry (the next edit runs it again). It returns
// the message to report: the pod's error and what happens next.
func (w *podWorker) retryFailed(view *podView, b batch, p *plan, stepsRan bool, msg string) string {
	apps := w.dep.local.rules.Apps()
	if !stepsRan {
		for k, a := range apps {
			w.retry.owe(k, a.Run, appRun(p.meta, k, a.Container).Steps)
		}
	}
	left, err := w.plan(view, b.paths)
	if err != nil {
		w.hold(b) // no room: like any update without room, it waits for the next edit
		return msg + "; " + err.Error()
	}
	owed := 0
	for k, a := range apps {
		owed += len(w.retry.owed(k, a.Run, nil))
	}
	if left.empty() && owed == 0 {
		return msg
	}
	w.hold(b)
	d := w.retry.next()
	w.retry.schedule(d, w.poke)
	return fmt.Sprintf("%s; retrying in %s (%d file(s) and %d deletion(s) not applied yet, %d step(s) not run)",
		msg, round(d), len(left.puts), len(left.meta.Deletes), owed)
}
