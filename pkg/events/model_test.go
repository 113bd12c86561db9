package events

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// clocked returns a model whose clock the test moves.
func clocked() (*Model, *time.Time) {
	m := New("up", "/home/dev/project", []string{"web"})
	now := t0
	m.now = func() time.Time { return now }
	return m, &now
}

func buildError(pods ...string) logs.Item {
	return logs.Item{Kind: logs.KindError, Type: logs.TypeGoBuild, Pod: pods[0], Pods: pods, Container: "web", Time: t0.Add(time.Second),
		Text:      "# example.com/web\n./main.go:22:18: undefined: fmt.Printx",
		Locations: []logs.Location{{Line: 1, Remote: "./main.go:22:18", Local: "web-go/src/main.go:22:18"}}}
}

// TestErrorConsole: a build error of two replicas is one block ×2 with an editor link to the absolute
// local file; a successful update of one pod leaves it open for the other (×1), of both clears it; an
// item older than the pods' last success never shows.
func TestErrorConsole(t *testing.T) {
	m, now := clocked()
	m.PodState("web", "web-1", true, nil)
	m.PodState("web", "web-2", true, nil)
	m.Item(buildError("web-1", "web-2"))
	s := m.Snapshot()
	if len(s.Errors) != 1 || !strings.Contains(s.Errors[0].Header, "Go build error ×2 in web-1, web-2 (web)") {
		t.Fatalf("errors: %+v", s.Errors)
	}
	l := s.Errors[0].Lines[1].Links
	if len(l) != 1 || l[0].Abs != "/home/dev/project/web-go/src/main.go:22:18" ||
		l[0].Href != "vscode://file/home/dev/project/web-go/src/main.go:22:18" || l[0].Local != "web-go/src/main.go:22:18" {
		t.Errorf("links: %+v", l)
	}
	if s.Pods[0].LastError != "# example.com/web" {
		t.Errorf("last error: %q", s.Pods[0].LastError)
	}
	*now = t0.Add(2 * time.Second)
	m.Updated(Update{Workload: "web", Pod: "web-1", Files: 1, LatencyMs: 300})
	if s := m.Snapshot(); len(s.Errors) != 1 || s.Errors[0].Pods[0] != "web-2" || strings.Contains(s.Errors[0].Header, "×") {
		t.Fatalf("after web-1 fixed: %+v", s.Errors)
	}
	m.Updated(Update{Workload: "web", Pod: "web-2", Err: "step \"go build\" failed"})
	if s := m.Snapshot(); len(s.Errors) != 1 {
		t.Fatalf("a failed update fixed nothing: %+v", s.Errors)
	}
	m.Updated(Update{Workload: "web", Pod: "web-2", Files: 1, LatencyMs: 200})
	if s := m.Snapshot(); len(s.Errors) != 0 {
		t.Fatalf("after both fixed: %+v", s.Errors)
	}
	m.Item(buildError("web-1")) // read from the log late: it happened before the fix
	if s := m.Snapshot(); len(s.Errors) != 0 {
		t.Fatalf("an old error came back: %+v", s.Errors)
	}
}

// TestErrorsNewestFirst: the console lists the newest block first; a Warning event is a recent event.
func TestErrorsNewestFirst(t *testing.T) {
	m, _ := clocked()
	a := buildError("web-1")
	b := logs.Item{Kind: logs.KindExit, Type: "Error", Pod: "web-1", Container: "web", Time: t0.Add(3 * time.Second), Text: "Error, exit code 2"}
	m.Item(a)
	m.Item(b)
	m.Item(logs.Item{Kind: logs.KindEvent, Type: "Unhealthy", Pod: "web-1", Text: "probe failed"})
	m.Item(logs.Item{Kind: logs.KindLog, Pod: "web-1", Text: "listening"})
	s := m.Snapshot()
	if len(s.Errors) != 2 || s.Errors[0].Kind != "exit" || s.Errors[1].Type != logs.TypeGoBuild || s.Errors[0].ID <= s.Errors[1].ID {
		t.Fatalf("errors: %+v", s.Errors)
	}
	if len(s.Notes) != 1 || s.Notes[0].Level != LevelEvent || s.Notes[0].Text != "web-1: Unhealthy: probe failed" {
		t.Fatalf("notes: %+v", s.Notes)
	}
}

