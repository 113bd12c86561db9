package synclet

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// runCommand relays a `kubectl fastdev run` command to the supervisor of the app container the path
// names (protocol.RunPathFor; the first without a name) and its output back. It takes neither busy
// nor the supervisor's step lock, so an edit that lands during a long command is applied (and its
// steps and restart run) while the command goes on.
func (s *Server) runCommand(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// a command's output lasts as long as the command: no server deadline may cut it, and its input
	// streams in while its output streams out
	for _, err := range []error{rc.SetWriteDeadline(time.Time{}), rc.EnableFullDuplex()} {
		if err != nil && !errors.Is(err, http.ErrNotSupported) {
			s.cfg.Log.Printf("run: %v", err)
		}
	}
	br := bufio.NewReaderSize(commandInput(r), execChunk)
	req, err := protocol.ReadCommandRequest(br)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	super, err := s.execSupervisor(r.PathValue("container"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	resp, err := s.startCommand(ctx, super, req, br, cancel)
	if err != nil {
		var se *relayError
		if errors.As(err, &se) {
			http.Error(w, se.msg, se.code)
			return
		}
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return // the CLI has gone; cancel (deferred) stops the command
	}
	s.cfg.Log.Printf("run: %s", req.Display())
	ev := protocol.NewEventWriter(w, func() { _ = rc.Flush() })
	res, err := protocol.ReadEvents(resp.Body, func(e protocol.Event) {
		if ev.Write(e) != nil {
			cancel() // the CLI has gone: stop the command
		}
	})
	switch {
	case errors.Is(err, protocol.ErrNoResult):
		res = &protocol.Event{Type: protocol.EventResult, ExitCode: 137,
			Error: "the app container stopped while the command ran (`kubectl fastdev logs` says why)"}
	case err != nil:
		res = &protocol.Event{Type: protocol.EventResult, ExitCode: 1, Error: fmt.Sprintf("supervisor reply: %v", err)}
	}
	s.cfg.Log.Printf("run: %s: exit code %d %s", req.Display(), res.ExitCode, res.Error)
	if err := ev.Write(*res); err != nil {
		s.cfg.Log.Printf("run result not delivered to the CLI: %v", err)
	}
}

// relayError is a refusal the CLI gets as an HTTP status with a message.
type relayError struct {
	code int
	msg  string
}

func (e *relayError) Error() string { return e.msg }

// execSupervisor is the client of app container name's supervisor: the first container's for "".
// A name the pod's synclet was not started with (--app) is refused with the ones it has: the rules
// changed since the pod was injected.
func (s *Server) execSupervisor(name string) (*http.Client, error) {
	if name == "" {
		return s.super, nil
	}
	if c, ok := s.apps[name]; ok {
		return c.http, nil
	}
	names := make([]string, 0, len(s.apps))
	for n := range s.apps {
		names = append(names, n)
	}
	sort.Strings(names)
	have := "none"
	if len(names) > 0 {
		have = strings.Join(names, ", ")
	}
	return nil, fmt.Errorf("this pod has no app container %q under fastdev (besides the first it has: %s): run `kubectl fastdev up` again to re-inject with the current rules", name, have)
}

// startCommand sends req to the supervisor super, with the rest of br as the command's input when asked
// for, and returns its reply once the command has started. A broken input stream from the CLI
// cancels: the CLI has gone.
func (s *Server) startCommand(ctx context.Context, super *http.Client, req protocol.CommandRequest, br *bufio.Reader, cancel func()) (*http.Response, error) {
	var first bytes.Buffer
	if err := protocol.WriteCommandRequest(&first, req); err != nil {
		return nil, err
	}
	body := io.Reader(&first)
	if req.Stdin {
		body = io.MultiReader(&first, &cancelOnError{r: br, cancel: cancel})
	} else {
		go func() { // nothing more is sent: a read that fails means the CLI has gone
			if _, err := io.Copy(io.Discard, br); err != nil {
				cancel()
			}
		}()
	}
	sreq, err := http.NewRequestWithContext(ctx, http.MethodPost, supervisorExecURL, body)
	if err != nil {
		return nil, fmt.Errorf("building the run request: %w", err)
	}
	resp, err := super.Do(sreq)
	if err != nil {
		var ne *net.OpError
		if errors.As(err, &ne) && ne.Op == "dial" {
			return nil, &relayError{http.StatusServiceUnavailable, "the app container is not running (starting, or restarting after a crash): try again in a moment; `kubectl fastdev logs` says why it stopped"}
		}
		return nil, fmt.Errorf("asking the supervisor to run the command: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		msg, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if err != nil {
			msg = fmt.Appendf(msg, " (reply cut short: %v)", err)
		}
		return nil, &relayError{resp.StatusCode, string(bytes.TrimSpace(msg))}
	}
	return resp, nil
}

// cancelOnError passes reads through and cancels when one fails other than at the end.
type cancelOnError struct {
	r      io.Reader
	cancel func()
}

func (c *cancelOnError) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		c.cancel()
	}
	return n, err
}

// commandInput is r's body as a command's input: without the per-read idle bound the server puts on
// request bodies, since a command's input is silent for as long as its user does not type.
func commandInput(r *http.Request) io.Reader {
	if ib, ok := r.Body.(*idleBody); ok {
		return ib.ReadCloser
	}
	return r.Body
}
