// Package events is the one model of what is going on during `kubectl fastdev up`: every dev pod with
// its phase, connection and sync state, each update with the time its stages took, the error blocks
// of the pods' logs grouped across replicas, the forwards, the progress of long work, the latest step
// output per pod and the recent events. Producers (the dev loop's reporter, the forwards, the log
// follower) call its methods; views (the web view, the terminal view, plain lines) read snapshots of
// it and are told when it changed, so every view shows the same facts. It does no I/O.
package events

import (
	"sort"
	"strings"
	"sync"
	"time"
)

// Limits on what the model keeps: enough for a session's chart and console, bounded for a long one.
const (
	MaxUpdates = 300 // updates kept for the latency chart
	MaxErrors  = 50  // error blocks kept for the console
	MaxNotes   = 50  // recent events kept
	MaxOutput  = 20  // lines of the latest step output kept per pod
)

// Pod is one pod of one workload as the views show it.
type Pod struct {
	Workload string `json:"workload"`
	Name     string `json:"name"`
	// Phase is the pod's phase as `logs` and the terminal view say it ("Running", "CrashLoopBackOff").
	Phase     string `json:"phase"`
	Connected bool   `json:"connected"`
	// Converged: a comparison of the whole tree left the pod equal to the local tree since `up` started.
	Converged bool `json:"converged"`
	// Stale: the pod runs but has not been brought equal to the local tree yet (it runs the image's code).
	Stale     bool      `json:"stale"`
	LastSync  time.Time `json:"lastSync"`
	LatencyMs float64   `json:"latencyMs"`
	LastError string    `json:"lastError"`
	// Progress is the first sync (or any large update) under way, nil when none is.
	Progress *Progress `json:"progress"`
	// Step is the step running now, nil when none is.
	Step *Step `json:"step"`
	// Output is the latest step output, the last MaxOutput lines.
	Output []string `json:"output"`
	// okAt is when the pod last answered an update without an error: error blocks older than that
	// are fixed for it.
	okAt time.Time
}

// Progress is how far a large update to one pod has come.
type Progress struct {
	Files      int       `json:"files"`
	TotalFiles int       `json:"totalFiles"`
	Bytes      int64     `json:"bytes"`
	TotalBytes int64     `json:"totalBytes"`
	Started    time.Time `json:"started"`
	// RateBps is bytes a second since it started; LeftMs the time left at that rate (-1 not known).
	RateBps float64 `json:"rateBps"`
	LeftMs  float64 `json:"leftMs"`
}

// Step is a step running in a pod: what, since when, and its last line of output.
type Step struct {
	Name     string    `json:"name"`
	Started  time.Time `json:"started"`
	LastLine string    `json:"lastLine"`
}

// Update is one update sent to one pod, with the time each stage of edit -> running took.
type Update struct {
	Workload    string    `json:"workload"`
	Pod         string    `json:"pod"`
	Time        time.Time `json:"time"`
	Files       int       `json:"files"`
	Deletes     int       `json:"deletes"`
	Convergence bool      `json:"convergence"`
	Err         string    `json:"err"`
	// LatencyMs is edit -> running (0 for a convergence, which no edit started); the stages below
	// add up to it but for the time the update waited for an earlier one.
	LatencyMs float64 `json:"latencyMs"`
	QuietMs   float64 `json:"quietMs"`
	SendMs    float64 `json:"sendMs"`
	WriteMs   float64 `json:"writeMs"`
	StepsMs   float64 `json:"stepsMs"`
	RestartMs float64 `json:"restartMs"`
	// Line is how the plain lines say it.
	Line string `json:"line"`
}

// Forward is a local address `up` forwards to a workload's ready pods.
type Forward struct {
	Workload string `json:"workload"`
	URL      string `json:"url"`
	Remote   int    `json:"remote"`
}

// Note levels.
const (
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelEvent = "event" // a Warning event of a pod
	LevelStep  = "step"  // a line of step output
)

// Note is one recent event: what `up` is doing, a warning, a pod's Warning event, step output.
type Note struct {
	Time  time.Time `json:"time"`
	Level string    `json:"level"`
	Text  string    `json:"text"`
}

