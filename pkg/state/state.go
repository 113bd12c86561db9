// Package state records, on the developer's machine, what a running `kubectl fastdev up` is doing for
// each Deployment (pods connected, last sync, last latency, last error), so `status` can show it.
package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// PodRecord is the CLI's view of one pod.
type PodRecord struct {
	Connected     bool      `json:"connected"`
	LastSync      time.Time `json:"lastSync,omitempty"`
	LastLatencyMs float64   `json:"lastLatencyMs,omitempty"`
	LastFiles     int       `json:"lastFiles,omitempty"`
	LastError     string    `json:"lastError,omitempty"`
	// Converged is when `up` last found the pod equal to the local tree after comparing all of it (at
	// each connect); zero while it never did, so the pod may still run the image's code.
	Converged time.Time `json:"converged,omitzero"`
}

// Record is what one `up` process records about one Deployment it serves.
type Record struct {
	Server    string                `json:"server"`
	Namespace string                `json:"namespace"`
	Name      string                `json:"name"`
	PID       int                   `json:"pid"`
	Started   time.Time             `json:"started"`
	Pods      map[string]*PodRecord `json:"pods"`
	// Forwards are the local URLs `up` forwards to the Deployment's pods while it runs.
	Forwards []ForwardRecord `json:"forwards,omitempty"`
}

// ForwardRecord is one forward of a running `up`: connections to URL go to RemotePort of a ready pod.
type ForwardRecord struct {
	URL        string `json:"url"`
	RemotePort int    `json:"remotePort"`
}

// Store keeps records as small JSON files in a directory.
type Store struct{ Dir string }

// DefaultStore is under the user's cache directory.
func DefaultStore() Store {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return Store{Dir: filepath.Join(dir, "kubectl-fastdev", "state")}
}

// path is the record's file. A name of another kind than Deployment is "statefulset/db": its slash
// becomes a "~", which no object name has, so the file stays in Dir and apart from Deployment "db".
func (s Store) path(server, ns, name string) string {
	h := sha256.Sum256([]byte(server))
	return filepath.Join(s.Dir, hex.EncodeToString(h[:6])+"_"+ns+"_"+strings.ReplaceAll(name, "/", "~")+".json")
}

// Write replaces the record atomically.
func (s Store) Write(d *Record) error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("creating the state directory: %w", err)
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the record of %s: %w", d.Name, err)
	}
	p := s.path(d.Server, d.Namespace, d.Name)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("writing the record of %s: %w", d.Name, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("writing the record of %s: %w", d.Name, err)
	}
	return nil
}

// Read returns the record, or nil when there is none.
func (s Store) Read(server, ns, name string) (*Record, error) {
	p := s.path(server, ns, name)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the status record of %s: %w", name, err)
	}
	var d Record
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("reading the status record of %s (%s): %w", name, p, err)
	}
	return &d, nil
}

// Live reports whether the `up` process that wrote the record still runs.
func (d *Record) Live() bool {
	return d != nil && ProcessAlive(d.PID)
}
