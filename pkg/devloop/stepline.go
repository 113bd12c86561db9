package devloop

import (
	"fmt"
	"time"
)

// stepLineEvery is how often the plain lines say that an update's steps still run: a long step
// (npm install, a cold build) would otherwise print its output but never how long it has taken.
const stepLineEvery = 30 * time.Second

// runningSteps are the steps of one pod's update under way, as the plain lines saw them: since when
// (the first output line of a step of this update) and which step printed last.
type runningSteps struct {
	start time.Time
	last  string
	timer *time.Timer
}

// stepSeen notes a step's output line for pod key, starting the "running for" lines with the first
// one of an update; r.mu is held.
func (r *LineReporter) stepSeen(key, step string) {
	if s := r.steps[key]; s != nil {
		s.last = step
		return
	}
	if r.steps == nil {
		r.steps = map[string]*runningSteps{}
	}
	s := &runningSteps{start: time.Now(), last: step}
	r.steps[key] = s
	s.timer = time.AfterFunc(r.stepEvery(), func() { r.stillRunning(key, s) })
}

// stillRunning says that pod key's steps still run, and again after the period, until stepsOver.
func (r *LineReporter) stillRunning(key string, s *runningSteps) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.steps[key] != s {
		return // the update ended meanwhile
	}
	fmt.Fprintf(r.ErrOut, "%s: steps running for %s (last output from %q)\n", key, time.Since(s.start).Round(time.Second), s.last)
	s.timer = time.AfterFunc(r.stepEvery(), func() { r.stillRunning(key, s) })
}

// stepsOver ends the "running for" lines of pod key: its update ended or the pod went; r.mu is held.
func (r *LineReporter) stepsOver(key string) {
	if s := r.steps[key]; s != nil {
		s.timer.Stop()
		delete(r.steps, key)
	}
}

func (r *LineReporter) stepEvery() time.Duration {
	if r.StepEvery > 0 {
		return r.StepEvery
	}
	return stepLineEvery
}
