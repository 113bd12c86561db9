// Package tui is the live status view of `kubectl fastdev up` in a terminal: one row per pod of each
// dev Deployment (phase, connected, last sync, last edit->running latency, last error), the URLs of
// its forwards, and the newest error block below, kept current from the dev loop (as its devloop.Reporter) and from the
// pods' logs and states (pkg/logs/follow). It is drawn with Bubble Tea and Lip Gloss.
package tui

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"golang.org/x/term"
	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs/follow"
)

// Config is what the view shows and where.
type Config struct {
	In  io.Reader // keys: q or Ctrl-C stop `up`
	Out io.Writer // the terminal
	// Title is the first line, e.g. "kubectl fastdev up · namespace dev".
	Title string
	// API, when set, is read for the pods' phases and their logs' error blocks. In `up` it is the
	// client the dev loop follows its pods with, so both share one watch per Deployment.
	API     follow.API
	Targets []devloop.Target
	Dir     string // the local directory of the rules, for local file paths
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
	m := &model{title: cfg.Title, deps: names, rows: map[string]*row{}, now: time.Now(), quit: cfg.OnQuit,
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
	if cfg.API != nil {
		go v.follow(ctx, cfg)
	}
	return v
}

// follow feeds the view the pods' phases and the error items of their logs since the view started.
func (v *View) follow(ctx context.Context, cfg Config) {
	var targets []follow.Target
	for _, t := range cfg.Targets {
		targets = append(targets, follow.Target{Name: t.Name, Selector: t.Selector, Rules: t.Rules})
	}
	fc := follow.Config{Targets: targets, Dir: cfg.Dir, Follow: true, Since: time.Now(),
		Exists: func(p string) bool { _, err := os.Stat(p); return err == nil },
		OnPod: func(dep string, pod *corev1.Pod, gone bool) {
			v.p.Send(phaseMsg{dep: dep, pod: pod.Name, phase: follow.Phase(pod), gone: gone})
		},
		Warn: v.Warn}
	err := follow.Run(ctx, cfg.API, fc, func(it logs.Item) {
		if it.Kind.IsError() {
			v.p.Send(itemMsg(it))
		}
	})
	if err != nil && ctx.Err() == nil {
		v.Warn(fmt.Sprintf("following the pods' logs: %v", err))
	}
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

// PodGone implements devloop.Reporter.
func (v *View) PodGone(dep, pod string) { v.p.Send(podGoneMsg{dep: dep, pod: pod}) }

// StepLine implements devloop.Reporter.
func (v *View) StepLine(dep, pod, step, line string) {
	v.p.Send(noteMsg(fmt.Sprintf("%s/%s: [%s] %s", dep, pod, step, line)))
}

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
