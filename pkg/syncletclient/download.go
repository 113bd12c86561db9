package syncletclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// ErrNoDownload means the pod's synclet predates download patterns.
var ErrNoDownload = errors.New("this pod's synclet is older than download patterns (sync[].download): run `kubectl fastdev up` again to inject the current synclet")

// File reads the regular file rel (a canonical slash path) under sync root root of the pod, at most
// protocol.MaxDownload bytes. A synclet without protocol.PathFile gives ErrNoDownload.
func (c *Client) File(ctx context.Context, root int, rel string) ([]byte, error) {
	q := url.Values{"root": {strconv.Itoa(root)}, "path": {rel}}
	resp, err := c.request(ctx, http.MethodGet, protocol.PathFile+"?"+q.Encode(), nil)
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return nil, ErrNoDownload // a missing file is 410: 404 is an older synclet's mux
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s from the pod: %w", rel, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, protocol.MaxDownload+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s from the pod: %w", rel, err)
	}
	if len(b) > protocol.MaxDownload {
		return nil, fmt.Errorf("reading %s from the pod: more than %d bytes", rel, protocol.MaxDownload)
	}
	return b, nil
}

// Changed asks what changed under the sync roots at or after since (the synclet's clock, from an earlier
// answer's Now); since < 0 asks only for Now. A synclet without protocol.PathChanged gives ErrNoDownload.
func (c *Client) Changed(ctx context.Context, since int64) (*protocol.Changed, error) {
	p := protocol.PathChanged
	if since >= 0 {
		p += "?" + url.Values{"since": {strconv.FormatInt(since, 10)}}.Encode()
	}
	var ch protocol.Changed
	err := c.get(ctx, p, "changed files", &ch)
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return nil, ErrNoDownload
	}
	if err != nil {
		return nil, err
	}
	return &ch, nil
}
