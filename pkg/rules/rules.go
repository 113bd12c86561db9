// Package rules parses the fastdev.dev/rules Deployment annotation: which
// container to develop, which local directories to sync where, which in-pod
// steps to run after files land, and how to restart the process.
//
// Parsing is strict so that a typo is reported, with its line and key path,
// before anything is patched into the cluster.
package rules

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// MediumMemory is the sync volume medium that backs the synced tree with a tmpfs.
const MediumMemory = "Memory"

// AnnotationKey is the Deployment annotation that holds the rules YAML.
const AnnotationKey = "fastdev.dev/rules"

// restartValues are the restart modes as the annotation spells them.
var restartValues = func() []string {
	var v []string
	for _, r := range protocol.RestartModes() {
		v = append(v, string(r))
	}
	return v
}()

// Sync maps one local directory onto one in-pod directory.
type Sync struct {
	// From is a local, slash-separated, cleaned path relative to the directory
	// `up` runs in; it never starts with "..".
	From string
	// To is an absolute, cleaned in-pod path other than "/".
	To string
	// Ignore holds doublestar globs of paths under From that are not synced.
	Ignore []string
	// Keep holds globs (MatchAny's) of paths the pod owns: they are not synced in either direction, so
	// converge and edits never delete or overwrite them in the pod, and a local file they match is not sent.
	Keep []string
	// Download holds globs (MatchAny's) of files the pod makes that `up` writes to the local tree when a
	// step or a `kubectl fastdev run` command changes them (download.go).
	Download []string
	// SizeLimit caps the in-pod volume (an emptyDir) the entry is synced into; nil means no cap
	// beyond the node's disk (or, with MediumMemory, the pod's memory).
	SizeLimit *resource.Quantity
	// Medium is the emptyDir medium: "" (the node's disk) or MediumMemory (a tmpfs).
	Medium string
	// Line is where the entry starts in the annotation, for error messages.
	Line int
	// App is the app container the entry belongs to: 0 for the first (Rules.Container), i for
	// Rules.More[i-1] (the list form, containers.go).
	App int
}

// Step is one in-pod command run after an update's files land.
type Step struct {
	// Cmd is the command as written in the annotation.
	Cmd string
	// Argv is Cmd split shell-style into words; it is executed without a shell.
	Argv []string
	// Trigger holds globs; the step runs only when a changed path matches one.
	// An empty Trigger runs the step on every update.
	Trigger []string
	// Timeout is how long the step may run before it is stopped with its processes and reported as
	// failed; 0 means protocol.DefaultStepTimeout.
	Timeout time.Duration
	// Line is where the entry starts in the annotation, for error messages.
	Line int
}

// Rules is the parsed, validated content of the fastdev.dev/rules annotation.
type Rules struct {
	// Container names the container to develop; empty means the first one.
	Container string
	// Sync lists the directories to keep in sync; it is never empty.
	Sync []Sync
	// Run lists the in-pod steps, in the order they run.
	Run []Step
	// Restart is how the app picks up an update; it defaults to protocol.RestartProcess.
	Restart protocol.Restart
	// Command is the argv that protocol.RestartProcess restarts when the pod spec has
	// no command of its own; nil means use the pod spec. It takes the place of the image's
	// ENTRYPOINT and CMD both (the supervisor's wrapper replaces them): the pod spec's args,
	// when set, follow it; without them it must hold the CMD too.
	Command []string
	// Fallback holds globs of paths whose change needs a real image rebuild;
	// matching files are reported, not synced.
	Fallback []string
	// Forward lists the ports `up` forwards from the developer's machine. Nil (no key) forwards
	// the container's declared ports; an empty list forwards none.
	Forward []Forward
	// Synclet sets the requests and limits of the containers injection adds; zero keeps the defaults.
	Synclet Synclet
	// Debug, when set, runs the app under Delve (debug.go); nil unless the rules or `up --debug` ask.
	Debug *Debug
	// More lists the app containers developed besides the first, in the list form's order
	// (containers.go); their sync entries are in Sync, marked by Sync.App. Nil in the single form.
	More []App
	// Listed is set when the rules use the list form (containers:), even with one item: messages then
	// name a sync entry as containers[k].sync[j] (SyncKey).
	Listed bool
}

// Error is a mistake in the annotation. It names the line (1-based, within the
// annotation text) and the key path, such as "sync[0].to", so the user can fix
// it; Line is 0 and Key is empty when they are not known.
type Error struct {
	Key  string
	Line int
	Msg  string
}

