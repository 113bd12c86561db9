package cmd

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/events"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
)

func TestWebFlag(t *testing.T) {
	cases := []struct {
		in, want, err string
	}{
		{"127.0.0.1:8765", "127.0.0.1:8765", ""},
		{"localhost:0", "localhost:0", ""},
		{"[::1]:9000", "[::1]:9000", ""},
		{"false", "false", ""},
		{"true", "127.0.0.1:0", ""},
		{"0.0.0.0:8765", "", "loopback only"},
		{"192.0.2.1:80", "", "loopback only"},
		{"8765", "", "want HOST:PORT"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			var f webFlag
			err := f.Set(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %v, want an error with %q", err, c.err)
				}
				return
			}
			if err != nil || f.String() != c.want {
				t.Fatalf("got %q, %v; want %q", f.String(), err, c.want)
			}
		})
	}
}

// recordingView records what a view is told.
type recordingView struct{ calls []string }

func (r *recordingView) PodState(dep, pod string, ok bool, err error) {
	r.calls = append(r.calls, "state "+pod)
}
func (r *recordingView) PodGone(dep, pod string) { r.calls = append(r.calls, "gone "+pod) }
func (r *recordingView) StepLine(dep, pod, step, line string) {
	r.calls = append(r.calls, "step "+line)
}
func (r *recordingView) Updated(u devloop.Update) { r.calls = append(r.calls, "updated "+u.Pod) }
func (r *recordingView) Info(msg string)          { r.calls = append(r.calls, "info "+msg) }
func (r *recordingView) Warn(msg string)          { r.calls = append(r.calls, "warn "+msg) }
func (r *recordingView) Forwarding(dep, url string, remote int) {
	r.calls = append(r.calls, "forward "+url)
}

var _ upView = (*recordingView)(nil)

// TestModelView: the view and the model are told the same things; a view without phases, items or
// progress (plain lines) is not told those, the model is.
func TestModelView(t *testing.T) {
	rv := &recordingView{}
	m := events.New("t", "/src", []string{"web"})
	mv := &modelView{upView: rv, m: m}
	mv.Phase("web", "web-1", "Running", false)
	mv.PodState("web", "web-1", true, nil)
	mv.StepLine("web", "web-1", "go build", "compiling")
	mv.Updated(devloop.Update{Deployment: "web", Pod: "web-1", Files: 2, Latency: 300 * time.Millisecond, Quiet: 20 * time.Millisecond})
	mv.Converged("web", "web-1")
	mv.Forwarding("web", "http://127.0.0.1:8080", 8080)
	mv.Warn("careful")
	mv.Item(logs.Item{Kind: logs.KindExit, Type: "Error", Pod: "web-1", Container: "web", Time: time.Now(), Text: "Error, exit code 2"})
	mv.PodState("web", "web-1", false, errors.New("closed"))
	mv.Progressed("web", "web-1", devloop.Progress{Files: 1, TotalFiles: 10, Bytes: 100, TotalBytes: 1000, Started: time.Now()})

	want := "state web-1,step compiling,updated web-1,forward http://127.0.0.1:8080,warn careful,state web-1"
	if got := strings.Join(rv.calls, ","); got != want {
		t.Errorf("view told:\n%s\nwant:\n%s", got, want)
	}
	s := m.Snapshot()
	if len(s.Pods) != 1 || !s.Pods[0].Converged || s.Pods[0].Phase != "Running" || s.Pods[0].Progress == nil || s.Pods[0].Connected {
		t.Errorf("pods: %+v", s.Pods)
	}
	if len(s.Updates) != 1 || s.Updates[0].LatencyMs != 300 || s.Updates[0].QuietMs != 20 || !strings.Contains(s.Updates[0].Line, "edit->running 300ms") {
		t.Errorf("updates: %+v", s.Updates)
	}
	if len(s.Errors) != 1 || len(s.Forwards) != 1 || len(s.Notes) != 2 {
		t.Errorf("errors %d, forwards %d, notes %+v", len(s.Errors), len(s.Forwards), s.Notes)
	}
}
