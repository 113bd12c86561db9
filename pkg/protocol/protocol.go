// Package protocol is the wire contract between the CLI and the synclet: HTTP/1.1 over one port-forwarded
// connection per pod. A manifest request reports what the pod holds; an update is one POST whose body is a
// tar stream (metadata first, then files) and whose reply is a stream of newline-delimited JSON events.
package protocol

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// DefaultPort is the loopback port the synclet listens on inside the pod. It is recorded on the
// Deployment at injection, so a clash with an app port can be fixed with --synclet-port.
const DefaultPort = 17220

// EnvAuthorizedKeys names the environment variable that carries the public keys the sidecar accepts
// (pkg/auth's format, one per line). It holds nothing secret: see docs/security.md.
const EnvAuthorizedKeys = "FASTDEV_AUTHORIZED_KEYS"

// In-pod paths the synclet and the supervisor agree on. RunDir lies on the tools volume that injection
// mounts into both the sidecar and the app container, so the two reach each other through it.
const (
	// RunDir holds the supervisor's socket and the pending steps.
	RunDir = "/fastdev/run"
	// SupervisorSocket is the unix socket the supervisor takes run requests on.
	SupervisorSocket = RunDir + "/supervisor.sock"
	// PendingFile holds a RunRequest queued while the app container was not running; the supervisor
	// runs its steps before it next starts the app.
	PendingFile = RunDir + "/pending.json"
)

// HTTP paths the synclet serves.
const (
	PathHealth   = "/v1/healthz"
	PathManifest = "/v1/manifest"
	PathUpdate   = "/v1/update"
	PathStatus   = "/v1/status"
	// PathChallenge gives a connection its nonce, and PathAuth takes the signed nonce (pkg/auth): the
	// first two requests of every connection, answered before any other.
	PathChallenge = "/v1/challenge"
	PathAuth      = "/v1/auth"
)

// MetaEntry is the name of the first tar entry of an update: the JSON UpdateMeta.
const MetaEntry = ".fastdev-update.json"

// Version is the protocol version; the synclet refuses a CLI that speaks another one, with a message.
// Version 2: a connection proves a key (PathChallenge, PathAuth) instead of carrying a token.
const Version = "2"

// VersionHeader carries Version on every request.
const VersionHeader = "X-Fastdev-Protocol"

// Manifest is the synclet's answer to PathManifest: one tree per sync root.
type Manifest struct {
	Roots []RootManifest `json:"roots"`
}

// RootManifest is the tree under one sync target, numbered as in the rules' sync list.
type RootManifest struct {
	Root    int          `json:"root"`
	To      string       `json:"to"`
	Entries []tree.Entry `json:"entries"`
	// Free is the space left on the root's volume in bytes; -1 or absent (an older synclet) when unknown.
	Free *int64 `json:"free,omitempty"`
}

// Step is one in-pod command to run after the files land.
type Step struct {
	Argv []string `json:"argv"`
	// Display is the command as the user wrote it in the rules, for messages.
	Display string `json:"display"`
	// TimeoutMs is how long the step may run before the supervisor stops it, in milliseconds. Zero or
	// absent (a CLI older than the field) means DefaultStepTimeout; a synclet older than the field
	// ignores it, so neither side needs a new protocol version.
	TimeoutMs int64 `json:"timeoutMs,omitempty"`
}

// DefaultStepTimeout is how long a step may run when its run entry sets no timeout: long enough for a
// cold dependency install, short enough that a step that never ends (a dev server started by
// mistake) does not hold every later update of its pod for good.
const DefaultStepTimeout = 10 * time.Minute

