package synclet

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// fakeSupervisor records the run requests it takes on a unix socket and answers each with success.
type fakeSupervisor struct {
	mu   sync.Mutex
	reqs []protocol.RunRequest
}

func serveFakeSupervisor(t *testing.T, sock string) *fakeSupervisor {
	t.Helper()
	f := &fakeSupervisor{}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req protocol.RunRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("run request: %v", err)
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		ev := protocol.NewEventWriter(w, func() {})
		if err := ev.Write(protocol.Event{Type: protocol.EventResult, Timings: &protocol.Timings{Restart: 1}}); err != nil {
			t.Errorf("answering the run request: %v", err)
		}
	})}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("fake supervisor: %v", err)
		}
	}()
	t.Cleanup(func() { _ = srv.Close() })
	return f
}

func (f *fakeSupervisor) requests() []protocol.RunRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]protocol.RunRequest{}, f.reqs...)
}

// TestUpdateReachesOnlyItsAppContainer: in a pod with two app containers, each with its own
// supervisor, an update's steps and restart for one reach that one's supervisor only; those for a
// container that is down wait in its own pending file; a container the pod lacks is an error.
func TestUpdateReachesOnlyItsAppContainer(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	dir := t.TempDir()
	worker := AppSupervisor{Name: "worker", Socket: filepath.Join(dir, "w.sock"), Pending: filepath.Join(dir, "w.json")}
	p.srv.addApp(worker)
	first := serveFakeSupervisor(t, p.srv.cfg.Supervisor)
	second := serveFakeSupervisor(t, worker.Socket)

	step := protocol.Step{Argv: []string{"make"}, Display: "make"}
	res, _ := update(t, p, protocol.UpdateMeta{ID: "1", Apps: []protocol.AppRun{{Container: "worker", Steps: []protocol.Step{step}, Restart: protocol.RestartContainer}}})
	if res.Error != "" || res.Queued {
		t.Fatalf("update for worker: error %q, queued %v", res.Error, res.Queued)
	}
	if got := second.requests(); len(got) != 1 || got[0].Restart != protocol.RestartContainer || len(got[0].Steps) != 1 {
		t.Errorf("worker's supervisor got %+v, want one request with its step and restart: container", got)
	}
	if got := first.requests(); len(got) != 0 {
		t.Errorf("the first container's supervisor got %+v for an update of worker only", got)
	}

	res, _ = update(t, p, protocol.UpdateMeta{ID: "2", Restart: protocol.RestartProcess})
	if res.Error != "" || len(first.requests()) != 1 || len(second.requests()) != 1 {
		t.Errorf("update for the first container: error %q, first got %d, worker got %d requests; want 1 and 1",
			res.Error, len(first.requests()), len(second.requests()))
	}

	down := AppSupervisor{Name: "down", Socket: filepath.Join(dir, "d.sock"), Pending: filepath.Join(dir, "d.json")}
	p.srv.addApp(down)
	res, _ = update(t, p, protocol.UpdateMeta{ID: "3", Apps: []protocol.AppRun{{Container: "down", Steps: []protocol.Step{step}}}})
	if res.Error != "" || !res.Queued {
		t.Errorf("update for a container that is down: error %q, queued %v; want queued", res.Error, res.Queued)
	}
	if _, err := os.Stat(down.Pending); err != nil {
		t.Errorf("its steps are not in its own pending file: %v", err)
	}
	if _, err := os.Stat(p.pending); err == nil {
		t.Errorf("its steps went to the first container's pending file")
	}

	res, _ = update(t, p, protocol.UpdateMeta{ID: "4", Apps: []protocol.AppRun{{Container: "nope", Restart: protocol.RestartProcess}}})
	if res.Error == "" {
		t.Errorf("an update for a container the pod has not is not reported as failed")
	}
}
