package state

import "testing"

// TestRecorderConverged: a convergence is written with the pod's record and kept when `up` stops, so
// `status` tells stale pods while no `up` runs.
func TestRecorderConverged(t *testing.T) {
	w := newRecordingWriter()
	r := newRecorder(w, "https://api", "dev", []string{"web"}, 42, func(string) {})
	r.every = 0
	r.PodState("web", "web-1", true, nil)
	r.Converged("web", "web-1")
	r.PodState("web", "web-2", true, nil)
	waitFor(t, "the convergence written", func() bool {
		p := w.record("web").Pods["web-1"]
		return p != nil && !p.Converged.IsZero()
	})
	r.Stop()
	rec := w.record("web")
	if rec.Pods["web-1"] == nil || rec.Pods["web-1"].Converged.IsZero() {
		t.Errorf("web-1's convergence lost at Stop: %+v", rec.Pods["web-1"])
	}
	if rec.Pods["web-2"] == nil || !rec.Pods["web-2"].Converged.IsZero() {
		t.Errorf("web-2 never converged: %+v", rec.Pods["web-2"])
	}
	r.Converged("web", "web-2") // after Stop: nothing changes
	if !w.record("web").Pods["web-2"].Converged.IsZero() {
		t.Error("a convergence after Stop was recorded")
	}
}
