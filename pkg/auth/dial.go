package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// handshakeTimeout bounds the two round trips of a handshake when the caller's context does not.
const handshakeTimeout = 30 * time.Second

// DialFunc dials a connection, as http.Transport.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// RefusedError is a synclet's refusal of a handshake, with its HTTP status: 401 when it does not accept
// the key, 409 when it speaks another protocol version.
type RefusedError struct {
	Code int
	Msg  string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("synclet refused the connection's key (%d): %s", e.Code, e.Msg)
}

// Dialer returns a DialContext for an http.Transport whose every connection proves k before the
// transport sends anything on it; dial nil dials TCP. A transport that keeps its connection alive
// pays the two round trips once, not per request.
func Dialer(k *Key, dial DialFunc) DialFunc {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if err := Handshake(ctx, c, addr, k); err != nil {
			_ = c.Close() // the handshake's error is the one to report
			return nil, err
		}
		return c, nil
	}
}

// Handshake proves k on the fresh connection c to the synclet at host: it asks for a nonce and sends
// it back signed. On success c is an ordinary HTTP/1.1 connection the synclet serves.
func Handshake(ctx context.Context, c net.Conn, host string, k *Key) error {
	deadline := time.Now().Add(handshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.SetDeadline(deadline); err != nil {
		return fmt.Errorf("handshake with the synclet: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) }) // wakes the reads below
	defer stop()
	br := bufio.NewReader(c)
	var ch Challenge
	if err := exchange(c, br, host, http.MethodGet, protocol.PathChallenge, nil, http.StatusOK, &ch); err != nil {
		return err
	}
	if len(ch.Nonce) != nonceSize {
		return fmt.Errorf("handshake with the synclet: a nonce of %d bytes, want %d", len(ch.Nonce), nonceSize)
	}
	body, err := json.Marshal(Proof{Key: k.Public().String(), Signature: ed25519.Sign(k.priv, signed(ch.Nonce))})
	if err != nil {
		return fmt.Errorf("handshake with the synclet: %w", err)
	}
	if err := exchange(c, br, host, http.MethodPost, protocol.PathAuth, body, http.StatusNoContent, nil); err != nil {
		return err
	}
	if br.Buffered() > 0 {
		return fmt.Errorf("handshake with the synclet: %d unexpected bytes after its answer", br.Buffered())
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return c.SetDeadline(time.Time{})
}

// exchange sends one request on c and reads its reply from br; a reply other than want is a
// *RefusedError, and a JSON reply is decoded into into when it is not nil.
func exchange(c net.Conn, br *bufio.Reader, host, method, path string, body []byte, want int, into any) error {
	req, err := http.NewRequest(method, "http://"+host+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("handshake with the synclet: %w", err)
	}
	req.Header.Set(protocol.VersionHeader, protocol.Version)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := req.Write(c); err != nil {
		return fmt.Errorf("handshake with the synclet: %w", err)
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return fmt.Errorf("handshake with the synclet: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("handshake with the synclet: %w", err)
	}
	if resp.StatusCode != want {
		return &RefusedError{Code: resp.StatusCode, Msg: strings.TrimSpace(string(raw))}
	}
	if into != nil {
		if err := json.Unmarshal(raw, into); err != nil {
			return fmt.Errorf("handshake with the synclet: reading %s: %w", path, err)
		}
	}
	return nil
}
