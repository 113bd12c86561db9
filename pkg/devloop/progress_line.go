package devloop

import (
	"fmt"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/events"
)

// progressLineEvery is how often the plain lines say how far a large update has come.
const progressLineEvery = 3 * time.Second

// sendingLine is a large update the plain lines report on: when they last said so.
type sendingLine struct {
	said time.Time
}

// Progressed implements ProgressReporter: a line every few seconds per pod with files and bytes of
// the totals, the rate and the time left.
func (r *LineReporter) Progressed(dep, pod string, p Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	k := dep + "/" + pod
	if r.sending == nil {
		r.sending = map[string]*sendingLine{}
	}
	s := r.sending[k]
	if s == nil {
		s = &sendingLine{}
		r.sending[k] = s
	} else if now.Sub(s.said) < progressLineEvery {
		return
	}
	s.said = now
	fmt.Fprintf(r.ErrOut, "%s: sending %s\n", k, events.ProgressText(p.Files, p.TotalFiles, p.Bytes, p.TotalBytes, now.Sub(p.Started)))
}
