package guard

import (
	"fmt"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// Give-up rule: the third revert within a minute is not answered. A tool that reverts at once on
// every change (Argo CD with self-heal, a loop) would otherwise be fought forever, each round a rollout.
const (
	MaxReverts   = 3
	RevertWindow = time.Minute // the messages say "within a minute"
)

// Decision is what `up` does about one observed state of a Deployment: the lines to show (each a
// warning) and whether to re-inject it.
type Decision struct {
	Warnings []string
	Reinject bool
	// Verify names the field manager (as Who does) that wrote a new generation of a template that
	// looks intact here: it may have changed fields this client's types do not know, which the typed
	// state lacks. `up` then plans a re-injection on the server's JSON, which records such a change as
	// the original (no rollout) or finds nothing to do.
	Verify string
}

// Guard follows one Deployment for `up`. It is not safe for concurrent use: feed it one state at a
// time, in order (an informer's handler does).
type Guard struct {
	name string // as up prints it (workload.Ref.String)
	ref  workload.Ref
	in   Injection
	self string // kubectl-fastdev's field manager

	handled int64       // the generation last acted on: later states of it (status updates) are not news
	reverts []time.Time // reverts answered or refused, within RevertWindow
	stopped string      // why the guard no longer re-injects ("" while it does)
	stuck   map[string]bool
}

// New returns the guard of the workload ref, injected as in; self is kubectl-fastdev's field manager.
func New(ref workload.Ref, in Injection, self string) *Guard {
	return &Guard{name: ref.String(), ref: ref, in: in, self: self, stuck: map[string]bool{}}
}

// Observe decides what to do about d as seen at now (gone: d was deleted).
func (g *Guard) Observe(wl workload.Workload, gone bool, now time.Time) Decision {
	if gone {
		g.handled = 0 // a workload created again under the name starts its generations anew
		return Decision{Warnings: []string{fmt.Sprintf("%s: the %s was deleted: nothing to sync to until it is created again (up then re-injects it)", g.name, wl.Ref().Kind)}}
	}
	dec := Decision{Warnings: g.stuckRollout(wl)}
	if g.stopped != "" || wl.Meta().Generation == g.handled {
		return dec
	}
	kind, err := Check(wl, g.in)
	w := LastWriter(wl.Meta().ManagedFields, g.self)
	if kind == Intact {
		if w.Manager != "" && w.Manager != g.self {
			g.handled = wl.Meta().Generation
			dec.Verify = Who(w)
		}
		return dec
	}
	g.handled = wl.Meta().Generation
	switch {
	case w.Manager == g.self && kind != Edited:
		g.stopped = "another kubectl fastdev command"
		dec.Warnings = append(dec.Warnings, fmt.Sprintf("%s: another kubectl fastdev command (`down`, or `up` elsewhere) changed the injection: "+
			"this up leaves it alone; run `kubectl fastdev up %s` to develop it here again", g.name, g.name))
	case err != nil:
		g.stopped = "cannot inject"
		dec.Warnings = append(dec.Warnings, fmt.Sprintf("%s: %s changed the pod template: %v; not re-injecting", g.name, Who(w), err))
	case kind == Edited:
		dec.Reinject = true
		dec.Warnings = append(dec.Warnings, fmt.Sprintf("%s: %s changed the pod template around the injection, which still works: "+
			"recording the new template as the one `kubectl fastdev down` restores", g.name, Who(w)))
	default:
		dec.Warnings = append(dec.Warnings, g.reverted(kind, w, now, &dec))
	}
	return dec
}

// reverted counts a revert and says what follows: a re-injection, or the end of the fight.
func (g *Guard) reverted(kind Kind, w Writer, now time.Time, dec *Decision) string {
	recent := g.reverts[:0]
	for _, t := range g.reverts {
		if now.Sub(t) < RevertWindow {
			recent = append(recent, t)
		}
	}
	g.reverts = append(recent, now)
	what := "removed the injection"
	if kind == Changed {
		what = "changed the pod template and broke the injection"
	}
	if len(g.reverts) >= MaxReverts {
		g.stopped = "reverted"
		return fmt.Sprintf("%s: %s %s, %d times within a minute: up stops re-injecting %s (other workloads are still served); %s; then run `kubectl fastdev up %s` again",
			g.name, Who(w), what, len(g.reverts), g.name, Hint(w.Manager, g.ref), g.name)
	}
	dec.Reinject = true
	return fmt.Sprintf("%s: %s %s: re-injecting; %s", g.name, Who(w), what, Hint(w.Manager, g.ref))
}

// Stopped says why the guard no longer re-injects ("" while it does).
func (g *Guard) Stopped() string { return g.stopped }

// stuckRollout returns a line for each condition that says the rollout cannot progress (a ReplicaSet
// that cannot create pods: quota, admission; the progress deadline passed), once while it holds.
func (g *Guard) stuckRollout(w workload.Workload) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range workload.Stuck(w) {
		key := c.Type + "/" + c.Reason
		seen[key] = true
		if g.stuck[key] {
			continue
		}
		g.stuck[key] = true
		out = append(out, fmt.Sprintf("%s: rollout stuck (%s, %s): %s", g.name, c.Type, c.Reason, c.Message))
	}
	for key := range g.stuck {
		if !seen[key] {
			delete(g.stuck, key) // recovered: a later failure is news again
		}
	}
	return out
}
