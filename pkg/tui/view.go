// Package tui is the live status view of `kubectl fastdev up` in a terminal: one row per pod of each
// dev workload (phase, marked stale until the pod converged and with an app the supervisor restarts
// after a crash, connected, last sync, last edit->running latency, last error), the progress
// of a large sync and of a long step, the URLs of its forwards and of the web view, and the newest
// error block below. It is told what happens by the same calls as the shared model (pkg/events): the
// dev loop's (as its devloop.Reporter), the forwards', and the log follower's (Phase, Item) that `up`
// runs once for every view. It is drawn with Bubble Tea, Lip Gloss and the Bubbles progress bar.
package tui

import (
	"context"
	"io"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"golang.org/x/term"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
)

// Config is what the view shows and where.
type Config struct {
	In  io.Reader // keys: q or Ctrl-C stop `up`
	Out io.Writer // the terminal
	// Title is the first line, e.g. "kubectl fastdev up · namespace dev".
	Title   string
	Targets []devloop.Target
	// OnQuit is called when the user asks to stop (q, Esc or Ctrl-C: the terminal is in raw mode,
	// so Ctrl-C is a key here, not a signal).
	OnQuit func()
}

// View is a running live view. It implements devloop.Reporter; Stop ends it.
type View struct {
	p      *tea.Program
	done   chan struct{}
	cancel context.CancelFunc
	err    error
}

var _ devloop.Reporter = (*View)(nil)

// IsTerminal reports whether w is a terminal the view can draw on.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Start draws the view on cfg.Out (in the alternate screen, so the terminal is left as it was) and
// starts following the targets' pods.
func Start(ctx context.Context, cfg Config) *View {
	ctx, cancel := context.WithCancel(ctx)
	r := lipgloss.NewRenderer(cfg.Out, termenv.WithColorCache(true))
	var names []string
	for _, t := range cfg.Targets {
		names = append(names, t.Name)
	}
	m := &model{title: cfg.Title, deps: names, rows: map[string]*row{}, now: time.Now(), quit: cfg.OnQuit, profile: r.ColorProfile(),
		theme: logs.NewTheme(cfg.Out, r.ColorProfile() != termenv.Ascii),
		st: styles{title: r.NewStyle().Bold(true), header: r.NewStyle().Bold(true).Underline(true),
			ok: r.NewStyle().Foreground(lipgloss.Color("2")), bad: r.NewStyle().Foreground(lipgloss.Color("9")),
			dim: r.NewStyle().Foreground(lipgloss.Color("8"))}}
	opts := []tea.ProgramOption{tea.WithOutput(cfg.Out), tea.WithAltScreen(), tea.WithoutSignalHandler(), tea.WithContext(ctx)}
	if cfg.In != nil {
		opts = append(opts, tea.WithInput(cfg.In))
	} else {
		opts = append(opts, tea.WithInput(nil))
	}
	v := &View{p: tea.NewProgram(m, opts...), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(v.done)
		if _, err := v.p.Run(); err != nil && ctx.Err() == nil {
			v.err = err
		}
	}()
	return v
}

// Stop ends the view and restores the terminal. It returns an
// error if the view could not run (the terminal refused raw mode, say).
func (v *View) Stop() error {
	v.p.Quit()
	select {
	case <-v.done:
	case <-time.After(3 * time.Second):
		v.p.Kill() // a view that does not stop must not keep `up` from exiting
		<-v.done
	}
	v.cancel()
	return v.err
}

// PodState implements devloop.Reporter.
func (v *View) PodState(dep, pod string, connected bool, err error) {
	v.p.Send(podStateMsg{dep: dep, pod: pod, connected: connected, err: err})
}

// Converged marks the pod converged: its row no longer says stale (devloop.ConvergeReporter).
func (v *View) Converged(dep, pod string) { v.p.Send(convergedMsg{dep: dep, pod: pod}) }

var _ devloop.ConvergeReporter = (*View)(nil)

// PodGone implements devloop.Reporter.
func (v *View) PodGone(dep, pod string) { v.p.Send(podGoneMsg{dep: dep, pod: pod}) }

// StepLine implements devloop.Reporter.
func (v *View) StepLine(dep, pod, step, line string) {
	v.p.Send(stepMsg{dep: dep, pod: pod, step: step, line: line, at: time.Now()})
}

// Phase shows a pod's phase as the pod watch saw it; gone takes its row away.
func (v *View) Phase(dep, pod, phase string, gone bool) {
	v.p.Send(phaseMsg{dep: dep, pod: pod, phase: phase, gone: gone})
}

// Item shows an item of the pods' logs: an error block as the newest error, a Warning event in Recent.
func (v *View) Item(it logs.Item) {
	if it.Kind.IsError() {
		v.p.Send(itemMsg(it))
	}
}

// Progressed shows how far a large update to a pod has come, as a bar under the table
// (devloop.ProgressReporter).
func (v *View) Progressed(dep, pod string, p devloop.Progress) {
	v.p.Send(progressMsg{dep: dep, pod: pod, Progress: p, at: time.Now()})
}

var _ devloop.ProgressReporter = (*View)(nil)

// WebURL shows the web view's address under the title.
func (v *View) WebURL(url string) { v.p.Send(webMsg(url)) }

// Updated implements devloop.Reporter.
func (v *View) Updated(u devloop.Update) { v.p.Send(updatedMsg(u)) }

// Forwarding shows a forward `up` keeps open (pkg/forward's Reporter) as its URL.
func (v *View) Forwarding(dep, url string, remote int) {
	v.p.Send(forwardMsg{dep: dep, url: url, remote: remote})
}

// Info implements devloop.Reporter.
func (v *View) Info(msg string) { v.p.Send(noteMsg(msg)) }

// Warn implements devloop.Reporter.
func (v *View) Warn(msg string) { v.p.Send(noteMsg(msg)) }
