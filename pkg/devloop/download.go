package devloop

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"path"
	"path/filepath"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// downloader is what download patterns need of a pod's synclet beyond updater: its counters (how many
// `run` commands ended), what changed under the roots since a moment, and one file's bytes. The HTTP
// client of pkg/syncletclient is the one `up` uses.
type downloader interface {
	Status(ctx context.Context) (*protocol.Status, error)
	Changed(ctx context.Context, since int64) (*protocol.Changed, error)
	File(ctx context.Context, root int, rel string) ([]byte, error)
}

var _ downloader = (*syncletclient.Client)(nil)

// downloadEvery is how often an idle worker asks whether a `run` command ended in its pod: a status
// request, answered without a scan, so it costs the pod nothing measurable.
const downloadEvery = time.Second

// changeSlack is how far before the last look the next one starts: a file system stamps ctime from a
// clock that may lag the synclet's by a tick, and a file seen twice costs only a comparison.
const changeSlack = int64(time.Second)

// downloadState is a pod worker's part of the download patterns.
type downloadState struct {
	runs int   // protocol.Status.Runs when the pod was last compared for downloads
	now  int64 // the synclet's clock when it last looked for changes (protocol.Changed.Now)
	off  bool  // the synclet predates downloads (said once)
}

// older turns the synclet's ErrNoDownload into a warning (once: downloads are off for the pod) and nil.
func (w *podWorker) older(err error) error {
	if !errors.Is(err, syncletclient.ErrNoDownload) {
		return err
	}
	w.down.off = true
	w.dep.report.Warn(fmt.Sprintf("%s/%s: %v", w.dep.name, w.pod, err))
	return nil
}

// downloadPoll reads the pod's count of ended `run` commands and returns a ticker to look at it again,
// or a nil channel when the rules have no download patterns (or the synclet cannot serve them).
func (w *podWorker) downloadPoll(ctx context.Context, upd updater) (<-chan time.Time, func(), error) {
	dl, ok := upd.(downloader)
	if !ok || w.down.off || !w.dep.local.rules.HasDownloads() {
		return nil, func() {}, nil
	}
	st, err := dl.Status(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the synclet's status: %w", err)
	}
	w.down.runs = st.Runs
	c, err := dl.Changed(ctx, -1)
	if err != nil {
		return nil, func() {}, w.older(err)
	}
	w.down.now = c.Now
	t := time.NewTicker(downloadEvery)
	return t.C, t.Stop, nil
}

// pollDownloads compares the pod for downloads when a `run` command ended there since the last look.
func (w *podWorker) pollDownloads(ctx context.Context, upd updater, view *podView) error {
	dl, ok := upd.(downloader)
	if !ok || w.down.off {
		return nil
	}
	st, err := dl.Status(ctx)
	if err != nil {
		return fmt.Errorf("reading the synclet's status: %w", err)
	}
	if st.Runs == w.down.runs {
		return nil
	}
	w.down.runs = st.Runs
	return w.download(ctx, upd, view, "a `kubectl fastdev run` command")
}

// download brings back the files matching the rules' download patterns that the pod changed since
// view last saw them (by a step or a run command: cause says which), and brings view up to date for
// them. A transport error is returned (the caller reconnects); anything else is reported and left.
func (w *podWorker) download(ctx context.Context, upd updater, view *podView, cause string) error {
	dl, ok := upd.(downloader)
	if !ok || w.down.off || !w.dep.local.rules.HasDownloads() {
		return nil
	}
	m, err := dl.Changed(ctx, w.down.now-changeSlack)
	if err != nil {
		return w.older(err)
	}
	w.down.now = m.Now
	for _, root := range m.Roots {
		i := root.Root
		if i < 0 || i >= len(view.roots) {
			continue // newPodView refused such a synclet at connect
		}
		pod := make(tree.Manifest, len(root.Entries))
		for _, e := range root.Entries {
			pod[e.Path] = e
		}
		for _, e := range root.Entries {
			if e.Kind != tree.File || !w.dep.local.rules.Downloads(i, e.Path) {
				continue
			}
			if old, ok := view.roots[i][e.Path]; ok && old.Same(e) {
				continue
			}
			if err := w.downloadOne(ctx, dl, view, i, e, pod, cause); err != nil || w.down.off {
				return err
			}
		}
	}
	return nil
}

// downloadOne fetches entry e of root i and writes it to the local tree (or beside it on a conflict);
// pod is what the pod holds under the root.
func (w *podWorker) downloadOne(ctx context.Context, dl downloader, view *podView, i int, e tree.Entry, pod tree.Manifest, cause string) error {
	local := filepath.Join(w.dirs[i], filepath.FromSlash(e.Path))
	body, err := dl.File(ctx, i, e.Path)
	var se *syncletclient.StatusError
	switch {
	case errors.Is(err, syncletclient.ErrNoDownload):
		return w.older(err)
	case errors.As(err, &se) && se.Code != http.StatusUnauthorized:
		w.dep.report.Warn(fmt.Sprintf("%s not downloaded from pod %s: %v", local, w.pod, err))
		return nil
	case err != nil:
		return err
	case tree.Digest(sha256.Sum256(body)) != e.Hash:
		return nil // rewritten since the manifest was read: the next step or run brings it
	}
	last, synced := view.roots[i][e.Path]
	got, err := w.dep.local.saveDownload(i, e, body, last, synced, pod)
	if err != nil {
		w.dep.report.Warn(fmt.Sprintf("%s not downloaded from pod %s: %v", local, w.pod, err))
		return nil
	}
	// what the pod holds, whatever the local side did with it; its directories too, which the local
	// tree now has with the same modes, so the watcher's events for them find nothing to send
	view.roots[i][e.Path] = e
	for d := path.Dir(e.Path); d != "."; d = path.Dir(d) {
		if pe, ok := pod[d]; ok {
			view.roots[i][d] = pe
		}
	}
	switch got {
	case downloaded:
		w.dep.report.Info(fmt.Sprintf("%s: downloaded %s from pod %s (%s changed it)", w.dep.name, local, w.pod, cause))
	case conflicted:
		w.dep.report.Warn(fmt.Sprintf("%s: download conflict: %s changed %s in pod %s, and %s changed since it was last synced: kept yours, the pod's version is in %s; merge the two, then delete the copy",
			w.dep.name, cause, e.Path, w.pod, local, local+rules.ConflictSuffix))
		// the local file is what the pods should hold: compare it with the pod's again
		w.mu.Lock()
		w.dirty[i][e.Path] = true
		w.mu.Unlock()
		w.poke()
	}
	return nil
}
