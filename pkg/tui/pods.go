package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
)

// convergedMsg: a comparison of the pod's whole tree left it equal to the local tree.
type convergedMsg struct{ dep, pod string }

// appDown is an app process that exited on its own in a container the supervisor keeps: it starts
// the app again at until (an update starts it at once).
type appDown struct {
	code  int
	until time.Time
}

// appExited marks the pods of an app exit item as down until the supervisor's backoff ends.
func (m *model) appExited(it logs.Item, pods []string) {
	if it.Type != logs.TypeAppExit {
		return
	}
	at := it.Time
	if at.IsZero() {
		at = m.now
	}
	for _, r := range m.rows {
		for _, p := range pods {
			if r.pod == p && (r.okAt.IsZero() || at.After(r.okAt)) {
				r.down = &appDown{code: it.ExitCode, until: at.Add(it.Retry)}
			}
		}
	}
}

// phaseText is what the PHASE column says of r: the pod's phase; "stale" while a running pod has
// not been brought equal to the local tree since up started (it runs the image's code, as `status`
// says); the app down, with when the supervisor starts it again, as `logs` says it.
func (m *model) phaseText(r *row) string {
	s := r.phase
	if strings.HasPrefix(r.phase, "Running") && !r.converged {
		s += " " + m.st.bad.Render("stale")
	}
	if d := r.down; d != nil {
		// past until the supervisor has started it again; a new exit is a new item
		if left := d.until.Sub(m.now); left > 0 {
			s += " " + m.st.bad.Render(fmt.Sprintf("app exited %d, again in %s", d.code, (left+time.Second-1).Truncate(time.Second)))
		}
	}
	return s
}
