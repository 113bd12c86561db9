package devloop

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/ignore"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/watch"
)

// local is the developer's side of one Deployment: for each sync entry its directory, what is ignored,
// and the current manifest, kept up to date by a watcher. kubectl-fastdev only ever reads these files.
type local struct {
	rules   *rules.Rules
	roots   []*localRoot
	notices notices
	// release returns freed memory after the large updates of this Deployment's pod workers
	release *releaser
	down    downloads // one pod worker at a time writes a downloaded file (download_local.go)
}

type localRoot struct {
	dir     string // absolute local directory of sync entry i
	matcher *ignore.Matcher

	mu       sync.RWMutex
	manifest tree.Manifest
	// outside holds the symlinks left out of manifest because they point outside the tree (the pod
	// cannot hold them): decided once per scan, and kept in the pod as an ignored path is
	outside map[string]bool
}

// Change is one batch of local edits under one sync root, handed to every pod of the Deployment.
type Change struct {
	Root  int
	Paths []string  // relative slash paths; "." means compare everything
	First time.Time // when the first event of the batch was seen
	Quiet time.Duration
}

func newLocal(base string, r *rules.Rules) (*local, error) {
	l := &local{rules: r, release: newReleaser()}
	for i, s := range r.Sync {
		dir, err := filepath.Abs(filepath.Join(base, filepath.FromSlash(s.From)))
		if err != nil {
			return nil, fmt.Errorf("rules line %d: %s.from: %w", s.Line, r.SyncKey(i), err)
		}
		m, err := ignore.New(dir, s.Ignore)
		if err != nil {
			return nil, fmt.Errorf("rules line %d: %s.ignore: %w", s.Line, r.SyncKey(i), err)
		}
		l.roots = append(l.roots, &localRoot{dir: dir, matcher: m, manifest: tree.Manifest{}, outside: map[string]bool{}})
	}
	return l, nil
}

// skip tells what is not synced under a root: ignored paths, the paths the pod owns (the entry's keep
// patterns: not synced in either direction, so a local file they match is not sent) and fallback paths
// (those need an image rebuild, so syncing them would only pretend to apply them).
func (l *local) skip(i int) tree.SkipFunc {
	m, kept := l.roots[i].matcher, l.rules.Sync[i].Keep
	return func(rel string, isDir bool) bool {
		return m.Match(rel, isDir) || rules.MatchAny(kept, rel) || (!isDir && rules.MatchAny(l.rules.Fallback, rel)) ||
			(!isDir && strings.HasSuffix(rel, rules.ConflictSuffix)) // a download's conflict copy (download.go)
	}
}

// keep tells which paths the pod keeps although the local tree lacks them: what is not synced (skip:
// ignored, kept by the rules, fallback) and the links left out because they point outside the tree; a
// directory holding one is kept too (tree.Compare). It reads outside: call it under r.mu.
func (l *local) keep(i int) tree.SkipFunc {
	skip, outside := l.skip(i), l.roots[i].outside
	return func(rel string, isDir bool) bool { return skip(rel, isDir) || outside[rel] }
}

// filter is what a scan of root i leaves out: what skip says, and symlinks that point outside the
// tree, which are appended to dropped and recorded in the root's outside set (call it under r.mu).
// The policy is applied here, once per scan, so that no pod's update ever plans such a link.
func (l *local) filter(i int, dropped *[]tree.Entry) tree.Filter {
	r := l.roots[i]
	return tree.Filter{Skip: l.skip(i), Drop: func(e tree.Entry) bool {
		if e.Kind != tree.Symlink || tree.LinkStaysInside(e.Path, e.Target) {
			return false
		}
		r.outside[e.Path] = true
		*dropped = append(*dropped, e)
		return true
	}}
}

// scan reads every root's full manifest.
func (l *local) scan() error {
	for i, r := range l.roots {
		var dropped []tree.Entry
		// the lock is held for the whole walk: a batch the watcher re-reads meanwhile must land on top
		// of this scan, not be overwritten by it (its change would be lost until the next edit)
		r.mu.Lock()
		clear(r.outside)
		m, err := l.filter(i, &dropped).Scan(r.dir)
		if err == nil {
			r.manifest = m
		}
		r.mu.Unlock()
		if err != nil {
			return fmt.Errorf("reading %s: %w", r.dir, err)
		}
		l.linksLeftOut(r, dropped)
	}
	return nil
}

// rescan re-reads the batch's paths of root i into its manifest.
func (l *local) rescan(i int, paths []string) error {
	r := l.roots[i]
	var dropped []tree.Entry
	r.mu.Lock()
	for _, p := range paths {
		forgetBelow(r.outside, p) // rescanning p decides again for the links below it
	}
	err := l.filter(i, &dropped).Rescan(r.dir, r.manifest, paths)
	r.mu.Unlock()
	l.linksLeftOut(r, dropped) // outside the lock: a view's Warn may block
	return err
}

