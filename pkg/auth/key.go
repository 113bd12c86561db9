// Package auth is kubectl-fastdev's trust model: a developer's ed25519 key kept on their machine, the
// list of public keys a synclet accepts (injected into the pod: nothing secret), and the handshake by
// which each connection to a synclet proves possession of one of those keys before any other request
// is served. It is shared by the CLI (Key, Dialer) and the synclet (Gate); docs/security.md says why.
package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// KeyFile is the private key's file name in the key directory.
const KeyFile = "synclet_ed25519"

// keyAlgo starts every public key line.
const keyAlgo = "ed25519"

// Key is a developer's private key. Its public half is what injection puts into pods.
type Key struct {
	priv    ed25519.PrivateKey
	comment string // who holds it (user@host), shown with the public key
}

// PublicKey is a key a synclet accepts, with the comment that says whose it is.
type PublicKey struct {
	Key     ed25519.PublicKey
	Comment string
}

// Generate makes a new key; comment names its holder (user@host).
func Generate(comment string) (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating a key: %w", err)
	}
	return &Key{priv: priv, comment: oneLine(comment)}, nil
}

// Public returns k's public half.
func (k *Key) Public() PublicKey {
	return PublicKey{Key: k.priv.Public().(ed25519.PublicKey), Comment: k.comment}
}

// DefaultDir is where the CLI keeps its key: kubectl-fastdev under the user's config directory.
func DefaultDir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("finding where to keep the synclet key (set XDG_CONFIG_HOME or HOME): %w", err)
	}
	return filepath.Join(d, "kubectl-fastdev"), nil
}

// LoadOrCreate reads the key in dir, or creates it (dir 0700, file 0600) when there is none. It refuses
// a key file that others than its owner may read or write: anyone holding it may do what `pods/exec`
// allows in every pod injected with its public half. comment names a new key's holder.
func LoadOrCreate(dir, comment string) (*Key, error) {
	path := filepath.Join(dir, KeyFile)
	k, err := load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the key directory: %w", err)
	}
	k, err = Generate(comment)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return nil, fmt.Errorf("encoding the key: %w", err)
	}
	block := &pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Comment": k.comment}, Bytes: der}
	// O_EXCL: two `up`s starting at once on a new machine both end up with the one key that won
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return load(path)
	}
	if err != nil {
		return nil, fmt.Errorf("creating the key: %w", err)
	}
	if err := pem.Encode(f, block); err != nil {
		_ = f.Close() // the write error says what went wrong
		return nil, fmt.Errorf("writing the key %s (remove it and try again): %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing the key %s (remove it and try again): %w", path, err)
	}
	return k, nil
}

// load reads the key at path; an absent file's error wraps fs.ErrNotExist.
func load(path string) (*Key, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("the key %s is not a regular file: remove it, a new key is made at the next `up`", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("the key %s may be read or written by others (mode %04o): run `chmod 600 %s`", path, fi.Mode().Perm(), path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the key: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("the key %s is not a PEM private key: remove it, a new key is made at the next `up`", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	priv, ok := parsed.(ed25519.PrivateKey)
	if err != nil || !ok {
		return nil, fmt.Errorf("the key %s is not an ed25519 key: remove it, a new key is made at the next `up`", path)
	}
	return &Key{priv: priv, comment: oneLine(block.Headers["Comment"])}, nil
}

// String is the key's line in an authorized-keys list: "ed25519 BASE64 comment".
func (p PublicKey) String() string {
	s := keyAlgo + " " + base64.StdEncoding.EncodeToString(p.Key)
	if p.Comment != "" {
		s += " " + p.Comment
	}
	return s
}

// ParseAuthorized reads an authorized-keys list: one key per line as PublicKey.String writes it,
// blank lines skipped.
func ParseAuthorized(s string) ([]PublicKey, error) {
	var out []PublicKey
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.SplitN(line, " ", 3)
		var raw []byte
		err := errors.New("no key")
		if len(f) >= 2 && f[0] == keyAlgo {
			raw, err = base64.StdEncoding.DecodeString(f[1])
		}
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("authorized key %d is not %q followed by a base64 ed25519 public key: run `kubectl fastdev up` again to re-inject", i+1, keyAlgo)
		}
		p := PublicKey{Key: raw}
		if len(f) == 3 {
			p.Comment = f[2]
		}
		out = append(out, p)
	}
	return out, nil
}

// FormatAuthorized writes keys as an authorized-keys list.
func FormatAuthorized(keys []PublicKey) string {
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k.String()
	}
	return strings.Join(lines, "\n")
}

// WithKey returns the authorized-keys list existing with k added (at the end), or existing itself
// when it already holds k: re-running `up` from the same machine changes nothing. An unreadable
// existing list is replaced by k alone.
func WithKey(existing string, k PublicKey) string {
	keys, err := ParseAuthorized(existing)
	if err != nil {
		return k.String()
	}
	if slices.ContainsFunc(keys, func(e PublicKey) bool { return e.Key.Equal(k.Key) }) {
		return existing
	}
	return FormatAuthorized(append(keys, k))
}

// Merge returns the list existing with every key of add that it lacks appended (WithKey for each).
func Merge(existing, add string) string {
	keys, err := ParseAuthorized(add)
	if err != nil {
		return existing
	}
	for _, k := range keys {
		existing = WithKey(existing, k)
	}
	return existing
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), "_")
}
