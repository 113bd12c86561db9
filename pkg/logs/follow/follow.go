// Package follow reads what `kubectl fastdev logs` and the live view of `up` show from the cluster:
// the log of every container of every pod of the dev Deployments (new pods and restarted containers
// included), the pods' Warning events, and their containers' failed exits and stuck starts. Lines go
// through pkg/logs's detectors, errors through its Grouper, and items come out of one callback.
// The API calls are those of the small interfaces below; pkg/kube implements them.
package follow

import (
	"context"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// Pods finds and follows the pods of a Deployment.
type Pods interface {
	// ListPods returns the pods matching selector now (a read that does not follow).
	ListPods(ctx context.Context, selector string) ([]corev1.Pod, string, error)
	// SubscribePods calls onPod with every state of every pod matching selector (gone once it is
	// deleted) and onErr with every failure to list or watch them (retried), until ctx ends; it
	// returns once no call is running or will follow. In `up` it shares the dev loop's watch.
	SubscribePods(ctx context.Context, selector string, onPod func(pod *corev1.Pod, gone bool), onErr func(error)) error
}

// Streams reads container logs and events.
type Streams interface {
	StreamLogs(ctx context.Context, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error)
	ListEvents(ctx context.Context, fieldSelector string) ([]corev1.Event, string, error)
	WatchEvents(ctx context.Context, fieldSelector, resourceVersion string) (watch.Interface, error)
}

// API is everything the follower asks of the cluster.
type API interface {
	Pods
	Streams
}

// Target is one Deployment whose pods are followed.
type Target struct {
	Name     string
	Selector string       // its pods' label selector
	Rules    *rules.Rules // nil: no local paths are shown
}

// Config is a validated configuration of a run.
type Config struct {
	Targets []Target
	// Dir is the local directory the rules' `from` paths are relative to, for local paths.
	Dir string
	// Follow keeps streaming until ctx ends; otherwise Run returns after reading what there is.
	Follow bool
	// Since drops lines, events and exits older than it; zero keeps everything.
	Since time.Time
	// Window is how long an error waits for the same error from other replicas (Follow only).
	Window time.Duration
	// Quiet is how long a stream must be silent before an open block is taken as complete.
	Quiet time.Duration
	// Exists tells whether a local path exists (nil: paths without a directory are not mapped).
	Exists func(string) bool
	// OnPod, if set, is told every state a pod is seen in, and when it is gone (for the live view).
	OnPod func(target string, pod *corev1.Pod, gone bool)
	// Warn, if set, is told about problems reading the cluster that do not stop the run.
	Warn func(msg string)
}

// DefaultWindow is long enough for the same crash to reach the log streams of every replica (each
// one is a separate kubelet stream, some hundreds of milliseconds apart) and short enough to read
// as immediate.
const DefaultWindow = 2 * time.Second

// DefaultQuiet ends an open block after 300 ms without a line: a runtime writes a stack trace in
// one go, so a pause means it is complete (and a crashed process writes nothing after it).
const DefaultQuiet = 300 * time.Millisecond

// Run follows the targets and calls out with each item, from one goroutine, until ctx ends (Follow)
// or everything has been read. Items of a finished read come sorted by time.
func Run(ctx context.Context, api API, cfg Config, out func(logs.Item)) error {
	if cfg.Quiet == 0 {
		cfg.Quiet = DefaultQuiet
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := &follower{api: api, cfg: cfg, items: make(chan logs.Item, 256), started: map[string]bool{},
		seen: map[string]bool{}, pods: map[string]*podInfo{}, pending: map[string][]logs.Item{}, gone: map[string]bool{}}
	var wg sync.WaitGroup
	for i := range cfg.Targets {
		t := &cfg.Targets[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.followPods(ctx, t, &wg)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		f.events(ctx)
	}()
	go func() {
		wg.Wait()
		close(f.items)
	}()
	if cfg.Follow {
		f.deliver(ctx, out)
		return nil
	}
	f.collect(out)
	return ctx.Err()
}

// follower is one run's shared state.
type follower struct {
	api   API
	cfg   Config
	items chan logs.Item

	mu      sync.Mutex
	started map[string]bool        // container IDs whose log is (or was) read
	seen    map[string]bool        // exits, stuck starts and events already reported
	pods    map[string]*podInfo    // every pod seen, by name
	pending map[string][]logs.Item // events about pods not seen yet, by pod name
	gone    map[string]bool        // pods the watch reported deleted: their logs are gone with them
}

// podInfo is what the follower knows of one pod.
type podInfo struct {
	target string
	pod    *corev1.Pod
	// mappers map paths in each container's output: by container name, "" for containers the rules
	// do not develop (nil: the target has no rules)
	mappers map[string]*logs.Mapper
}

// emit hands an item to the delivering goroutine.
func (f *follower) emit(ctx context.Context, it logs.Item) {
	select {
	case f.items <- it:
	case <-ctx.Done():
	}
}

func (f *follower) warn(msg string) {
	if f.cfg.Warn != nil {
		f.cfg.Warn(msg)
	}
}

// deliver groups and passes on items as they come, until ctx ends.
func (f *follower) deliver(ctx context.Context, out func(logs.Item)) {
	g := &logs.Grouper{Window: f.cfg.Window}
	if g.Window == 0 {
		g.Window = DefaultWindow
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case it, ok := <-f.items:
			if !ok {
				for _, o := range g.Flush() {
					out(o)
				}
				return
			}
			for _, o := range g.Add(it, time.Now()) {
				out(o)
			}
		case <-timer.C:
			for _, o := range g.Due(time.Now()) {
				out(o)
			}
		case <-ctx.Done():
			for _, o := range g.Flush() {
				out(o)
			}
			return
		}
		timer.Stop()
		if next, ok := g.Next(); ok {
			timer.Reset(time.Until(next))
		}
	}
}

// collect reads everything, groups every error with its copies from other replicas, and passes the
// items on in time order.
func (f *follower) collect(out func(logs.Item)) {
	g := &logs.Grouper{} // no window: a finished read groups everything
	var all []logs.Item
	for it := range f.items {
		all = append(all, g.Add(it, time.Time{})...)
	}
	all = append(all, g.Flush()...)
	logs.SortByTime(all)
	for _, it := range all {
		out(it)
	}
}

// sleep waits d or until ctx ends, and reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
