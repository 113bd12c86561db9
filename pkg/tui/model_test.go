package tui

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
)

func newModel(quit func()) *model {
	return &model{title: "kubectl fastdev up · namespace dev", deps: []string{"api", "web"}, rows: map[string]*row{},
		now: time.Now(), theme: logs.NewTheme(io.Discard, false), quit: quit}
}

func send(m *model, msgs ...tea.Msg) {
	for _, msg := range msgs {
		m.Update(msg)
	}
}

// lineOf returns the table row of the view whose POD (or WORKLOAD) column is s.
func lineOf(view, s string) string {
	for _, l := range strings.Split(view, "\n") {
		if f := strings.Fields(l); len(f) > 1 && (f[1] == s || f[0] == s) {
			return l
		}
	}
	return ""
}

func TestViewRows(t *testing.T) {
	m := newModel(nil)
	send(m, tea.WindowSizeMsg{Width: 200, Height: 40},
		phaseMsg{dep: "web", pod: "web-1", phase: "Running"},
		phaseMsg{dep: "web", pod: "web-2", phase: "CrashLoopBackOff"},
		podStateMsg{dep: "web", pod: "web-1", connected: true},
		updatedMsg(devloop.Update{Deployment: "web", Pod: "web-1", Files: 1, Latency: 812 * time.Millisecond}),
		podStateMsg{dep: "web", pod: "web-2", err: errors.New("port-forward closed")},
		noteMsg("web: watching web/src -> /app/src"))
	v := m.View()
	if l := lineOf(v, "web-1"); !strings.Contains(l, "Running") || !strings.Contains(l, "yes") || !strings.Contains(l, "812ms") || !strings.Contains(l, "0s ago") {
		t.Errorf("web-1 row: %q\n%s", l, v)
	}
	if l := lineOf(v, "web-2"); !strings.Contains(l, "CrashLoopBackOff") || !strings.Contains(l, "no") || !strings.Contains(l, "disconnected: port-forward closed") {
		t.Errorf("web-2 row: %q\n%s", l, v)
	}
	if l := lineOf(v, "api"); !strings.Contains(l, "(no pods yet)") {
		t.Errorf("a Deployment without pods has no row:\n%s", v)
	}
	if !strings.Contains(v, "none since up started") || !strings.Contains(v, "watching web/src") {
		t.Errorf("view:\n%s", v)
	}

	send(m, itemMsg(logs.Item{Kind: logs.KindError, Type: logs.TypeGoPanic, Pod: "web-1", Container: "web", Pods: []string{"web-1", "web-2"},
		Text:      "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/src/main.go:9 +0x1d",
		Locations: []logs.Location{{Line: 4, Remote: "/app/src/main.go:9", Local: "web/src/main.go:9"}}}),
		phaseMsg{dep: "web", pod: "web-2", gone: true})
	v = m.View()
	if !strings.Contains(v, "Go panic ×2 in web-1, web-2 (web)") || !strings.Contains(v, "→ web/src/main.go:9") {
		t.Errorf("newest error block missing:\n%s", v)
	}
	if l := lineOf(v, "web-1"); !strings.Contains(l, "panic: boom") {
		t.Errorf("web-1's last error is not the panic: %q", l)
	}
	if lineOf(v, "web-2") != "" {
		t.Errorf("a gone pod keeps its row:\n%s", v)
	}
}

func TestViewFitsScreen(t *testing.T) {
	m := newModel(nil)
	long := "panic: boom" + strings.Repeat("\n\tframe", 100)
	send(m, tea.WindowSizeMsg{Width: 100, Height: 24}, phaseMsg{dep: "web", pod: "web-1", phase: "Running"},
		itemMsg(logs.Item{Kind: logs.KindError, Type: logs.TypeGoPanic, Pod: "web-1", Container: "web", Text: long}))
	v := m.View()
	if n := strings.Count(v, "\n") + 1; n > 24 {
		t.Errorf("view is %d lines on a 24-line screen:\n%s", n, v)
	}
	if !strings.Contains(v, "WORKLOAD") || !strings.Contains(v, "more lines") {
		t.Errorf("the table or the cut marker is missing:\n%s", v)
	}
}

func TestQuitKey(t *testing.T) {
	quit := 0
	m := newModel(func() { quit++ })
	send(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("x")})
	send(m, tea.KeyMsg{Type: tea.KeyCtrlC})
	if quit != 1 {
		t.Errorf("Ctrl-C called quit %d times", quit)
	}
}