// State is a snapshot of the model: what a view draws.
type State struct {
	Title     string    `json:"title"`
	Workloads []string  `json:"workloads"`
	Pods      []Pod     `json:"pods"`
	Updates   []Update  `json:"updates"`
	P50Ms     float64   `json:"p50Ms"`
	Errors    []Error   `json:"errors"` // newest first
	Forwards  []Forward `json:"forwards"`
	Notes     []Note    `json:"notes"` // oldest first
	// Seq counts the changes: a view that has drawn Seq has drawn everything up to it.
	Seq uint64 `json:"seq"`
}

// Model is the shared model. It is safe for concurrent use; the zero value is not: use New.
type Model struct {
	mu      sync.Mutex
	now     func() time.Time
	title   string
	dir     string // the local directory local paths are relative to, for absolute links
	loads   []string
	pods    map[string]*Pod
	updates []Update
	errors  []Error
	nextID  int
	fwds    []Forward
	notes   []Note
	seq     uint64
	subs    map[chan struct{}]struct{}
}

// New returns an empty model for the workloads named, titled as the views' first line; dir is the
// absolute local directory that relative local paths in error blocks are under.
func New(title, dir string, workloads []string) *Model {
	return &Model{now: time.Now, title: title, dir: dir, loads: append([]string(nil), workloads...),
		pods: map[string]*Pod{}, subs: map[chan struct{}]struct{}{}}
}

// Subscribe returns a channel that receives a value (coalesced: at most one waits) after each change,
// and a function that ends the subscription.
func (m *Model) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	m.mu.Lock()
	m.subs[ch] = struct{}{}
	m.mu.Unlock()
	return ch, func() {
		m.mu.Lock()
		delete(m.subs, ch)
		m.mu.Unlock()
	}
}

// changed counts a change and tells the subscribers; m.mu is held.
func (m *Model) changed() {
	m.seq++
	for ch := range m.subs {
		select {
		case ch <- struct{}{}:
		default: // one is waiting already: the view reads the newest state anyway
		}
	}
}

// Snapshot returns a copy of the model's state.
func (m *Model) Snapshot() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := State{Title: m.title, Seq: m.seq, P50Ms: p50(m.updates),
		Updates: append([]Update{}, m.updates...), Forwards: append([]Forward{}, m.fwds...), Notes: append([]Note{}, m.notes...)}
	seen := map[string]bool{}
	for _, w := range m.loads {
		if !seen[w] {
			seen[w] = true
			s.Workloads = append(s.Workloads, w)
		}
	}
	s.Pods = []Pod{}
	for _, p := range m.pods {
		c := *p
		c.Stale = !p.Converged && strings.HasPrefix(p.Phase, "Running")
		c.Output = append([]string{}, p.Output...)
		if p.Progress != nil {
			pr := *p.Progress
			c.Progress = &pr
		}
		if p.Step != nil {
			st := *p.Step
			c.Step = &st
		}
		s.Pods = append(s.Pods, c)
		if !seen[p.Workload] {
			seen[p.Workload] = true
			s.Workloads = append(s.Workloads, p.Workload)
		}
	}
	sort.Strings(s.Workloads)
	sort.Slice(s.Pods, func(i, j int) bool {
		if s.Pods[i].Workload != s.Pods[j].Workload {
			return s.Pods[i].Workload < s.Pods[j].Workload
		}
		return s.Pods[i].Name < s.Pods[j].Name
	})
	s.Errors = make([]Error, 0, len(m.errors))
	for i := len(m.errors) - 1; i >= 0; i-- {
		e := m.errors[i]
		e.Pods = append([]string(nil), e.Pods...)
		s.Errors = append(s.Errors, e)
	}
	return s
}

// p50 is the median edit -> running latency of the updates an edit started and that succeeded.
func p50(us []Update) float64 {
	var ls []float64
	for _, u := range us {
		if u.LatencyMs > 0 && u.Err == "" {
			ls = append(ls, u.LatencyMs)
		}
	}
	if len(ls) == 0 {
		return 0
	}
	sort.Float64s(ls)
	return ls[(len(ls)-1)/2]
}

// pod returns the pod's entry, made on first use; m.mu is held.
func (m *Model) pod(workload, name string) *Pod {
	k := workload + "/" + name
	if m.pods[k] == nil {
		m.pods[k] = &Pod{Workload: workload, Name: name, Phase: "-"}
	}
	return m.pods[k]
}

// note keeps a recent event; m.mu is held.
func (m *Model) note(level, text string) {
	m.notes = append(m.notes, Note{Time: m.now(), Level: level, Text: text})
	if len(m.notes) > MaxNotes {
		m.notes = m.notes[len(m.notes)-MaxNotes:]
	}
}
