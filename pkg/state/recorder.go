package state

import (
	"fmt"
	"sync"
	"time"
)

// RecordEvery is how often at most a Recorder writes a Deployment's record. A write per update and
// pod (a temporary file and a rename) was a quarter of `up`'s CPU time when one edit went to ten
// replicas; a quarter of a second is still sooner than a person runs `status` after an edit.
const RecordEvery = 250 * time.Millisecond

// writer is what a Recorder needs of a Store; tests count and fail writes through it.
type writer interface {
	Write(d *Record) error
}

var _ writer = Store{}

// Recorder keeps the records `status` reads up to date for one `up` process. Changes are collected
// and written at most every RecordEvery, off the callers' path (the pod workers').
type Recorder struct {
	store writer
	every time.Duration
	warn  func(string)

	mu      sync.Mutex
	records map[string]*Record
	dirty   map[string]bool
	pending *time.Timer
	stopped bool
	failed  bool // a failed write was reported: the next ones are not
}

// NewRecorder writes a fresh record, served by this process, for each Deployment named, and returns
// the Recorder that keeps them up to date. warn receives, once, the first failed write (a full disk
// makes `status` stale, and the user should know why).
func NewRecorder(store Store, server, namespace string, deployments []string, pid int, warn func(string)) *Recorder {
	return newRecorder(store, server, namespace, deployments, pid, warn)
}

func newRecorder(store writer, server, namespace string, deployments []string, pid int, warn func(string)) *Recorder {
	r := &Recorder{store: store, every: RecordEvery, warn: warn, records: map[string]*Record{}, dirty: map[string]bool{}}
	now := time.Now()
	var failures []error
	for _, name := range deployments {
		d := &Record{Server: server, Namespace: namespace, Name: name, PID: pid, Started: now, Pods: map[string]*PodRecord{}}
		r.records[name] = d
		failures = append(failures, r.store.Write(d))
	}
	r.report(failures)
	return r
}

// PodState records whether the pod is connected, and the error that disconnected it, if any.
func (r *Recorder) PodState(dep, pod string, connected bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pod(dep, pod)
	if p == nil {
		return
	}
	p.Connected = connected
	if err != nil {
		p.LastError = err.Error()
	}
	r.changed(dep)
}

// PodGone forgets a pod that no longer exists.
func (r *Recorder) PodGone(dep, pod string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d := r.records[dep]; d != nil && !r.stopped {
		delete(d.Pods, pod)
		r.changed(dep)
	}
}

// Synced records an update sent to a pod: how many files it carried, its edit-to-running latency
// (zero when not timed) and its error ("" when it succeeded).
func (r *Recorder) Synced(dep, pod string, files int, latency time.Duration, errText string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pod(dep, pod)
	if p == nil {
		return
	}
	p.Connected, p.LastSync, p.LastFiles, p.LastError = true, time.Now(), files, errText
	if latency > 0 {
		p.LastLatencyMs = float64(latency.Microseconds()) / 1000
	}
	r.changed(dep)
}

// Converged records that the pod was found equal to the local tree after a full comparison.
func (r *Recorder) Converged(dep, pod string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pod(dep, pod)
	if p == nil {
		return
	}
	p.Converged = time.Now()
	r.changed(dep)
}

// Forwarding records a forward `up` keeps open to the Deployment's pods.
func (r *Recorder) Forwarding(dep, url string, remote int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.records[dep]
	if d == nil || r.stopped {
		return
	}
	for _, f := range d.Forwards {
		if f.URL == url {
			return
		}
	}
	d.Forwards = append(d.Forwards, ForwardRecord{URL: url, RemotePort: remote})
	r.changed(dep)
}

// Stop marks the records as no longer served (no process, no pod connected, no forward) and writes them at once;
// later calls change nothing.
func (r *Recorder) Stop() {
	r.mu.Lock()
	if r.pending != nil {
		r.pending.Stop()
		r.pending = nil
	}
	clear(r.dirty)
	r.stopped = true
	var failures []error
	for _, d := range r.records {
		d.PID = 0
		d.Forwards = nil // closed with the process
		for _, p := range d.Pods {
			p.Connected = false
		}
		failures = append(failures, r.store.Write(d))
	}
	r.mu.Unlock()
	r.report(failures)
}

// pod returns the record of a pod of a Deployment, creating it, or nil for a Deployment not recorded
// (or once stopped); r.mu is held.
func (r *Recorder) pod(dep, pod string) *PodRecord {
	d := r.records[dep]
	if d == nil || r.stopped {
		return nil
	}
	if d.Pods[pod] == nil {
		d.Pods[pod] = &PodRecord{}
	}
	return d.Pods[pod]
}

// changed marks a Deployment's record for the next write; r.mu is held.
func (r *Recorder) changed(dep string) {
	r.dirty[dep] = true
	if r.pending == nil {
		r.pending = time.AfterFunc(r.every, r.flush)
	}
}

// flush writes the records changed since the last flush.
func (r *Recorder) flush() {
	r.mu.Lock()
	r.pending = nil
	var failures []error
	for dep := range r.dirty {
		if d := r.records[dep]; d != nil {
			failures = append(failures, r.store.Write(d))
		}
	}
	clear(r.dirty)
	r.mu.Unlock()
	r.report(failures)
}

// report tells the user about the first failed write, once: a full disk would otherwise fail every
// write after it the same way. It is called without r.mu, so warn may take its own locks.
func (r *Recorder) report(failures []error) {
	var first error
	for _, err := range failures {
		if err != nil {
			first = err
			break
		}
	}
	if first == nil {
		return
	}
	r.mu.Lock()
	already := r.failed
	r.failed = true
	r.mu.Unlock()
	if !already && r.warn != nil {
		r.warn(fmt.Sprintf("status records are not being written: %v; `kubectl fastdev status` will be stale", first))
	}
}
