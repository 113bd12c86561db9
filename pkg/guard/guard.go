package guard

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
}

// Guard follows one Deployment for `up`. It is not safe for concurrent use: feed it one state at a
// time, in order (an informer's handler does).
type Guard struct {
	name string
	in   Injection
	self string // kubectl-fastdev's field manager

	handled int64       // the generation last acted on: later states of it (status updates) are not news
	reverts []time.Time // reverts answered or refused, within RevertWindow
	stopped string      // why the guard no longer re-injects ("" while it does)
	stuck   map[string]bool
}

// New returns the guard of deployment name, injected as in; self is kubectl-fastdev's field manager.
func New(name string, in Injection, self string) *Guard {
	return &Guard{name: name, in: in, self: self, stuck: map[string]bool{}}
}

// Observe decides what to do about d as seen at now (gone: d was deleted).
func (g *Guard) Observe(d *appsv1.Deployment, gone bool, now time.Time) Decision {
	if gone {
		g.handled = 0 // a Deployment created again under the name starts its generations anew
		return Decision{Warnings: []string{fmt.Sprintf("%s: the Deployment was deleted: nothing to sync to until it is created again (up then re-injects it)", g.name)}}
	}
	dec := Decision{Warnings: g.stuckRollout(d)}
	if g.stopped != "" || d.Generation == g.handled {
		return dec
	}
	kind, err := Check(d, g.in)
	if kind == Intact {
		return dec
	}
	g.handled = d.Generation
	w := LastWriter(d.ManagedFields, g.self)
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
		return fmt.Sprintf("%s: %s %s, %d times within a minute: up stops re-injecting %s (other Deployments are still served); %s; then run `kubectl fastdev up %s` again",
			g.name, Who(w), what, len(g.reverts), g.name, Hint(w.Manager, g.name), g.name)
	}
	dec.Reinject = true
	return fmt.Sprintf("%s: %s %s: re-injecting; %s", g.name, Who(w), what, Hint(w.Manager, g.name))
}

// Stopped says why the guard no longer re-injects ("" while it does).
func (g *Guard) Stopped() string { return g.stopped }

// stuckRollout returns a line for each condition that says the rollout cannot progress (a ReplicaSet
// that cannot create pods: quota, admission; the progress deadline passed), once while it holds.
func (g *Guard) stuckRollout(d *appsv1.Deployment) []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range d.Status.Conditions {
		failed := (c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue) ||
			(c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded")
		if !failed {
			continue
		}
		key := string(c.Type) + "/" + c.Reason
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
