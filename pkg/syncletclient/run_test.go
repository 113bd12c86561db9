package syncletclient

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// TestRunOnOldSynclet: a synclet that predates run answers 404, which Run words as "run up again".
func TestRunOnOldSynclet(t *testing.T) {
	c := gated(t, http.NotFoundHandler())
	defer c.Close()
	_, err := c.Run(context.Background(), protocol.CommandRequest{Argv: []string{"true"}}, nil, nil)
	if !errors.Is(err, ErrNoRun) || !strings.Contains(err.Error(), "kubectl fastdev up") {
		t.Errorf("got %v, want ErrNoRun", err)
	}
}

// TestRunReplyWithoutResult: a reply cut before its result (the pod went) is an error, not exit 0.
func TestRunReplyWithoutResult(t *testing.T) {
	c := gated(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"type":"stdout","data":"aGk="}` + "\n"))
	}))
	defer c.Close()
	var got string
	_, err := c.Run(context.Background(), protocol.CommandRequest{Argv: []string{"true"}}, nil, func(e protocol.Event) { got += string(e.Data) })
	if err == nil || !strings.Contains(err.Error(), "exit code is unknown") || got != "hi" {
		t.Errorf("got %v, output %q", err, got)
	}
}

// TestRunInOnOldSynclet: a synclet that predates run -c answers 404 for another container's path,
// which RunIn words as "run up again"; the request went to that container's path.
func TestRunInOnOldSynclet(t *testing.T) {
	var path string
	c := gated(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		http.NotFound(w, r)
	}))
	defer c.Close()
	_, err := c.RunIn(context.Background(), "worker", protocol.CommandRequest{Argv: []string{"true"}}, nil, nil)
	if !errors.Is(err, ErrNoRunIn) || !strings.Contains(err.Error(), "run -c") || path != protocol.PathRun+"/worker" {
		t.Errorf("got %v at %s, want ErrNoRunIn at %s/worker", err, path, protocol.PathRun)
	}
}
