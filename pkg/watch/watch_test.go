package watch

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// timeout is generous: these tests must pass on a busy two-core machine. Nothing asserts that an
// event arrives quickly, only that it arrives.
const timeout = 20 * time.Second

var modes = []struct {
	name string
	poll bool
}{
	{"fsnotify", false},
	{"poll", true},
}

type harness struct {
	t    *testing.T
	root string
	w    *Watcher

	mu    sync.Mutex
	warns []string
}

// start runs a Watcher on root until the test ends; setup, if given, may change the Watcher's
// unexported fields before Run.
func start(t *testing.T, root string, opts Options, setup func(*Watcher)) *harness {
	t.Helper()
	h := &harness{t: t, root: root}
	opts.Warn = func(msg string) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.warns = append(h.warns, msg)
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 20 * time.Millisecond
	}
	w, err := New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(w)
	}
	h.w = w
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		deadline := time.After(timeout)
		for {
			select {
			case _, ok := <-w.Batches():
				if ok {
					continue
				}
				if err := <-errc; err != nil {
					t.Errorf("Run: %v", err)
				}
				return
			case <-deadline:
				t.Errorf("Batches not closed %s after cancel", timeout)
				return
			}
		}
	})
	select {
	case <-w.Ready():
	case err := <-errc:
		t.Fatalf("Run failed to start: %v", err)
	case <-time.After(timeout):
		t.Fatalf("watcher not ready after %s", timeout)
	}
	return h
}

// collect gathers batches until every wanted path has been reported, and returns all paths seen.
func (h *harness) collect(want ...string) []string {
	h.t.Helper()
	seen := map[string]bool{}
	deadline := time.After(timeout)
	for {
		missing := slices.DeleteFunc(slices.Clone(want), func(p string) bool { return seen[p] })
		if len(missing) == 0 {
			return sortedSet(seen)
		}
		select {
		case b, ok := <-h.w.Batches():
			if !ok {
				h.t.Fatalf("Batches closed; missing %v", missing)
			}
			checkBatch(h.t, b)
			for _, p := range b.Paths {
				seen[p] = true
			}
		case <-deadline:
			h.t.Fatalf("after %s still missing %v; got %v", timeout, missing, sortedSet(seen))
		}
	}
}

func checkBatch(t *testing.T, b Batch) {
	t.Helper()
	if len(b.Paths) == 0 {
		t.Errorf("empty batch")
	}
	if !slices.IsSorted(b.Paths) || len(slices.Compact(slices.Clone(b.Paths))) != len(b.Paths) {
		t.Errorf("paths not sorted and unique: %q", b.Paths)
	}
	if b.First.IsZero() || b.Flushed.Before(b.First) {
		t.Errorf("bad times: first %v, flushed %v", b.First, b.Flushed)
	}
}

func sortedSet(m map[string]bool) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

func (h *harness) warnings() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.warns, "\n")
}

func path(root, rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }

func write(t *testing.T, root, rel, body string) {
	t.Helper()
	p := path(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestChanges(t *testing.T) {
	tests := []struct {
		name     string
		existing []string                        // files present before watching
		change   func(t *testing.T, root string) // done once the watcher is ready
		want     []string                        // paths that must be reported
		then     func(t *testing.T, h *harness)  // optional second step, after want was seen
	}{
		{
			name:   "create file",
			change: func(t *testing.T, root string) { write(t, root, "new.txt", "x") },
			want:   []string{"new.txt"},
		},
		{
			name:     "modify file",
			existing: []string{"src/main.go"},
			change:   func(t *testing.T, root string) { write(t, root, "src/main.go", "package main // edited") },
			want:     []string{"src/main.go"},
		},
		{
			name:     "delete file",
			existing: []string{"old.txt"},
			change:   func(t *testing.T, root string) { must(t, os.Remove(path(root, "old.txt"))) },
			want:     []string{"old.txt"},
		},
		{
			name:     "rename file",
			existing: []string{"a.txt"},
			change:   func(t *testing.T, root string) { must(t, os.Rename(path(root, "a.txt"), path(root, "b.txt"))) },
			want:     []string{"a.txt", "b.txt"},
		},
		{
			name: "new dir with files",
			change: func(t *testing.T, root string) {
				write(t, root, "d/e/f.txt", "x")
				write(t, root, "d/g.txt", "x")
			},
			want: []string{"d", "d/e", "d/e/f.txt", "d/g.txt"},
		},
		{
			name: "dir with files moved in",
			change: func(t *testing.T, root string) {
				outside := t.TempDir()
				write(t, outside, "x/y/z.txt", "x")
				must(t, os.Rename(path(outside, "x"), path(root, "x")))
			},
			want: []string{"x", "x/y", "x/y/z.txt"},
		},
		{
			name:     "delete dir",
			existing: []string{"d/sub/f.txt"},
			change:   func(t *testing.T, root string) { must(t, os.RemoveAll(path(root, "d"))) },
			want:     []string{"d"},
		},
		{
			name:     "rename dir",
			existing: []string{"d/sub/f.txt"},
			change:   func(t *testing.T, root string) { must(t, os.Rename(path(root, "d"), path(root, "e"))) },
			want:     []string{"d", "e"},
			then: func(t *testing.T, h *harness) {
				// The renamed tree is watched under its new name, not the old one.
				write(t, h.root, "e/sub/g.txt", "x")
				if got := h.collect("e/sub/g.txt"); slices.Contains(got, "d/sub/g.txt") {
					t.Errorf("reported under the old name: %v", got)
				}
			},
		},
	}
	for _, mode := range modes {
		for _, tt := range tests {
			t.Run(mode.name+"/"+tt.name, func(t *testing.T) {
				root := t.TempDir()
				for _, f := range tt.existing {
					write(t, root, f, "package main")
				}
				h := start(t, root, Options{Poll: mode.poll}, nil)
				tt.change(t, root)
				h.collect(tt.want...)
				if tt.then != nil {
					tt.then(t, h)
				}
			})
		}
	}
}

func TestIgnored(t *testing.T) {
	ignore := func(rel string, isDir bool) bool {
		return rel == "skip" || strings.HasPrefix(rel, "skip/") || strings.HasSuffix(rel, ".tmp") ||
			rel == "cache" && isDir // a directory-only pattern, like "cache/" in a .gitignore
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, "skip/old.txt", "x")
			write(t, root, "cache/data.bin", "x")
			h := start(t, root, Options{Poll: mode.poll, Ignore: ignore}, nil)
			must(t, os.RemoveAll(path(root, "cache")))
			write(t, root, "skip/a.txt", "x")
			write(t, root, "x.tmp", "x")
			write(t, root, "build.tmp/inner.go", "x") // a new ignored dir is neither watched nor walked
			write(t, root, "done.txt", "x")
			got := h.collect("done.txt")
			for _, p := range got {
				if p != "done.txt" {
					t.Errorf("reported ignored path %q (all: %v)", p, got)
				}
			}
		})
	}
}

