package synclet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// supervisorURL is where the synclet posts run requests; the transport dials the supervisor's unix
// socket whatever the host, and the supervisor serves every path.
const supervisorURL = "http://supervisor/run"

var errSupervisorDown = errors.New("supervisor not reachable")

// runSteps asks the supervisor to run the steps and restart, relaying every event to the CLI and the
// step output to the synclet's log. It returns the supervisor's result event.
func (s *Server) runSteps(ctx context.Context, super *http.Client, meta protocol.UpdateMeta, ev *protocol.EventWriter) (*protocol.Event, error) {
	body, err := json.Marshal(protocol.RunRequest{Steps: meta.Steps, Restart: meta.Restart})
	if err != nil {
		return nil, fmt.Errorf("encoding the run request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, supervisorURL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building the run request: %w", err)
	}
	resp, err := super.Do(req)
	if err != nil {
		var ne *net.OpError
		if errors.As(err, &ne) && ne.Op == "dial" {
			return nil, errSupervisorDown
		}
		return nil, fmt.Errorf("asking the supervisor to run steps: %w", err)
	}
	defer resp.Body.Close()
	res, err := protocol.ReadEvents(resp.Body, func(e protocol.Event) {
		switch e.Type {
		case protocol.EventOutput:
			s.cfg.Log.Printf("[%s] %s", e.Step, e.Line)
		case protocol.EventStep:
			switch {
			case e.TimedOut != "": // pkg/logs reads both forms
				s.cfg.Log.Printf("step failed: %s: timed out after %s (exit code %d)", e.Step, e.TimedOut, e.ExitCode)
			case e.ExitCode != 0:
				s.cfg.Log.Printf("step failed: %s: exit code %d", e.Step, e.ExitCode)
			}
		}
		// a CLI that has gone must not cut the steps short; the result's write fails the same way and
		// is logged then (the writer's encoder keeps its first error)
		_ = ev.Write(e)
	})
	switch {
	case errors.Is(err, protocol.ErrNoResult):
		// the supervisor ended mid-request: the app container is stopping (or was OOM killed), so the
		// steps and restart wait for its next start like those of an update that finds it down
		return nil, errSupervisorDown
	case err != nil:
		return nil, fmt.Errorf("supervisor reply: %w", err)
	case res.Error != "":
		return res, errors.New(res.Error)
	}
	return res, nil
}

// queuePending merges steps into the pending file, which the supervisor runs before it next starts
// the app: an edit that lands while the app container restarts still gets built.
func queuePending(file string, meta protocol.UpdateMeta) error {
	var p protocol.RunRequest
	if b, err := readOwned(file); err == nil {
		// this function writes the file whole (rename), so it decodes; one that does not is not ours and
		// is replaced by this request
		_ = json.Unmarshal(b, &p)
	}
	seen := map[string]bool{}
	for _, st := range p.Steps {
		seen[st.Display] = true
	}
	for _, st := range meta.Steps {
		if !seen[st.Display] {
			p.Steps = append(p.Steps, st)
		}
	}
	if meta.Restart != "" {
		p.Restart = meta.Restart
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encoding the pending steps: %w", err)
	}
	return writeAtomic(file, b)
}
