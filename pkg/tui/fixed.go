package tui

import (
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
)

// updated takes in an update a pod answered at now. A good one fixes the newest error for that pod:
// once every pod it named took one, it leaves the view, as it leaves the web view's console
// (pkg/events).
func (m *model) updated(u devloop.Update, now time.Time) {
	r := m.row(u.Deployment, u.Pod)
	r.connected, r.lastSync = true, now
	r.work = work{} // the update's steps and transfer are over
	if u.Latency > 0 {
		r.latency = u.Latency
	}
	r.lastErr = u.Err
	if u.Err != "" {
		return
	}
	r.okAt = now
	r.down = nil // an update starts an app that is down
	delete(m.open, u.Pod)
	if m.newest != nil && len(m.open) == 0 {
		m.newest, m.fixed = nil, true
	}
}

// fixedAlready reports whether every pod an item names took a good update after it happened (the
// item was read from the log late). An item without a time is not.
func (m *model) fixedAlready(it logs.Item, pods []string) bool {
	for _, p := range pods {
		fixed := false
		for _, r := range m.rows {
			if r.pod == p && !it.Time.IsZero() && it.Time.Before(r.okAt) {
				fixed = true
			}
		}
		if !fixed {
			return false
		}
	}
	return true
}