func TestP50(t *testing.T) {
	cases := []struct {
		name string
		us   []Update
		want float64
	}{
		{"none", nil, 0},
		{"convergences only", []Update{{Convergence: true}}, 0},
		{"odd", []Update{{LatencyMs: 300}, {LatencyMs: 100}, {LatencyMs: 200}}, 200},
		{"even takes the lower", []Update{{LatencyMs: 400}, {LatencyMs: 100}, {LatencyMs: 200}, {LatencyMs: 300}}, 200},
		{"failures left out", []Update{{LatencyMs: 100}, {LatencyMs: 900, Err: "x"}, {LatencyMs: 900, Err: "y"}}, 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := p50(c.us); got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestPodLifecycle: phase, connection, stale until converged, a long step with its last line and
// elapsed time, the step output kept after the update, a disconnection, a pod gone.
func TestPodLifecycle(t *testing.T) {
	m, now := clocked()
	m.Phase("web", "web-1", "Running", false)
	if p := m.Snapshot().Pods[0]; !p.Stale || p.Connected {
		t.Fatalf("new pod: %+v", p)
	}
	m.PodState("web", "web-1", true, nil)
	m.StepLine("web", "web-1", "go build", "compiling")
	*now = t0.Add(5 * time.Second)
	m.StepLine("web", "web-1", "go build", "linking")
	p := m.Snapshot().Pods[0]
	if p.Step == nil || p.Step.Name != "go build" || p.Step.LastLine != "linking" || !p.Step.Started.Equal(t0) {
		t.Fatalf("step: %+v", p.Step)
	}
	m.Updated(Update{Workload: "web", Pod: "web-1", Files: 3, Convergence: true})
	m.Converged("web", "web-1")
	p = m.Snapshot().Pods[0]
	if p.Stale || p.Step != nil || len(p.Output) != 2 || p.Output[1] != "[go build] linking" || !p.LastSync.Equal(*now) {
		t.Fatalf("after the update: %+v", p)
	}
	m.StepLine("web", "web-1", "go build", "again")
	if p := m.Snapshot().Pods[0]; len(p.Output) != 1 {
		t.Fatalf("a new update's output starts afresh: %q", p.Output)
	}
	m.PodState("web", "web-1", false, errors.New("port-forward closed"))
	if p := m.Snapshot().Pods[0]; p.Connected || p.LastError != "disconnected: port-forward closed" || p.Step != nil {
		t.Fatalf("disconnected: %+v", p)
	}
	m.Phase("web", "web-1", "", true)
	if s := m.Snapshot(); len(s.Pods) != 0 || len(s.Workloads) != 1 {
		t.Fatalf("gone: %+v", s)
	}
}

// TestProgress: files and bytes of the total, the rate and time left; complete clears it.
func TestProgress(t *testing.T) {
	m, now := clocked()
	*now = t0.Add(2 * time.Second)
	m.Progressed("web", "web-1", 2500, 10000, 25<<20, 100<<20, t0)
	p := m.Snapshot().Pods[0].Progress
	if p == nil || p.Files != 2500 || p.RateBps != float64(25<<20)/2 || p.LeftMs != 6000 {
		t.Fatalf("progress: %+v", p)
	}
	m.Progressed("web", "web-1", 10000, 10000, 100<<20, 100<<20, t0)
	if p := m.Snapshot().Pods[0].Progress; p != nil {
		t.Fatalf("complete: %+v", p)
	}
}

// TestSubscribe: a change is told to every subscriber, coalesced while unread; a cancelled one is not.
func TestSubscribe(t *testing.T) {
	m, _ := clocked()
	a, cancelA := m.Subscribe()
	b, cancelB := m.Subscribe()
	defer cancelB()
	m.Info("watching web-go/src")
	m.Warn("something")
	for _, ch := range []<-chan struct{}{a, b} {
		select {
		case <-ch:
		default:
			t.Fatal("no change told")
		}
		select {
		case <-ch:
			t.Fatal("two changes told twice, not coalesced")
		default:
		}
	}
	cancelA()
	m.Info("more")
	select {
	case <-a:
		t.Fatal("a cancelled subscriber was told")
	default:
	}
	if s := m.Snapshot(); s.Seq != 3 || len(s.Notes) != 3 || s.Notes[1].Level != LevelWarn {
		t.Fatalf("state: %+v", s)
	}
}

// TestBounds: a long session keeps the newest updates and notes only.
func TestBounds(t *testing.T) {
	m, _ := clocked()
	for i := range MaxUpdates + 10 {
		m.Updated(Update{Workload: "web", Pod: "web-1", Files: i})
		m.Info("x")
	}
	s := m.Snapshot()
	if len(s.Updates) != MaxUpdates || s.Updates[0].Files != 10 || len(s.Notes) != MaxNotes {
		t.Fatalf("kept %d updates from %d, %d notes", len(s.Updates), s.Updates[0].Files, len(s.Notes))
	}
}
