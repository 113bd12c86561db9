package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// signedPrefix starts every signed message, so a signature made here is never valid for anything
// else the key might sign.
const signedPrefix = "kubectl-fastdev synclet connection v1\x00"

// nonceSize is the challenge's length in bytes.
const nonceSize = 32

// Proof is the body of a PathAuth request: a public key and its signature of the connection's nonce.
type Proof struct {
	Key       string `json:"key"`       // a PublicKey's String
	Signature []byte `json:"signature"` // ed25519 signature of signedPrefix + nonce
}

// Challenge is the reply to PathChallenge.
type Challenge struct {
	Nonce []byte `json:"nonce"`
}

// Gate is the synclet's side of the handshake: it serves PathChallenge and PathAuth and lets a request
// through only on a connection that has proven one of its keys. State lives per TCP connection
// (ConnContext), so the proof is made once per kept-alive connection, not per request.
type Gate struct {
	keys []PublicKey
}

// NewGate returns a gate accepting the keys of an authorized-keys list; it refuses an empty one, since
// a synclet nobody may reach is a mistake in the injection.
func NewGate(authorized string) (*Gate, error) {
	keys, err := ParseAuthorized(authorized)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", protocol.EnvAuthorizedKeys, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no authorized keys: the synclet refuses to serve without %s (run `kubectl fastdev up` again to re-inject)", protocol.EnvAuthorizedKeys)
	}
	return &Gate{keys: keys}, nil
}

// conn is the handshake's state for one TCP connection.
type conn struct {
	mu     sync.Mutex
	nonce  []byte // issued and not yet used
	proven bool
}

type connKey struct{}

// ConnContext is for http.Server.ConnContext: it gives each connection its own handshake state.
func (g *Gate) ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &conn{})
}

// Wrap returns next behind the gate: the handshake's two paths are served here, every other request
// needs a proven connection (401 otherwise). A request without connection state (a server without
// ConnContext) is refused like an unproven one.
func (g *Gate) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Context().Value(connKey{}).(*conn)
		if c == nil {
			http.Error(w, "this connection has proven no key", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case protocol.PathChallenge:
			g.challenge(w, r, c)
		case protocol.PathAuth:
			g.prove(w, r, c)
		default:
			c.mu.Lock()
			ok := c.proven
			c.mu.Unlock()
			if !ok {
				http.Error(w, "this connection has proven no key: the synclet accepts only the keys `kubectl fastdev up` injected", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		}
	})
}

func (g *Gate) challenge(w http.ResponseWriter, r *http.Request, c *conn) {
	if r.Method != http.MethodGet {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	nonce := make([]byte, nonceSize)
	// crypto/rand.Read never returns an error (Go 1.24 and later: it crashes the program instead)
	_, _ = rand.Read(nonce)
	c.mu.Lock()
	c.nonce = nonce
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	// a reply the client did not get leaves it without a nonce: it fails its handshake and reconnects
	_ = json.NewEncoder(w).Encode(Challenge{Nonce: nonce})
}

func (g *Gate) prove(w http.ResponseWriter, r *http.Request, c *conn) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var p Proof
	err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&p)
	c.mu.Lock()
	nonce := c.nonce
	c.nonce = nil // one try per challenge
	c.mu.Unlock()
	if err == nil {
		err = g.verify(nonce, p)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	c.mu.Lock()
	c.proven = true
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// verify checks that p signs nonce with one of g's keys.
func (g *Gate) verify(nonce []byte, p Proof) error {
	if nonce == nil {
		return errors.New("no challenge on this connection: ask " + protocol.PathChallenge + " first")
	}
	keys, err := ParseAuthorized(p.Key)
	if err != nil || len(keys) != 1 {
		return errors.New("the proof names no ed25519 public key")
	}
	for _, k := range g.keys {
		if k.Key.Equal(keys[0].Key) {
			if !ed25519.Verify(k.Key, signed(nonce), p.Signature) {
				return errors.New("the signature does not match the key")
			}
			return nil
		}
	}
	return fmt.Errorf("key %s is not authorized in this pod: run `kubectl fastdev up` (with --take-over if another up holds the Deployment) to inject it", keys[0])
}

func signed(nonce []byte) []byte {
	return append([]byte(signedPrefix), nonce...)
}
