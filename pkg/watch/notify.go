package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// retireDelay is how long fsnotify keeps reporting after polling has taken over. The poller's first
// snapshot already contains changes made just before it, so their events, possibly still queued in
// the kernel, must be delivered before the inotify instance is closed; a quarter second is ample.
const retireDelay = 250 * time.Millisecond

// startNotify watches every directory that is not ignored, falling back to polling when the system
// runs out of inotify instances or watches.
func (w *Watcher) startNotify() error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		if limitHint(err) == "" {
			return fmt.Errorf("watching %s: %w", w.root, err)
		}
		return w.fallBack(w.root, err)
	}
	w.fw, w.dirs = fw, map[string]bool{}
	return w.addTree(w.root, false)
}

// addTree watches dir and every directory below it that is not ignored. With report set, it also
// reports everything below dir, which may have been created before the watch was in place.
func (w *Watcher) addTree(dir string, report bool) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				w.warn("cannot read %s, so changes in it will not sync: %v", p, err)
			}
			return nil
		}
		rel, ok := w.rel(p)
		if !ok {
			return nil
		}
		if p != dir {
			if w.ignored(rel, d.IsDir()) {
				if d.IsDir() {
					w.seeIgnoredDir(rel)
					return filepath.SkipDir
				}
				return nil
			}
			if report {
				w.report(rel, d.IsDir())
			}
		}
		if !d.IsDir() || w.fw == nil {
			return nil
		}
		if w.poll != nil {
			if !report {
				return filepath.SkipAll // the poller covers the rest
			}
			return nil
		}
		err = w.addWatch(w.fw, p)
		switch {
		case err == nil:
			w.dirs[rel] = true
		case limitHint(err) != "":
			return w.fallBack(p, err)
		case errors.Is(err, fs.ErrNotExist):
			return filepath.SkipDir
		default:
			w.warn("cannot watch %s, so changes in it will not sync: %v", p, err)
		}
		return nil
	})
}

// onNotify turns one fsnotify event into reported paths, watching new directories and forgetting
// removed ones.
func (w *Watcher) onNotify(ev fsnotify.Event) error {
	rel, ok := w.rel(ev.Name)
	if !ok {
		return nil
	}
	if rel == "." {
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			w.warn("the sync root %s was removed or renamed; run again once it is back", w.root)
			w.forget(rel)
			w.report(rel, true)
		}
		return nil
	}
	switch {
	case ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename):
		// A rename also arrives as a Create of the new name, if that is inside the tree.
		_, isDir := w.dirs[rel]
		w.report(rel, isDir)
		if isDir {
			w.forget(rel)
		}
	case ev.Has(fsnotify.Create):
		fi, err := os.Lstat(ev.Name)
		if err != nil || !fi.IsDir() {
			w.report(rel, false)
			return nil
		}
		if w.ignored(rel, true) {
			w.seeIgnoredDir(rel)
			return nil
		}
		w.report(rel, true)
		return w.addTree(ev.Name, true)
	default: // Write, Chmod
		_, isDir := w.dirs[rel]
		w.report(rel, isDir)
	}
	return nil
}

// seeIgnoredDir remembers an ignored directory, so that its removal, which fsnotify reports without
// saying it was a directory, is not mistaken for the removal of a file of the same name: a pattern
// such as "tmp/" ignores only the directory.
func (w *Watcher) seeIgnoredDir(rel string) {
	if w.dirs != nil {
		w.dirs[rel] = false
	}
}

// forget drops the watches on dir and below. This must happen before a renamed directory's new
// name is watched: inotify keys watches by inode, so adding the new name while the old watch lives
// would keep reporting the old name.
func (w *Watcher) forget(dir string) {
	for d, watched := range w.dirs {
		if d == dir || dir == "." || strings.HasPrefix(d, dir+"/") {
			delete(w.dirs, d)
			if watched {
				// The kernel has already dropped the watch of a deleted directory.
				_ = w.fw.Remove(filepath.Join(w.root, filepath.FromSlash(d)))
			}
		}
	}
}

func (w *Watcher) onNotifyError(err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		w.warn("too many changes at once, some events were lost; comparing the whole tree " +
			"(to avoid this: sudo sysctl -w fs.inotify.max_queued_events=65536)")
		w.report(".", true)
		return
	}
	w.warn("watching %s: %v", w.root, err)
}

// fallBack switches the whole tree to polling after the system refused an inotify instance or watch
// for path. The fsnotify watcher keeps reporting for retireDelay so no event is lost in between.
func (w *Watcher) fallBack(path string, err error) error {
	w.warn("cannot watch %s for changes (%v): %s. Until then, every change is found by rescanning "+
		"the tree every %s, which is slower and uses more CPU.", path, err, limitHint(err), w.pollIntervalHint())
	if err := w.startPoll(); err != nil {
		return err
	}
	if w.fw != nil {
		w.retire = time.After(retireDelay)
	}
	return nil
}

// pollIntervalHint is the rescan period to announce before a rescan has been timed: the one given,
// or the default a small tree gets.
func (w *Watcher) pollIntervalHint() time.Duration {
	if w.opts.PollInterval > 0 {
		return w.opts.PollInterval
	}
	return DefaultPollInterval
}

// closeNotify releases the inotify instance and its watches.
func (w *Watcher) closeNotify() {
	if w.fw != nil {
		_ = w.fw.Close()
	}
	w.fw, w.dirs, w.retire = nil, nil, nil
}

// limitHint names the fix when err means a system limit on file watching was hit, or returns "".
func limitHint(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return "the inotify watch limit is reached; raise it with " +
			"`sudo sysctl -w fs.inotify.max_user_watches=524288` " +
			"(add fs.inotify.max_user_watches=524288 to /etc/sysctl.conf to keep it) and run again"
	case errors.Is(err, syscall.EMFILE) && runtime.GOOS == "linux":
		return "the inotify instance limit is reached; raise it with " +
			"`sudo sysctl -w fs.inotify.max_user_instances=512` and run again"
	case errors.Is(err, syscall.EMFILE):
		return "the open-file limit is reached; raise it with `ulimit -n 65536` and run again"
	}
	return ""
}