// TestViewForwards: each forward is shown as its URL, with the Deployment and port it goes to.
func TestViewForwards(t *testing.T) {
	m := newModel(nil)
	if strings.Contains(m.View(), "Forwards") {
		t.Errorf("a view without forwards has a Forwards section:\n%s", m.View())
	}
	send(m, tea.WindowSizeMsg{Width: 200, Height: 40},
		forwardMsg{dep: "web", url: "http://127.0.0.1:8080", remote: 8080},
		forwardMsg{dep: "api", url: "http://127.0.0.1:18081", remote: 3000})
	v := m.View()
	for _, want := range []string{"Forwards", "http://127.0.0.1:8080  -> web port 8080", "http://127.0.0.1:18081  -> api port 3000"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
}

// TestLongWork: a large update shows a bar with files and bytes of the total, the rate and the time
// left, until its result; a step shows under the table once it has run for a while, with its last line.
func TestLongWork(t *testing.T) {
	m := newModel(nil)
	t0 := time.Now()
	send(m, tea.WindowSizeMsg{Width: 200, Height: 40},
		progressMsg{dep: "web", pod: "web-1", Progress: devloop.Progress{Files: 2500, TotalFiles: 10000, Bytes: 25 << 20, TotalBytes: 100 << 20, Started: t0}, at: t0.Add(2 * time.Second)})
	v := m.View()
	if !strings.Contains(v, "In progress") || !strings.Contains(v, "2500/10000 files, 25.0 MiB/100.0 MiB, 12.5 MiB/s, 6s left") {
		t.Fatalf("no progress bar:\n%s", v)
	}
	send(m, updatedMsg(devloop.Update{Deployment: "web", Pod: "web-1", Files: 10000}))
	if v := m.View(); strings.Contains(v, "In progress") {
		t.Fatalf("progress after the result:\n%s", v)
	}
	send(m, stepMsg{dep: "web", pod: "web-1", step: "go build", line: "compiling", at: t0}, tickMsg(t0.Add(time.Second)))
	if v := m.View(); strings.Contains(v, "running for") {
		t.Fatalf("a short step is not long work:\n%s", v)
	}
	send(m, stepMsg{dep: "web", pod: "web-1", step: "go build", line: "linking", at: t0.Add(4 * time.Second)}, tickMsg(t0.Add(5*time.Second)))
	if v := m.View(); !strings.Contains(v, `web-1 step "go build" running for 5s: linking`) {
		t.Fatalf("no long step:\n%s", v)
	}
}

// TestErrorFixed: the newest error leaves the view once every pod it names took a good update, as it
// leaves the web view's console; an error read late, older than the pods' fix, never shows.
func TestErrorFixed(t *testing.T) {
	m := newModel(nil)
	t0 := time.Now()
	send(m, tea.WindowSizeMsg{Width: 200, Height: 40},
		phaseMsg{dep: "web", pod: "web-1", phase: "Running"}, phaseMsg{dep: "web", pod: "web-2", phase: "Running"},
		itemMsg(logs.Item{Kind: logs.KindError, Type: logs.TypeStep, Pod: "web-1", Pods: []string{"web-1", "web-2"}, Container: "fastdev-synclet",
			Time: t0, Text: "step failed: go build (exit code 1)\n./main.go:3:1: undefined: x"}))
	if v := m.View(); !strings.Contains(v, "undefined: x") {
		t.Fatalf("no error:\n%s", v)
	}
	m.updated(devloop.Update{Deployment: "web", Pod: "web-1", Files: 1}, t0.Add(time.Second))
	m.updated(devloop.Update{Deployment: "web", Pod: "web-2", Err: "step failed"}, t0.Add(time.Second))
	if v := m.View(); !strings.Contains(v, "undefined: x") {
		t.Fatalf("fixed while web-2 still fails:\n%s", v)
	}
	m.updated(devloop.Update{Deployment: "web", Pod: "web-2", Files: 1}, t0.Add(2*time.Second))
	if v := m.View(); strings.Contains(v, "undefined: x") || !strings.Contains(v, "none: the last one was fixed") {
		t.Fatalf("not cleared:\n%s", v)
	}
	send(m, itemMsg(logs.Item{Kind: logs.KindError, Type: logs.TypeStep, Pod: "web-1", Time: t0, Text: "late"}))
	if v := m.View(); strings.Contains(v, "late") {
		t.Fatalf("an old error came back:\n%s", v)
	}
}
