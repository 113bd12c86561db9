// Package watch reports what changes under a local directory tree, in batches: every path created,
// changed, removed or renamed, grouped until the tree has been quiet for a short window (or, for a
// lone save, only a few milliseconds: see settle.go).
package watch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"
)

const (
	// DefaultQuiet is the quiet window when Options.Quiet is zero. Editors save a file as several
	// events (write a temp file, rename it over the original, chmod it), and tools touch a few files
	// at once; a few tens of milliseconds sees each of those as one change without adding a delay a
	// person would notice next to the sync and restart that follow.
	DefaultQuiet = 20 * time.Millisecond

	// DefaultPollInterval is how often the polling watcher rescans the tree when
	// Options.PollInterval is zero (and the tree is small enough: see pollShare).
	DefaultPollInterval = 100 * time.Millisecond

	// defaultMaxDelay bounds how long a batch is held when the tree never goes quiet, such as a log
	// file inside the root appended every few milliseconds, which would otherwise hold back every edit.
	defaultMaxDelay = 500 * time.Millisecond
)

// Options tune a Watcher. The zero value watches with fsnotify, reports every path and drops warnings.
type Options struct {
	// Quiet is the quiet window: a batch is flushed after no event for this long (default DefaultQuiet).
	Quiet time.Duration
	// Settle, when positive and shorter than Quiet, flushes a lone change (the first few paths after
	// the tree was quiet for Quiet) once no event came for Settle, instead of waiting the quiet
	// window; a burst still waits the window (settle.go). Zero: every batch waits the window.
	Settle time.Duration
	// Poll rescans the tree every PollInterval instead of using file system events, for file systems
	// that deliver none (some network and VM-shared mounts).
	Poll bool
	// PollInterval is the rescan period when polling. Zero means DefaultPollInterval, lengthened on a
	// tree whose rescan would otherwise take more than pollShare of the time; a period given is kept
	// as it is, however long a rescan takes.
	PollInterval time.Duration
	// Ignore reports paths not to watch or report; rel is a slash path relative to the root. It may
	// be called from several goroutines at once.
	Ignore func(rel string, isDir bool) bool
	// Warn receives human-facing warnings, such as falling back to polling and how to avoid it.
	Warn func(msg string)
}

// Batch is what changed since the previous batch.
type Batch struct {
	// Paths are sorted, deduplicated slash paths relative to the root of everything created, changed,
	// removed or renamed (both the old and the new name). A removed or renamed directory is reported
	// by its own path; "." means events were lost and the whole tree must be compared.
	Paths []string
	// First is when the first event of the batch arrived, Flushed when the quiet window (or the
	// settle time) ended.
	First, Flushed time.Time
}

// Watcher watches a directory tree; create it with New and start it with Run.
type Watcher struct {
	root  string // absolute and clean
	opts  Options
	out   chan Batch
	ready chan struct{}

	// maxDelay is defaultMaxDelay; tests change it.
	maxDelay time.Duration
	// addWatch adds one directory to fw; tests replace it to simulate a full inotify watch table.
	addWatch func(fw *fsnotify.Watcher, dir string) error

	// The rest is owned by the goroutine running Run.
	fw      *fsnotify.Watcher // nil when not using events
	dirs    map[string]bool   // directories seen by fw, by slash path relative to root: true if watched, false if ignored
	poll    *poller           // non-nil once polling
	retire  <-chan time.Time  // fires when fw, replaced by polling, should be closed
	pending map[string]struct{}
	first   time.Time
	last    time.Time // when the latest event was reported
	events  int       // reported events so far; a change restarts the quiet window
	// settling is set while the pending batch may still leave after the settle time (settle.go).
	settling bool
}