func TestBatching(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			root := t.TempDir()
			// A long window and no cap, so that even a slow machine writes everything within one window.
			h := start(t, root, Options{Poll: mode.poll, Quiet: 500 * time.Millisecond},
				func(w *Watcher) { w.maxDelay = time.Hour })
			want := []string{"a.txt", "b.txt", "c/d.txt", "e.txt"}
			for range 3 {
				for _, f := range want {
					write(t, root, f, "x")
				}
			}
			select {
			case b := <-h.w.Batches():
				checkBatch(t, b)
				for _, f := range want {
					if !slices.Contains(b.Paths, f) {
						t.Errorf("first batch %v lacks %q", b.Paths, f)
					}
				}
			case <-time.After(timeout):
				t.Fatalf("no batch after %s", timeout)
			}
		})
	}
}

// TestMaxDelay checks that a tree that never goes quiet still yields batches.
func TestMaxDelay(t *testing.T) {
	root := t.TempDir()
	// The quiet window is far longer than the test: only the cap can flush a batch.
	h := start(t, root, Options{Quiet: time.Hour}, func(w *Watcher) { w.maxDelay = 200 * time.Millisecond })
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				_ = os.WriteFile(path(root, "app.log"), []byte(time.Now().String()), 0o644)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	select {
	case b := <-h.w.Batches():
		if !slices.Contains(b.Paths, "app.log") {
			t.Errorf("batch %v lacks app.log", b.Paths)
		}
	case <-time.After(timeout):
		t.Fatalf("no batch after %s while the tree kept changing", timeout)
	}
}

func TestNewErrors(t *testing.T) {
	root := t.TempDir()
	write(t, root, "file", "x")
	for _, p := range []string{filepath.Join(root, "missing"), filepath.Join(root, "file")} {
		if _, err := New(p, Options{}); err == nil {
			t.Errorf("New(%q) succeeded, want an error", p)
		}
	}
	if _, err := New(root, Options{PollInterval: -time.Second}); err == nil {
		t.Error("New with a negative poll interval succeeded, want an error")
	}
}

// TestPollPeriod: a rescan may take at most 5% of the time; small trees keep the requested period.
func TestPollPeriod(t *testing.T) {
	for _, c := range []struct{ pass, interval, want time.Duration }{
		{2 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond},
		{5 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond},
		{6 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond},
		{450 * time.Millisecond, 100 * time.Millisecond, 9 * time.Second},
		{451 * time.Millisecond, 100 * time.Millisecond, 9100 * time.Millisecond},
		{10 * time.Millisecond, time.Second, time.Second},
	} {
		if got := pollPeriod(c.pass, c.interval); got != c.want {
			t.Errorf("pollPeriod(%s, %s) = %s, want %s", c.pass, c.interval, got, c.want)
		}
	}
}

// TestPollEvery: without a period given, polling starts at the default and slows down on a tree whose
// rescan is long (saying so); a period given is kept however long a rescan takes.
func TestPollEvery(t *testing.T) {
	for _, c := range []struct {
		given, pass, want time.Duration
		slowed            bool
	}{
		{0, 2 * time.Millisecond, DefaultPollInterval, false},
		{0, 450 * time.Millisecond, 9 * time.Second, true},
		{20 * time.Millisecond, 2 * time.Millisecond, 20 * time.Millisecond, false},
		{100 * time.Millisecond, 450 * time.Millisecond, 100 * time.Millisecond, false},
	} {
		if got, slowed := pollEvery(c.given, c.pass); got != c.want || slowed != c.slowed {
			t.Errorf("pollEvery(%s, %s) = %s, %v; want %s, %v", c.given, c.pass, got, slowed, c.want, c.slowed)
		}
	}
}
