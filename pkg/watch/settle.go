package watch

import "time"

// DefaultSettle is the settle time `up` uses: a lone save is sent once no event followed it for
// this long. The events of one save come well within it: os.WriteFile's create and writes, an
// editor's temp file, rename and chmod, or sed -i's temp file and rename arrive within a few hundred
// microseconds of each other here, on a busy two-core machine.
const DefaultSettle = 3 * time.Millisecond

// settleMaxPaths is how many paths a batch may hold and still leave after the settle time. A save
// touches the file and maybe a temp, backup or swap file next to it (JetBrains' safe write: three;
// vim: the file, its backup, its 4913 probe and its swap file); a branch switch or a code generator
// writes many, with gaps of several milliseconds between them on a busy machine (a 1,000-file
// `git checkout` here paused 3 ms after 20 files and up to 9 ms later on), so a batch past this
// size is a burst and waits the whole quiet window, as every batch did before settling existed.
const settleMaxPaths = 4

// quietBefore reports whether a batch whose first event came at now may settle: settling is on and
// no event came for a quiet window before it. An event within the window of the previous one (say,
// the rest of a burst whose first files settled and left) joins a batch that waits the window.
func (w *Watcher) quietBefore(now time.Time) bool {
	s := w.opts.Settle
	return s > 0 && s < w.opts.Quiet && (w.last.IsZero() || now.Sub(w.last) >= w.opts.Quiet)
}

// window is how long the pending batch waits for a further event before it is offered: the settle
// time while it is a lone change, else the quiet window.
//
// Sending a lone change after only a few milliseconds is safe even when the writer was not done
// (a large file written in slow chunks): its later writes are events too, and make another batch;
// the dev loop rescans the content of every path in a batch and compares it with what the pod has,
// so the pod ends up with the finished file and the earlier, partial copy is only briefly there,
// as with any edit saved twice in a row.
//
// A batch stops settling for good once it is a burst: more than settleMaxPaths paths, or events
// still coming a quiet window after its first (a tick of the polling watcher has no path limit: it
// delivers a complete scan at once, and the next one comes only at the next tick).
func (w *Watcher) window() time.Duration {
	if w.settling && (w.fw == nil && w.poll != nil || len(w.pending) <= settleMaxPaths) &&
		time.Since(w.first) < w.opts.Quiet {
		return w.opts.Settle
	}
	w.settling = false
	return w.opts.Quiet
}
