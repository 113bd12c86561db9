package cmd

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/state"
)

// TestRecordingReporter: what the dev loop reports reaches both the view and the status records.
func TestRecordingReporter(t *testing.T) {
	store := state.Store{Dir: t.TempDir()}
	rec := state.NewRecorder(store, "https://api", "dev", []string{"web"}, 7, func(m string) { t.Errorf("warning: %s", m) })
	var out, errOut strings.Builder
	r := recordingReporter{Reporter: &devloop.LineReporter{Out: &out, ErrOut: &errOut}, rec: rec}
	r.PodState("web", "web-a", true, nil)
	r.PodState("web", "web-b", false, errors.New("port-forward refused"))
	r.Updated(devloop.Update{Deployment: "web", Pod: "web-a", Files: 2, Deletes: 1, Latency: 30 * time.Millisecond})
	r.PodState("web", "web-c", true, nil)
	r.PodGone("web", "web-c")
	rec.Stop()
	got, err := store.Read("https://api", "dev", "web")
	if err != nil || got == nil {
		t.Fatalf("record: %v, %v", got, err)
	}
	a, b := got.Pods["web-a"], got.Pods["web-b"]
	if a == nil || a.LastFiles != 3 || a.LastLatencyMs != 30 || a.LastSync.IsZero() {
		t.Errorf("web-a: %+v", a)
	}
	if b == nil || b.LastError != "port-forward refused" {
		t.Errorf("web-b: %+v", b)
	}
	if _, ok := got.Pods["web-c"]; ok {
		t.Error("web-c recorded after it was gone")
	}
	if !strings.Contains(out.String()+errOut.String(), "web/web-c: pod gone") {
		t.Errorf("view did not get the reports:\n%s%s", out.String(), errOut.String())
	}
}
