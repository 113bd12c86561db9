package syncletclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// ErrNoRun means the pod's synclet predates `kubectl fastdev run`.
var ErrNoRun = errors.New("this pod's synclet is older than `kubectl fastdev run`: run `kubectl fastdev up` to inject the current synclet, then try again")

// ErrNoRunIn means the pod's synclet predates `kubectl fastdev run -c` for an app container other
// than the first.
var ErrNoRunIn = errors.New("this pod's synclet is older than `kubectl fastdev run -c` for a container other than the first listed: run `kubectl fastdev up` to inject the current synclet, then try again")

// Run runs req.Argv in the pod's first app container through its supervisor and passes each chunk of
// its output (EventStdout, EventStderr) to onOutput as it comes. When req.Stdin is set, stdin is the
// command's input until it ends. It returns the result event: ExitCode is the command's, and Error
// says why it did not run. Ending ctx stops the command (the synclet sees the connection go).
func (c *Client) Run(ctx context.Context, req protocol.CommandRequest, stdin io.Reader, onOutput func(protocol.Event)) (*protocol.Event, error) {
	return c.RunIn(ctx, "", req, stdin, onOutput)
}

// RunIn is Run in app container container of a pod whose rules list several, through that
// container's own supervisor; "" is the first.
func (c *Client) RunIn(ctx context.Context, container string, req protocol.CommandRequest, stdin io.Reader, onOutput func(protocol.Event)) (*protocol.Event, error) {
	var first bytes.Buffer
	if err := protocol.WriteCommandRequest(&first, req); err != nil {
		return nil, err
	}
	body := io.Reader(&first)
	if req.Stdin {
		body = io.MultiReader(&first, stdin)
	}
	resp, err := c.request(ctx, http.MethodPost, protocol.RunPathFor(container), body)
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		if container != "" {
			return nil, ErrNoRunIn
		}
		return nil, ErrNoRun
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	res, err := protocol.ReadEvents(resp.Body, onOutput)
	var bad *protocol.MalformedEventError
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.As(err, &bad):
		return nil, fmt.Errorf("reading the synclet's reply: %w", err)
	case errors.Is(err, protocol.ErrNoResult):
		return nil, errors.New("the connection to the synclet ended before the command did (the pod may have gone): its exit code is unknown")
	case err != nil:
		return nil, fmt.Errorf("reading the command's output: %w", err)
	}
	return res, nil
}