// FormatTimeout writes a step timeout as the rules spell it: 10m, not 10m0s; 1h30m, not 1h30m0s.
func FormatTimeout(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Timeout is how long the step may run: TimeoutMs, or DefaultStepTimeout when it is not set.
func (s Step) Timeout() time.Duration {
	if s.TimeoutMs <= 0 {
		return DefaultStepTimeout
	}
	return time.Duration(s.TimeoutMs) * time.Millisecond
}

// Restart says how the app picks up an update once its files have landed and its steps have succeeded.
type Restart string

const (
	// RestartProcess restarts the app process under the supervisor; the container and pod keep running.
	RestartProcess Restart = "process"
	// RestartContainer gives the app fresh process state: the supervisor stops every process of the
	// app container (SIGKILL after the grace period) and starts the app as at a container start. The
	// container itself is kept, so the kubelet's crash-loop back-off never delays the next edit.
	RestartContainer Restart = "container"
	// RestartNone leaves the process alone, for apps that reload on their own.
	RestartNone Restart = "none"
)

// RestartModes returns every restart mode, in the order messages list them.
func RestartModes() []Restart { return []Restart{RestartProcess, RestartContainer, RestartNone} }

// UpdateMeta describes an update; the files follow it in the same tar stream.
type UpdateMeta struct {
	ID      string   `json:"id"`
	Deletes []string `json:"deletes,omitempty"` // entry names (see EntryName) to remove
	Steps   []Step   `json:"steps,omitempty"`
	Restart Restart  `json:"restart,omitempty"` // empty: no restart
	// Apps holds the steps and restart of app containers other than the first (apps.go); a synclet
	// older than the field ignores it, which only a pod injected with the rules' list form would need.
	Apps []AppRun `json:"apps,omitempty"`
}

// RunRequest is what the synclet asks of the supervisor over SupervisorSocket, and what waits in
// PendingFile while the app container is not running.
type RunRequest struct {
	Steps   []Step  `json:"steps,omitempty"`
	Restart Restart `json:"restart,omitempty"`
}

// Validate checks what the synclet would act on beyond the files: every step names a program, and the
// restart is one the supervisor knows. The CLI builds metadata from parsed rules, so a failure here means
// a malformed or hand-made update.
func (m UpdateMeta) Validate() error {
	for i, st := range m.Steps {
		if len(st.Argv) == 0 || st.Argv[0] == "" {
			return fmt.Errorf("step %d (%q) has no command", i, st.Display)
		}
		if st.TimeoutMs < 0 {
			return fmt.Errorf("step %d (%q) has a negative timeout (%dms)", i, st.Display, st.TimeoutMs)
		}
	}
	switch m.Restart {
	case "", RestartProcess, RestartContainer, RestartNone:
		return validateApps(m.Apps)
	}
	return fmt.Errorf("restart %q: want process, container or none", m.Restart)
}

// EntryName is the tar entry name of a path under sync root i: "<i>/<rel>".
func EntryName(root int, rel string) string { return strconv.Itoa(root) + "/" + rel }

// SplitEntryName parses an entry name into its sync root and its relative path, refusing anything that
// could land outside the root: absolute paths, "..", empty or non-canonical names, and "." (the root
// itself, which an entry must never chmod or replace).
func SplitEntryName(name string, roots int) (int, string, error) {
	i, rel, ok := strings.Cut(name, "/")
	if !ok {
		return 0, "", fmt.Errorf("entry %q: no sync root prefix", name)
	}
	n, err := strconv.Atoi(i)
	if err != nil || n < 0 || n >= roots || strconv.Itoa(n) != i {
		return 0, "", fmt.Errorf("entry %q: unknown sync root %q", name, i)
	}
	rel = strings.TrimSuffix(rel, "/") // tar marks directories with a trailing slash
	if rel == "" || rel == "." || path.IsAbs(rel) || path.Clean(rel) != rel || rel == ".." || strings.HasPrefix(rel, "../") ||
		strings.ContainsRune(rel, 0) {
		return 0, "", fmt.Errorf("entry %q: path escapes its sync root or is not canonical", name)
	}
	return n, rel, nil
}

// Status is what the synclet reports at PathStatus.
type Status struct {
	Updates     int     `json:"updates"`
	LastUpdate  string  `json:"lastUpdate,omitempty"` // RFC 3339
	LastError   string  `json:"lastError,omitempty"`
	LastTimings Timings `json:"lastTimings"`
	// Runs counts the commands run through PathRun that ended: `up` reads it to learn that one may have
	// changed files its download patterns name (absent from older synclets).
	Runs int `json:"runs,omitempty"`
	// Compressed counts the updates whose body came zstd-compressed (EncodingZstd), with their bytes as
	// received and as decoded (absent from older synclets).
	Compressed        int   `json:"compressed,omitempty"`
	CompressedWire    int64 `json:"compressedWire,omitempty"`
	CompressedDecoded int64 `json:"compressedDecoded,omitempty"`
}