// New checks that root is a directory and prepares a Watcher for it; nothing is watched until Run.
func New(root string, opts Options) (*Watcher, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("watching %s: not a directory", root)
	}
	if opts.Quiet <= 0 {
		opts.Quiet = DefaultQuiet
	}
	if opts.PollInterval < 0 {
		return nil, fmt.Errorf("watching %s: negative poll interval %s", root, opts.PollInterval)
	}
	if opts.Settle < 0 {
		return nil, fmt.Errorf("watching %s: negative settle time %s", root, opts.Settle)
	}
	return &Watcher{
		root:     filepath.Clean(abs),
		opts:     opts,
		out:      make(chan Batch),
		ready:    make(chan struct{}),
		maxDelay: defaultMaxDelay,
		addWatch: func(fw *fsnotify.Watcher, dir string) error { return fw.Add(dir) },
		pending:  map[string]struct{}{},
	}, nil
}

// Batches delivers the batches; it is closed when Run returns. A batch waits, and keeps growing,
// until it is received.
func (w *Watcher) Batches() <-chan Batch { return w.out }

// Ready is closed once the whole tree is being watched: a change made after that is reported. A
// caller that compares the tree with a copy should do it after Ready, so that no edit falls between.
// It stays open if Run fails to start.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Run watches until ctx is cancelled, then returns nil and closes Batches. It returns an error only
// when the tree cannot be watched at all.
func (w *Watcher) Run(ctx context.Context) error {
	defer close(w.out)
	var err error
	if w.opts.Poll {
		err = w.startPoll()
	} else {
		err = w.startNotify()
	}
	defer w.stop()
	if err != nil {
		return err
	}
	close(w.ready)
	return w.loop(ctx)
}

// loop turns file events into batches: a batch is offered once no event came for the quiet window,
// or the settle time for a lone change (or maxDelay after its first event), and keeps growing until
// it is received.
func (w *Watcher) loop(ctx context.Context) error {
	var err error
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	defer quiet.Stop()
	var (
		out   chan Batch // w.out when a batch is ready to send, else nil
		batch Batch
	)
	for {
		var fsEvents <-chan fsnotify.Event
		var fsErrors <-chan error
		if w.fw != nil {
			fsEvents, fsErrors = w.fw.Events, w.fw.Errors
		}
		pollEvents, pollErrors := w.poll.channels()

		before := w.events
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fsEvents:
			if !ok {
				w.fw = nil // closed under us; polling, if any, carries on
				break
			}
			err = w.onNotify(ev)
		case e, ok := <-fsErrors:
			if !ok {
				w.fw = nil
				break
			}
			w.onNotifyError(e)
		case ev := <-pollEvents:
			w.onPoll(ev)
		case e := <-pollErrors:
			w.onPollError(e)
		case <-w.retire:
			w.closeNotify()
		case now := <-quiet.C:
			batch = Batch{Paths: sortedKeys(w.pending), First: w.first, Flushed: now}
			out = w.out
		case out <- batch:
			clear(w.pending)
			out, batch = nil, Batch{}
		}
		if err != nil {
			return err
		}
		if w.events != before {
			// A new event: the window starts again, but never past maxDelay after the first event.
			out = nil
			quiet.Reset(min(w.window(), time.Until(w.first.Add(w.maxDelay))))
		}
	}
}

// report adds rel to the next batch unless it is ignored.
func (w *Watcher) report(rel string, isDir bool) {
	if w.ignored(rel, isDir) {
		return
	}
	now := time.Now()
	if len(w.pending) == 0 {
		w.first = now
		w.settling = w.quietBefore(now)
	}
	w.last = now
	w.pending[rel] = struct{}{}
	w.events++
}

func (w *Watcher) ignored(rel string, isDir bool) bool {
	return rel != "." && w.opts.Ignore != nil && w.opts.Ignore(rel, isDir)
}

func (w *Watcher) warn(format string, args ...any) {
	if w.opts.Warn != nil {
		w.opts.Warn(fmt.Sprintf(format, args...))
	}
}

// rel turns an absolute path from a watcher into a slash path relative to the root.
func (w *Watcher) rel(abs string) (string, bool) {
	rel, err := filepath.Rel(w.root, abs)
	if err != nil || rel == ".." || len(rel) > 2 && rel[:3] == ".."+string(filepath.Separator) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// stop releases whatever Run started.
func (w *Watcher) stop() {
	w.closeNotify()
	if w.poll != nil {
		w.poll.stop()
		w.poll = nil
	}
}

func sortedKeys(m map[string]struct{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
