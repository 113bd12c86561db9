// Package syncletclient is the CLI's client of one pod's synclet: manifest, update and status requests over
// HTTP/1.1 on one kept-alive connection through the pod's port-forward.
package syncletclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/auth"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// Client talks to one synclet.
type Client struct {
	base string
	hc   *http.Client
	// acceptsZstd: the synclet's last reply said it takes zstd update bodies (compress.go)
	acceptsZstd atomic.Bool
}

// New returns a client for the synclet reachable at addr (host:port of the local port-forward) that
// proves key on each connection it opens (pkg/auth).
func New(addr string, key *auth.Key) *Client {
	return &Client{
		base: "http://" + addr,
		// one connection, kept alive: each new connection costs a new stream pair through the API server
		// and the key's handshake (two round trips).
		// ResponseHeaderTimeout bounds a stuck connection: the synclet answers as soon as the files are
		// written (step output streams after that, however long a build takes)
		hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1,
			IdleConnTimeout: 10 * time.Minute, DisableCompression: true, ResponseHeaderTimeout: 2 * time.Minute,
			WriteBufferSize: 64 << 10, DialContext: auth.Dialer(key, nil)}},
	}
}

// Close drops the kept-alive connection.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

func (c *Client) request(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	return c.requestEncoded(ctx, method, path, body, "")
}

// requestEncoded is request with a body in the Content-Encoding enc ("" for none). Every reply
// tells whether the synclet takes zstd bodies.
func (c *Client) requestEncoded(ctx context.Context, method, path string, body io.Reader, enc string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("building the request %s %s: %w", method, path, err)
	}
	req.Header.Set(protocol.VersionHeader, protocol.Version)
	if enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	resp, err := c.hc.Do(req)
	if err == nil {
		c.acceptsZstd.Store(protocol.AcceptsZstd(resp.Header))
	}
	var refused *auth.RefusedError
	if errors.As(err, &refused) {
		return nil, &StatusError{Code: refused.Code, Msg: refused.Msg}
	}
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		msg, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if err != nil {
			msg = fmt.Appendf(msg, " (reply cut short: %v)", err)
		}
		return nil, &StatusError{Code: resp.StatusCode, Msg: string(msg)}
	}
	return resp, nil
}

// StatusError is a synclet reply other than 200.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string { return fmt.Sprintf("synclet answered %d: %s", e.Code, e.Msg) }

// Health checks that the synclet answers on the kept-alive connection, within timeout.
func (c *Client) Health(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := c.request(ctx, http.MethodGet, protocol.PathHealth, nil)
	if err != nil {
		return fmt.Errorf("synclet not answering: %w", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("synclet not answering: %w", err)
	}
	return nil
}

// Manifest asks what the pod holds under each sync root.
func (c *Client) Manifest(ctx context.Context) (*protocol.Manifest, error) {
	var m protocol.Manifest
	if err := c.get(ctx, protocol.PathManifest, "manifest", &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Status asks the synclet for its counters.
func (c *Client) Status(ctx context.Context) (*protocol.Status, error) {
	var s protocol.Status
	if err := c.get(ctx, protocol.PathStatus, "status", &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// get decodes the JSON reply to a GET of path into v; what names the reply in errors.
func (c *Client) get(ctx context.Context, path, what string, v any) error {
	resp, err := c.request(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("reading %s: %w", what, err)
	}
	return nil
}

// smallUpdate is the size below which an update is built in memory and sent with a Content-Length:
// headers and body then leave in one write, so they cross the port-forward (client, API server, kubelet,
// runtime) as one frame instead of one per tar chunk.
const smallUpdate = 1 << 20

// Update sends one update and streams its events to onEvent. It returns the final result event and the
// entries as sent. A transport error means the pod's state is unknown (the caller re-converges); a
// result with Error means the synclet answered and said what failed.
func (c *Client) Update(ctx context.Context, meta protocol.UpdateMeta, puts []archive.Put, onEvent func(protocol.Event)) (*protocol.Event, []archive.Put, error) {
	var size int64
	for _, p := range puts {
		size += p.Entry.Size
	}
	if size < smallUpdate {
		var buf bytes.Buffer
		sent, err := archive.Write(&buf, meta, puts)
		if err != nil {
			return nil, nil, fmt.Errorf("building the update: %w", err)
		}
		b, enc := c.smallBody(ctx, buf.Bytes())
		resp, err := c.requestEncoded(ctx, http.MethodPost, protocol.PathUpdate, bytes.NewReader(b), enc)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		res, err := events(resp.Body, onEvent)
		return res, sent, err
	}
	pr, pw := io.Pipe()
	done := make(chan []archive.Put, 1)
	d := newDecider(pw, c.compressing(ctx), progressHook(ctx)) // compress.go: plain or zstd
	go func() {
		s, err := archive.Write(d, meta, puts)
		if cerr := d.Close(); err == nil {
			err = cerr
		}
		_ = pw.CloseWithError(err) // a pipe's Close never fails; the reader sees err
		done <- s
	}()
	enc := <-d.decided // before anything reaches the pipe
	body := io.Reader(pr)
	if enc == "" {
		body = progressBody(ctx, pr) // the tar itself: counted as the transport reads it
	}
	// finished unblocks the writer if the synclet answered before reading everything, then waits for it
	finished := func() []archive.Put {
		_ = pr.CloseWithError(io.ErrClosedPipe) // a pipe's Close never fails
		return <-done
	}
	resp, err := c.requestEncoded(ctx, http.MethodPost, protocol.PathUpdate, body, enc)
	if err != nil {
		finished()
		return nil, nil, err
	}
	defer resp.Body.Close()
	res, err := events(resp.Body, onEvent)
	sent := finished()
	if err != nil {
		return nil, nil, err
	}
	return res, sent, nil
}

// events reads an update's reply, passing each event but the last to onEvent, and returns the result.
func events(body io.Reader, onEvent func(protocol.Event)) (*protocol.Event, error) {
	res, err := protocol.ReadEvents(body, onEvent)
	var bad *protocol.MalformedEventError
	switch {
	case errors.As(err, &bad):
		return nil, fmt.Errorf("reading synclet reply: %w", err)
	case errors.Is(err, protocol.ErrNoResult):
		return nil, errors.New("synclet closed the update without a result")
	}
	return res, err
}
