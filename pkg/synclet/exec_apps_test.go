package synclet

import (
	"context"
	"errors"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
)

// TestRunInAppContainer: `run -c worker` reaches the worker's own supervisor (the first container's
// is down here, so a command routed there would be refused as "not running"), and a container the
// synclet was not started with is refused with the ones it has.
func TestRunInAppContainer(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	dir := t.TempDir()
	worker := AppSupervisor{Name: "worker", Socket: filepath.Join(dir, "w.sock"), Pending: filepath.Join(dir, "w.json")}
	p.srv.addApp(worker)
	sup := NewSupervisor(SupervisorConfig{Argv: []string{"sh", "-c", "exec sleep 1000"}, Socket: worker.Socket,
		Pending: worker.Pending, Grace: time.Second, Log: log.New(io.Discard, "", 0)})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if _, err := sup.Run(ctx); err != nil {
			t.Errorf("worker's supervisor: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-stopped })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(worker.Socket); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the worker's supervisor does not listen: %v", err)
		}
	}

	cl := p.client(devKey)
	var out strings.Builder
	res, err := cl.RunIn(context.Background(), "worker", protocol.CommandRequest{Argv: []string{"sh", "-c", "echo in worker; exit 4"}}, nil,
		func(e protocol.Event) { out.Write(e.Data) })
	if err != nil || res.ExitCode != 4 || out.String() != "in worker\n" {
		t.Errorf("run -c worker: %v, result %+v, output %q; want exit 4 and its output", err, res, out.String())
	}

	_, err = cl.Run(context.Background(), protocol.CommandRequest{Argv: []string{"true"}}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("run in the first container (down) gives %v, want its own refusal: not running", err)
	}

	_, err = cl.RunIn(context.Background(), "nope", protocol.CommandRequest{Argv: []string{"true"}}, nil, nil)
	var se *syncletclient.StatusError
	if !errors.As(err, &se) || se.Code != 400 || !strings.Contains(se.Msg, `"nope"`) || !strings.Contains(se.Msg, "worker") || !strings.Contains(se.Msg, "kubectl fastdev up") {
		t.Errorf("run -c nope gives %v, want a 400 naming nope, worker and up", err)
	}
}
