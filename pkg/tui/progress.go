package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/progress"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/events"
)

// Messages for long work: a large update's progress, a step's output line, the web view's address.
type (
	progressMsg struct {
		dep, pod string
		devloop.Progress
		at time.Time
	}
	stepMsg struct {
		dep, pod, step, line string
		at                   time.Time
	}
	webMsg string
)

// work is the long work under way in one pod: a large update, a step.
type work struct {
	sync      *progressMsg // nil when no large update is under way
	step      string       // the step running, "" when none is
	stepStart time.Time
	stepLine  string
}

// longStep is how long a step runs before the view shows it under the table with its last line.
const longStep = 2 * time.Second

// progressed takes in a large update's progress; complete clears it.
func (m *model) progressed(msg progressMsg) {
	r := m.row(msg.dep, msg.pod)
	r.work.sync = &msg
	if msg.Files >= msg.TotalFiles && msg.Bytes >= msg.TotalBytes {
		r.work.sync = nil
	}
}

// stepped takes in a line of step output: the step is running, and its line is the newest.
func (m *model) stepped(msg stepMsg) {
	r := m.row(msg.dep, msg.pod)
	if r.work.step != msg.step {
		r.work.step, r.work.stepStart = msg.step, msg.at
	}
	r.work.stepLine = msg.line
	m.note(fmt.Sprintf("%s/%s: [%s] %s", msg.dep, msg.pod, msg.step, msg.line))
}

// longWork draws a bar per pod with a large update under way (files and bytes of the total, rate, time
// left) and a line per pod with a long step (elapsed time, last output line).
func (m *model) longWork(b *strings.Builder) {
	var lines []string
	for _, r := range m.sorted() {
		if s := r.work.sync; s != nil {
			bar := progress.New(progress.WithSolidFill("2"), progress.WithoutPercentage(), progress.WithWidth(24),
				progress.WithColorProfile(m.profile))
			frac := 0.0
			if s.TotalBytes > 0 {
				frac = float64(s.Bytes) / float64(s.TotalBytes)
			}
			lines = append(lines, fmt.Sprintf("  %s %s %s", r.pod, bar.ViewAs(frac), m.st.dim.Render(events.ProgressText(s.Files, s.TotalFiles, s.Bytes, s.TotalBytes, s.at.Sub(s.Started)))))
		}
		if r.work.step != "" && m.now.Sub(r.work.stepStart) >= longStep {
			lines = append(lines, fmt.Sprintf("  %s step %q running for %s: %s", r.pod, r.work.step,
				m.now.Sub(r.work.stepStart).Truncate(time.Second), m.st.dim.Render(truncate(oneLine(r.work.stepLine), 80))))
		}
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("\n" + m.st.header.Render("In progress") + "\n" + strings.Join(lines, "\n") + "\n")
}
