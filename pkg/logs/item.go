// Package logs turns the log lines of dev pods into what `kubectl fastdev logs` and the live view of
// `up` show: plain lines, and error blocks (Go panics and goroutine dumps, Go compiler errors, Python
// tracebacks, Java exceptions, Node.js stack traces, failed synclet steps) grouped as one item each.
// It also groups identical items from several replicas and maps in-pod paths to local ones. It does
// no I/O and knows nothing of the Kubernetes API: callers feed it lines and render what it returns.
package logs

import (
	"sort"
	"time"
)

// Line is one line of one container's log.
type Line struct {
	Pod, Container string
	Time           time.Time
	Text           string
}

// Kind says what an Item is.
type Kind string

const (
	// KindLog is one plain log line.
	KindLog Kind = "log"
	// KindError is a multi-line error block: a stack trace, compiler errors, a failed build step.
	KindError Kind = "error"
	// KindEvent is a Warning event of a pod (probe failures, image pulls, back-offs, scheduling).
	KindEvent Kind = "event"
	// KindExit is a container that ended with an error: its reason and exit code.
	KindExit Kind = "exit"
	// KindWaiting is a container that cannot run: CrashLoopBackOff, ImagePullBackOff and the like.
	KindWaiting Kind = "waiting"
)

// IsError reports whether the kind is one that `logs --errors` shows (everything but plain lines).
func (k Kind) IsError() bool { return k != KindLog }

// Error block types (Item.Type of a KindError item).
const (
	TypeGoPanic = "go-panic" // panic, fatal error, fatal signal, http: panic serving
	TypeGoStack = "go-stack" // a goroutine dump without a panic
	TypeGoBuild = "go-build" // Go compiler errors
	TypePython  = "python"   // a traceback, with its chained exceptions
	TypeJava    = "java"     // an exception with its Caused by and Suppressed sections
	TypeNode    = "node"     // a Node.js error with its stack (and source line when uncaught)
	TypeStep    = "step"     // a failed in-pod step (from the synclet's log) with its output
)

// Item is one thing to show: a plain line, an error block, an event or a container's exit.
type Item struct {
	Kind Kind
	// Type is the kind of error block, the event's reason, or the exit or waiting reason.
	Type           string
	Pod, Container string
	Time           time.Time
	// Text is the line, the block's lines joined with "\n", or the event's message.
	Text string
	// ExitCode is set for KindExit.
	ExitCode int
	// Retry is set for an app exit (TypeAppExit): how long after Time the supervisor starts the app
	// again (an update starts it at once).
	Retry time.Duration
	// Pods lists every pod that reported the same item (see Grouper); empty means just Pod.
	Pods []string
	// Locations are the paths in Text that lie under a sync `to` path, with their local paths.
	Locations []Location
}

// Count is the number of pods that reported the item.
func (it Item) Count() int {
	if len(it.Pods) == 0 {
		return 1
	}
	return len(it.Pods)
}

// Location is one in-pod path:line of an item's text and the local file it was synced from.
type Location struct {
	Line   int    // index of the line in Text
	Remote string // as written in the text, e.g. /app/src/main.go:30 or ./main.go:22:18
	Local  string // e.g. web-go/src/main.go:30 or web-go/src/main.go:22:18
}

// SortByTime orders items by time, keeping the order of items with the same time.
func SortByTime(items []Item) {
	sort.SliceStable(items, func(i, j int) bool { return items[i].Time.Before(items[j].Time) })
}
