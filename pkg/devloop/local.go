package devloop

import (
	"context"
	"fmt"
	"path/filepath"
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
	rules *rules.Rules
	roots []*localRoot
}

type localRoot struct {
	dir     string // absolute local directory of sync entry i
	matcher *ignore.Matcher

	mu       sync.RWMutex
	manifest tree.Manifest
}

// Change is one batch of local edits under one sync root, handed to every pod of the Deployment.
type Change struct {
	Root  int
	Paths []string  // relative slash paths; "." means compare everything
	First time.Time // when the first event of the batch was seen
	Quiet time.Duration
}

func newLocal(base string, r *rules.Rules) (*local, error) {
	l := &local{rules: r}
	for i, s := range r.Sync {
		dir, err := filepath.Abs(filepath.Join(base, filepath.FromSlash(s.From)))
		if err != nil {
			return nil, err
		}
		m, err := ignore.New(dir, s.Ignore)
		if err != nil {
			return nil, fmt.Errorf("rules line %d: sync[%d].ignore: %w", s.Line, i, err)
		}
		l.roots = append(l.roots, &localRoot{dir: dir, matcher: m, manifest: tree.Manifest{}})
	}
	return l, nil
}

// skip tells what is not synced under a root: ignored paths and fallback paths (those need an image
// rebuild, so syncing them would only pretend to apply them).
func (l *local) skip(i int) tree.SkipFunc {
	m := l.roots[i].matcher
	return func(rel string, isDir bool) bool {
		return m.Match(rel, isDir) || (!isDir && rules.MatchAny(l.rules.Fallback, rel))
	}
}

// scan reads every root's full manifest.
func (l *local) scan() error {
	for i, r := range l.roots {
		// the lock is held for the whole walk: a batch the watcher re-reads meanwhile must land on top
		// of this scan, not be overwritten by it (its change would be lost until the next edit)
		r.mu.Lock()
		m, err := tree.Scan(r.dir, l.skip(i))
		if err == nil {
			r.manifest = m
		}
		r.mu.Unlock()
		if err != nil {
			return fmt.Errorf("reading %s: %w", r.dir, err)
		}
	}
	return nil
}

// compare returns what turns remote into root i's local tree (for the given paths only, when only is
// non-nil). It reads the manifest under the read lock instead of copying it: a copy per pod and per edit
// of a 100,000-file manifest cost ~90 ms on the hot path.
func (l *local) compare(i int, remote tree.Manifest, only []string) tree.Diff {
	r := l.roots[i]
	r.mu.RLock()
	defer r.mu.RUnlock()
	return tree.Compare(r.manifest, remote, only, l.skip(i))
}

// watch runs a watcher per root and sends each batch, once the manifest reflects it, to out. Paths
// matching the rules' fallback are reported with warn instead: they need an image rebuild.
// ready is closed once every root is watched, so a scan after it cannot miss an edit.
func (l *local) watch(ctx context.Context, opts watch.Options, out chan<- Change, warn func(string), ready chan<- struct{}) error {
	errs := make(chan error, len(l.roots))
	var wg, watching sync.WaitGroup
	for i, r := range l.roots {
		o := opts
		skip := l.skip(i)
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
		go func() {
			defer wg.Done()
			for b := range w.Batches() {
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
				r.mu.Lock()
				err := tree.Rescan(r.dir, skip, r.manifest, paths)
				r.mu.Unlock()
				if err != nil {
					warn(fmt.Sprintf("reading %s: %v", r.dir, err))
					continue
				}
				select {
				case out <- Change{Root: i, Paths: paths, First: b.First, Quiet: b.Flushed.Sub(b.First)}:
				case <-ctx.Done():
					return
				}
			}
		}()
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