// forgetBelow deletes p and the paths below it from set ("." is everything). The set is small (the
// links that point outside), so a walk over it costs nothing next to the rescan.
func forgetBelow(set map[string]bool, p string) {
	p = path.Clean(p)
	if p == "." {
		clear(set)
		return
	}
	for q := range set {
		if q == p || strings.HasPrefix(q, p+"/") {
			delete(set, q)
		}
	}
}

// linksLeftOut says, once per link and target, that a symlink is not synced.
func (l *local) linksLeftOut(r *localRoot, links []tree.Entry) {
	for _, e := range links {
		l.notices.warn(fmt.Sprintf("%s: symlink to %q is not synced: it points outside %s (or climbs through a name); make it relative and inside the tree",
			filepath.Join(r.dir, filepath.FromSlash(e.Path)), e.Target, r.dir))
	}
}

// compare returns what turns remote into root i's local tree (for the given paths only, when only is
// non-nil). It reads the manifest under the read lock instead of copying it: a copy per pod and per edit
// of a 100,000-file manifest cost ~90 ms on the hot path.
func (l *local) compare(i int, remote tree.Manifest, only []string) tree.Diff {
	r := l.roots[i]
	r.mu.RLock()
	defer r.mu.RUnlock()
	return tree.Compare(r.manifest, remote, only, l.keep(i))
}

// watch runs a watcher per root and sends each batch, once the manifest reflects it, to out. Paths
// matching the rules' fallback are reported with warn instead: they need an image rebuild.
// ready is closed once every root is watched, so a scan after it cannot miss an edit.
func (l *local) watch(ctx context.Context, opts watch.Options, out chan<- Change, warn func(string), ready chan<- struct{}) error {
	l.notices.attach(warn)
	errs := make(chan error, len(l.roots))
	var wg, watching sync.WaitGroup
	for i, r := range l.roots {
		o := opts
		o.Ignore = func(rel string, isDir bool) bool { return r.matcher.Match(rel, isDir) }
		o.Warn = warn
		w, err := watch.New(r.dir, o)
		if err != nil {
			return err
		}
		wg.Add(2)
		watching.Add(1)
		go func() { defer wg.Done(); errs <- w.Run(ctx) }()
		go func() {
			select {
			case <-w.Ready():
			case <-ctx.Done():
			}
			watching.Done()
		}()
		go func() { defer wg.Done(); l.follow(ctx, i, w.Batches(), out, warn) }()
	}
	go func() { watching.Wait(); close(ready) }()
	go func() { wg.Wait(); close(errs) }()
	for err := range errs {
		if err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}

// follow re-reads each of root i's batches into its manifest and then hands it to out.
func (l *local) follow(ctx context.Context, i int, batches <-chan watch.Batch, out chan<- Change, warn func(string)) {
	r := l.roots[i]
	for b := range batches {
		paths := b.Paths
		reload := false
		for _, p := range paths {
			if r.matcher.IsIgnoreFile(p) {
				reload = true
			}
			if rules.MatchAny(l.rules.Fallback, p) {
				warn(fmt.Sprintf("%s changed: it is listed under fallback in the rules, so it is not synced; rebuild the image and roll out to apply it", filepath.Join(r.dir, p)))
			}
		}
		if reload {
			if err := r.matcher.Reload(); err != nil {
				warn(fmt.Sprintf("ignore files: %v (keeping the previous ignore rules)", err))
			}
			paths = []string{"."} // what is ignored changed: compare everything
		}
		if err := l.rescan(i, paths); err != nil {
			warn(fmt.Sprintf("reading %s: %v", r.dir, err))
			continue
		}
		select {
		case out <- Change{Root: i, Paths: paths, First: b.First, Quiet: b.Flushed.Sub(b.First)}:
		case <-ctx.Done():
			return
		}
	}
}

// notices shows each warning about the local tree once (every rescan of a bad link would repeat it).
// Warnings found before watch attaches the reporter are held until then.
type notices struct {
	mu   sync.Mutex
	seen map[string]bool
	held []string
	sink func(string)
}

func (n *notices) warn(msg string) {
	n.mu.Lock()
	if n.seen[msg] {
		n.mu.Unlock()
		return
	}
	if n.seen == nil {
		n.seen = map[string]bool{}
	}
	n.seen[msg] = true
	sink := n.sink
	if sink == nil {
		n.held = append(n.held, msg)
	}
	n.mu.Unlock()
	if sink != nil {
		sink(msg)
	}
}

// attach sends the held warnings, and every later one, to sink.
func (n *notices) attach(sink func(string)) {
	n.mu.Lock()
	held := n.held
	n.sink, n.held = sink, nil
	n.mu.Unlock()
	for _, msg := range held {
		sink(msg)
	}
}
