package watch

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

const sysctlFix = "sysctl -w fs.inotify.max_user_watches=524288"

// failOn makes adding a watch on any directory named name fail as a full inotify watch table does,
// and counts the watches added after that failure.
func failOn(name string, addedAfter *atomic.Int32) func(*Watcher) {
	return func(w *Watcher) {
		var failed atomic.Bool
		w.addWatch = func(fw *fsnotify.Watcher, dir string) error {
			if filepath.Base(dir) == name {
				failed.Store(true)
				return fmt.Errorf("inotify_add_watch %s: %w", dir, syscall.ENOSPC)
			}
			if failed.Load() {
				addedAfter.Add(1)
			}
			return fw.Add(dir)
		}
	}
}

// TestFallbackAtStart runs out of watches while watching the existing tree: the whole tree is then
// polled, including directories that never got a watch, and the warning names the fix.
func TestFallbackAtStart(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"a/1.txt", "b/1.txt", "c/1.txt"} {
		write(t, root, f, "x")
	}
	var addedAfter atomic.Int32
	h := start(t, root, Options{}, failOn("b", &addedAfter))
	if w := h.warnings(); !strings.Contains(w, sysctlFix) {
		t.Errorf("warning %q does not name the fix %q", w, sysctlFix)
	}
	if n := addedAfter.Load(); n != 0 {
		t.Errorf("%d watches added after the limit was hit", n)
	}
	write(t, root, "b/2.txt", "x")
	write(t, root, "c/2.txt", "x")
	h.collect("b/2.txt", "c/2.txt")

	// Once the fsnotify watcher is retired, polling alone still reports changes, new dirs included.
	time.Sleep(2 * retireDelay)
	write(t, root, "a/2.txt", "x")
	write(t, root, "n/1.txt", "x")
	h.collect("a/2.txt", "n", "n/1.txt")
}

// TestFallbackWhileRunning runs out of watches on a directory created while watching: its files are
// still reported, and later changes are found by polling.
func TestFallbackWhileRunning(t *testing.T) {
	root := t.TempDir()
	write(t, root, "src/main.go", "x")
	var addedAfter atomic.Int32
	h := start(t, root, Options{}, failOn("big", &addedAfter))
	if w := h.warnings(); w != "" {
		t.Fatalf("unexpected warning before the limit: %s", w)
	}
	write(t, root, "big/inner/f.txt", "x")
	h.collect("big", "big/inner", "big/inner/f.txt")
	if w := h.warnings(); !strings.Contains(w, sysctlFix) {
		t.Errorf("warning %q does not name the fix %q", w, sysctlFix)
	}
	write(t, root, "big/inner/g.txt", "x")
	write(t, root, "src/main.go", "y")
	h.collect("big/inner/g.txt", "src/main.go")
	if n := addedAfter.Load(); n != 0 {
		t.Errorf("%d watches added after the limit was hit", n)
	}
}

func TestLimitHint(t *testing.T) {
	emfile := "ulimit -n"
	if runtime.GOOS == "linux" {
		emfile = "sysctl -w fs.inotify.max_user_instances=512"
	}
	tests := []struct {
		err  error
		want string // "" for no hint
	}{
		{syscall.ENOSPC, sysctlFix},
		{fmt.Errorf("adding watch: %w", syscall.ENOSPC), sysctlFix},
		{syscall.EMFILE, emfile},
		{syscall.EACCES, ""},
		{errors.New("other"), ""},
	}
	for _, tt := range tests {
		got := limitHint(tt.err)
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("limitHint(%v) = %q, want it to contain %q", tt.err, got, tt.want)
		}
	}
}
