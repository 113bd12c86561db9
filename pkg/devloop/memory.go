package devloop

import (
	"runtime/debug"
	"sync"
	"time"
)

// burstFiles is the update size after which `up` hands the memory it used back to the system.
const burstFiles = 2000

// releaser returns freed memory to the operating system shortly after a burst (a first sync of a
// large tree builds and drops tens of megabytes of manifests and tar buffers). Go's runtime would keep
// it mapped for minutes, so an idle `up` watching 100,000 files would stay at its peak resident size;
// bursts that follow each other (one per pod) are released once, a while after the last one.
type releaser struct {
	after time.Duration
	free  func()

	mu    sync.Mutex
	timer *time.Timer
}

// newReleaser returns a releaser that frees memory a second after the last burst.
func newReleaser() *releaser {
	return &releaser{after: time.Second, free: debug.FreeOSMemory}
}

// burst notes an update of files entries: from burstFiles on, memory is freed after the releaser's
// delay, which each later burst restarts.
func (r *releaser) burst(files int) {
	if files < burstFiles {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer != nil {
		r.timer.Stop()
	}
	r.timer = time.AfterFunc(r.after, r.free)
}
