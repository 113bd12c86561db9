package tui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
)

// TestStaleUntilConverged: a running pod's row says stale until a whole-tree comparison left it equal
// to the local tree; a pod that is not running yet is not called stale.
func TestStaleUntilConverged(t *testing.T) {
	m := newModel(nil)
	send(m, tea.WindowSizeMsg{Width: 200, Height: 40},
		phaseMsg{dep: "web", pod: "web-1", phase: "Running"},
		phaseMsg{dep: "web", pod: "web-2", phase: "Pending"},
		podStateMsg{dep: "web", pod: "web-1", connected: true})
	v := m.View()
	if l := lineOf(v, "web-1"); !strings.Contains(l, "Running stale") {
		t.Errorf("a running pod not converged yet: %q\n%s", l, v)
	}
	if l := lineOf(v, "web-2"); strings.Contains(l, "stale") {
		t.Errorf("a pending pod is called stale: %q", l)
	}
	send(m, convergedMsg{dep: "web", pod: "web-1"})
	if l := lineOf(m.View(), "web-1"); strings.Contains(l, "stale") || !strings.Contains(l, "Running") {
		t.Errorf("a converged pod: %q", l)
	}
}

// TestAppDownCountsDown: an app that exited on its own shows in its pod's row with its exit code and
// when the supervisor starts it again, counting down; past that, or after a good update (which starts
// it at once), the row no longer says so.
func TestAppDownCountsDown(t *testing.T) {
	m := newModel(nil)
	at := time.Now()
	m.now = at
	exit := logs.Item{Kind: logs.KindExit, Type: logs.TypeAppExit, Pod: "web-1", Container: "web", Time: at, ExitCode: 2, Retry: 4 * time.Second,
		Text: "/app/server exited with code 2; the supervisor starts it again in 4s (the container is kept)"}
	send(m, tea.WindowSizeMsg{Width: 200, Height: 40},
		phaseMsg{dep: "web", pod: "web-1", phase: "Running"}, convergedMsg{dep: "web", pod: "web-1"}, itemMsg(exit))
	v := m.View()
	if l := lineOf(v, "web-1"); !strings.Contains(l, "app exited 2, again in 4s") || !strings.Contains(l, "exited with code 2") {
		t.Errorf("app down: %q\n%s", l, v)
	}
	send(m, tickMsg(at.Add(2500*time.Millisecond)))
	if l := lineOf(m.View(), "web-1"); !strings.Contains(l, "again in 2s") {
		t.Errorf("after 2.5s: %q", l)
	}
	send(m, tickMsg(at.Add(5*time.Second)))
	if l := lineOf(m.View(), "web-1"); strings.Contains(l, "app exited") {
		t.Errorf("past the backoff: %q", l)
	}

	exit.Time = at.Add(6 * time.Second)
	send(m, itemMsg(exit))
	if l := lineOf(m.View(), "web-1"); !strings.Contains(l, "app exited 2") {
		t.Errorf("a second exit: %q", l)
	}
	send(m, updatedMsg(devloop.Update{Deployment: "web", Pod: "web-1", Files: 1, Latency: time.Second}))
	if l := lineOf(m.View(), "web-1"); strings.Contains(l, "app exited") {
		t.Errorf("after a good update: %q", l)
	}
}
