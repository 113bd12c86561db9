package devloop

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
)

// ProgressReporter is a Reporter that is also told how far a large update to a pod has come (the
// first sync of a big tree): files and bytes of the files sent of the totals. A Reporter without it is
// not told.
type ProgressReporter interface {
	Progressed(deployment, pod string, p Progress)
}

// Progress is how far a large update to a pod has come: the files (and their bytes) through of the
// totals, and when the update started.
type Progress struct {
	Files, TotalFiles int
	Bytes, TotalBytes int64
	Started           time.Time
}

// Progress is reported only for an update still under way after progressAfter, and then at most every
// progressEvery: a quick update shows no bar, a long one a bar that moves.
const (
	progressAfter = time.Second
	progressEvery = 250 * time.Millisecond
)

// tarBlock is the tar format's block: each entry is a header block and its content padded to blocks.
const tarBlock = 512

// progress turns the bytes of an update's request sent so far into files and bytes of the puts' files.
type progress struct {
	report     func(files int, bytes int64)
	ends       []int64 // the stream offset where each put's entry ends (estimated: one header block each)
	sizes      []int64 // the files' bytes sent once each put's entry is through, summed
	start      time.Time
	mu         sync.Mutex
	last       time.Time
	totalFiles int
	totalBytes int64
}

// newProgress lays out puts as the tar stream carries them.
func newProgress(puts []archive.Put, now time.Time, report func(files int, bytes int64)) *progress {
	p := &progress{report: report, start: now, totalFiles: len(puts)}
	var off, sum int64
	for _, put := range puts {
		off += tarBlock + (put.Entry.Size+tarBlock-1)/tarBlock*tarBlock
		sum += put.Entry.Size
		p.ends = append(p.ends, off)
		p.sizes = append(p.sizes, sum)
	}
	p.totalBytes = sum
	return p
}

// at returns the files and bytes through once n bytes of the stream are sent.
func (p *progress) at(n int64) (int, int64) {
	files := sort.Search(len(p.ends), func(i int) bool { return p.ends[i] > n })
	if files == 0 {
		return 0, 0
	}
	return files, p.sizes[files-1]
}

// sent takes in the bytes sent so far at now, reporting them if the update has taken a while and the
// last report is not recent.
func (p *progress) sent(n int64, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Sub(p.start) < progressAfter || now.Sub(p.last) < progressEvery {
		return
	}
	p.last = now
	files, bytes := p.at(n)
	p.report(files, bytes)
}

// withProgress returns ctx set up to report the progress of an update of puts to the worker's pod, if
// the Reporter takes progress.
func (w *podWorker) withProgress(ctx context.Context, puts []archive.Put) context.Context {
	pr, ok := w.dep.report.(ProgressReporter)
	if !ok || len(puts) == 0 {
		return ctx
	}
	var p *progress
	p = newProgress(puts, time.Now(), func(files int, bytes int64) {
		pr.Progressed(w.dep.name, w.pod, Progress{Files: files, TotalFiles: p.totalFiles, Bytes: bytes, TotalBytes: p.totalBytes, Started: p.start})
	})
	return syncletclient.WithProgress(ctx, func(n int64) { p.sent(n, time.Now()) })
}
