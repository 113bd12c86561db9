package syncletclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// Debug asks the synclet to have the app run under Delve (protocol.PathDebug) and returns once Delve
// listens in the pod. It is idempotent: a pod already debugging on that port is left as it is.
func (c *Client) Debug(ctx context.Context, req protocol.DebugRequest) (*protocol.DebugReply, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	resp, err := c.request(ctx, http.MethodPost, protocol.PathDebug, bytes.NewReader(body))
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return nil, fmt.Errorf("the pod's synclet predates `up --debug`: run `kubectl fastdev down` and `kubectl fastdev up --debug` to inject the current one")
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var reply protocol.DebugReply
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
		return nil, fmt.Errorf("reading the synclet's debug reply: %w", err)
	}
	return &reply, nil
}
