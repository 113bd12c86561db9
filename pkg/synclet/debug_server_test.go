package synclet

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
)

// TestDebugRefused checks what `up --debug` is told when a pod cannot debug: the app container is not
// running, the port is out of range, and the synclet image lacks Delve (here: nothing beside the test
// binary is named dlv).
func TestDebugRefused(t *testing.T) {
	p := newPod(t, archive.DefaultLimits) // no supervisor yet
	cl := p.client(devKey)
	defer cl.Close()
	_, err := cl.Debug(context.Background(), protocol.DebugRequest{Port: 2345})
	var se *syncletclient.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable || !strings.Contains(se.Msg, "not running") {
		t.Errorf("with the app down: %v", err)
	}

	s := NewSupervisor(SupervisorConfig{Argv: []string{"true"}, Log: log.New(io.Discard, "", 0)})
	t.Cleanup(func() { s.stopping.Store(true) }) // no retry of the failed start after the test
	ln, err := net.Listen("unix", filepath.Join(filepath.Dir(p.pending), "supervisor.sock"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(protocol.SupervisorDebugPath, s.serveDebug)
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	_, err = cl.Debug(context.Background(), protocol.DebugRequest{Port: 0})
	if !errors.As(err, &se) || se.Code != http.StatusBadRequest || !strings.Contains(se.Msg, "debug port 0: want 1-65535") {
		t.Errorf("port 0: %v", err)
	}
	_, err = cl.Debug(context.Background(), protocol.DebugRequest{Port: 2345})
	if !errors.As(err, &se) || se.Code != http.StatusBadGateway || !strings.Contains(se.Msg, "the synclet image lacks it; build it with `make images`") {
		t.Errorf("without Delve: %v", err)
	}
}
