package watch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/radovskyb/watcher"
)

// poller finds changes by rescanning the tree, for file systems without events and for systems out
// of inotify watches.
type poller struct {
	pw   *watcher.Watcher
	done chan struct{} // closed when pw.Start returns
}

// startPoll takes a snapshot of the tree and starts rescanning it every PollInterval.
func (w *Watcher) startPoll() error {
	pw := watcher.New()
	pw.AddFilterHook(func(info os.FileInfo, full string) error {
		rel, ok := w.rel(full)
		if !ok || rel == "." || !w.ignored(rel, info.IsDir()) {
			return nil
		}
		if info.IsDir() {
			return filepath.SkipDir // passed through to filepath.Walk: an ignored tree is not scanned
		}
		return watcher.ErrSkip
	})
	start := time.Now()
	if err := pw.AddRecursive(w.root); err != nil {
		return fmt.Errorf("polling %s: %w", w.root, err)
	}
	pass := time.Since(start)
	interval, slowed := pollEvery(w.opts.PollInterval, pass)
	if slowed {
		w.warn("polling %s: one pass over its %d entries takes %s, so it is rescanned every %s to keep `up` near %d%% of a core; file events (without --poll) see edits at once, or set --poll-interval",
			w.root, len(pw.WatchedFiles()), pass.Round(time.Millisecond), interval, int(pollShare*100))
	}
	p := &poller{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		_ = pw.Start(interval) // fails only for a non-positive interval, which pollEvery never returns
	}()
	w.poll = p
	return nil
}

// pollShare is the share of one core that rescanning may take: a 100,000-file tree rescanned every
// 100 ms kept a core 91% busy.
const pollShare = 0.05

// pollEvery returns the rescan period for a tree whose pass takes pass, and whether it is longer than
// the default because the tree is large: a period given (non-zero) is kept as it is; zero is
// DefaultPollInterval, or the period pollPeriod gives when that is longer.
func pollEvery(given, pass time.Duration) (time.Duration, bool) {
	if given > 0 {
		return given, false
	}
	iv := pollPeriod(pass, DefaultPollInterval)
	return iv, iv > DefaultPollInterval
}

// pollPeriod returns the rescan period for a tree whose pass takes pass: at least interval, and long
// enough that rescanning takes at most pollShare of the time, rounded up to a tenth of a second.
func pollPeriod(pass, interval time.Duration) time.Duration {
	need := time.Duration(float64(pass) / pollShare)
	if need <= interval {
		return interval
	}
	return (need + 99*time.Millisecond).Truncate(100 * time.Millisecond)
}

// channels returns the poller's channels, or nil ones (never ready) when there is no poller.
func (p *poller) channels() (<-chan watcher.Event, <-chan error) {
	if p == nil {
		return nil, nil
	}
	return p.pw.Event, p.pw.Error
}

// stop ends polling. The watcher's Close blocks until its loop takes the request, and the loop may
// itself be blocked sending an event, so events are drained meanwhile.
func (p *poller) stop() {
	closed := make(chan struct{})
	go func() {
		p.pw.Wait()
		p.pw.Close()
		close(closed)
	}()
	for {
		select {
		case <-p.pw.Event:
		case err := <-p.pw.Error:
			_ = err // polling is being stopped: its errors no longer reach anyone
		case <-closed:
			<-p.done
			return
		}
	}
}

func (w *Watcher) onPoll(ev watcher.Event) {
	isDir := ev.FileInfo != nil && ev.IsDir()
	if ev.Op == watcher.Write && isDir {
		return // a directory's mtime moves with its entries, which are reported themselves
	}
	for _, p := range []string{ev.OldPath, ev.Path} {
		if rel, ok := w.rel(p); ok && p != "" && rel != "." {
			w.report(rel, isDir)
		}
	}
}

func (w *Watcher) onPollError(err error) {
	if errors.Is(err, watcher.ErrWatchedFileDeleted) {
		w.warn("the sync root %s was removed or renamed; run again once it is back", w.root)
		w.report(".", true)
		return
	}
	w.warn("polling %s: %v", w.root, err)
}