// Error renders the mistake as
// `annotation fastdev.dev/rules, line 3, key "sync[0].to": <message>`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("annotation " + AnnotationKey)
	if e.Line > 0 {
		fmt.Fprintf(&b, ", line %d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ", key %q", e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

func errorf(key string, line int, format string, args ...any) *Error {
	return &Error{Key: key, Line: line, Msg: fmt.Sprintf(format, args...)}
}

var topKeys = []string{"container", "sync", "run", "restart", "command", "fallback", "forward", "synclet", "debug", "containers"}

// Parse reads the annotation text strictly and returns validated rules, or an
// *Error for the first mistake found.
func Parse(text string) (*Rules, error) {
	root, err := document(text)
	if err != nil {
		return nil, err
	}
	if root == nil || isNull(root) {
		return nil, errorf("sync", 1, `is required, but the annotation is empty: add at least "sync: [{from: ./src, to: /app/src}]"`)
	}
	if root.Kind != yaml.MappingNode {
		return nil, errorf("", root.Line, "must be a YAML mapping with keys such as sync, run and restart, not %s", describe(root))
	}
	fields, err := mapping(root, "", topKeys)
	if err != nil {
		return nil, err
	}

	r := &Rules{Restart: protocol.RestartProcess}
	if f, ok := fields["containers"]; ok {
		if err := r.parseContainers(f, fields); err != nil {
			return nil, err
		}
	} else if err := r.parseApp(fields, "", root.Line); err != nil {
		return nil, err
	}
	return r, r.parseShared(fields)
}

// parseApp reads the keys that describe one app container (appKeys) from fields, into r's own.
func (r *Rules) parseApp(fields map[string]field, at string, line int) error {
	var err error
	if f, ok := fields["container"]; ok {
		if r.Container, err = containerName(f.val, f.path); err != nil {
			return err
		}
	}
	f, ok := fields["sync"]
	if !ok {
		return errorf(join(at, "sync"), line, `is required: add at least one entry such as "sync: [{from: ./src, to: /app/src}]"`)
	}
	if r.Sync, err = parseSyncs(f); err != nil {
		return err
	}
	if f, ok := fields["run"]; ok {
		if r.Run, err = parseSteps(f); err != nil {
			return err
		}
	}
	if f, ok := fields["restart"]; ok {
		if r.Restart, err = parseRestart(f.val, f.path); err != nil {
			return err
		}
	}
	if f, ok := fields["command"]; ok {
		if r.Command, err = parseCommand(f.val, f.path); err != nil {
			return err
		}
	}
	return nil
}

// parseShared reads the keys that hold for the whole pod.
func (r *Rules) parseShared(fields map[string]field) error {
	var err error
	if f, ok := fields["fallback"]; ok {
		if r.Fallback, err = patterns(f.val, "fallback"); err != nil {
			return err
		}
	}
	if f, ok := fields["forward"]; ok {
		if r.Forward, err = parseForwards(f); err != nil {
			return err
		}
	}
	if f, ok := fields["synclet"]; ok {
		if r.Synclet, err = parseSynclet(f); err != nil {
			return err
		}
	}
	if f, ok := fields["debug"]; ok {
		if r.Debug, err = parseDebug(f); err != nil {
			return err
		}
	}
	return nil
}

// document decodes exactly one YAML document and returns its root node, or nil
// when the text holds no document at all.
func document(text string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(strings.NewReader(text))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(text, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, errorf("", extra.Line, `holds a second YAML document: remove the "---" separator and keep one document`)
	case !errors.Is(err, io.EOF):
		return nil, syntaxError(text, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	return resolve(doc.Content[0]), nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a YAML library error into an *Error carrying its line.
func syntaxError(text string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1]) // digits by the pattern: only an overflow fails, which no line number reaches
		msg = m[2]
	}
	hint := "check the indentation, and quote values that contain \": \" or \" #\""
	switch lines := strings.Split(text, "\n"); {
	case line > 0 && line <= len(lines) && strings.Contains(lines[line-1], "\t"):
		hint = "indent with spaces, not tabs"
	case strings.Contains(msg, "anchor"):
		hint = "define an anchor (&name) before referring to it (*name)"
	}
	return errorf("", line, "invalid YAML: %s; %s", msg, hint)
}
