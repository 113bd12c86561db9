// Package devloop is the core of `kubectl fastdev up`: it watches the local trees of the dev
// Deployments, follows their pods, and keeps every pod's synced files equal to the local tree, one
// update per edit batch per pod, with the in-pod steps and restart that the rules ask for.
package devloop

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	fswatch "github.com/kubectl-fastdev/kubectl-fastdev/pkg/watch"
)

// PodAPI is what the loop needs of the cluster.
type PodAPI interface {
	ListPods(ctx context.Context, selector string) ([]corev1.Pod, string, error)
	WatchPods(ctx context.Context, selector, resourceVersion string) (watch.Interface, error)
	PortForward(ctx context.Context, pod string, port int) (*kube.Forward, error)
}

var _ PodAPI = (*kube.Client)(nil)

// Target is one injected Deployment to develop.
type Target struct {
	Name     string
	Selector string // its pods' label selector
	Rules    *rules.Rules
	Token    string
	Port     int
}

// Config is the validated configuration of a run.
type Config struct {
	Dir     string // local directory the rules' `from` paths are relative to
	Targets []Target
	Watch   fswatch.Options
}

type deployment struct {
	name   string
	token  string
	port   int
	local  *local
	api    PodAPI
	report Reporter

	mu      sync.Mutex
	workers map[string]*workerHandle
	warned  sync.Map      // messages already shown once
	scanned chan struct{} // closed once the local manifest is complete: pods are compared only after
}

// warnOnce shows a warning the first time only (every pod and every update would repeat it).
func (d *deployment) warnOnce(msg string) {
	if _, seen := d.warned.LoadOrStore(msg, true); !seen {
		d.report.Warn(msg)
	}
}

type workerHandle struct {
	w      *podWorker
	cancel context.CancelFunc
}

// Run develops the targets until ctx ends. It returns an error only for what stops the whole loop
// (a local tree that cannot be read or watched); pod and connection problems are reported and retried.
func Run(ctx context.Context, api PodAPI, cfg Config, report Reporter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2*len(cfg.Targets))
	var wg sync.WaitGroup
	for _, t := range cfg.Targets {
		l, err := newLocal(cfg.Dir, t.Rules)
		if err != nil {
			return fmt.Errorf("deployment %q: %w", t.Name, err)
		}
		d := &deployment{name: t.Name, token: t.Token, port: t.Port, local: l, api: api, report: report, workers: map[string]*workerHandle{},
			scanned: make(chan struct{})}
		changes := make(chan Change, 64)
		ready := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := l.watch(ctx, cfg.Watch, changes, report.Warn, ready); err != nil {
				errs <- fmt.Errorf("watching files of deployment %q: %w", t.Name, err)
			}
		}()
		go func() {
			defer wg.Done()
			select {
			case <-ready:
			case <-ctx.Done():
				return
			}
			// pods are followed (port-forwards opened, their files listed) while the tree is scanned,
			// but compared only once the local manifest is complete: comparing a pod with a partial
			// manifest would delete its files
			wg.Add(1) // this goroutine still counts, so the group cannot reach zero meanwhile
			go func() { defer wg.Done(); d.followPods(ctx, t.Selector) }()
			// scanning after the watch is in place: an edit during the scan is seen by both, never by neither
			if err := l.scan(); err != nil {
				errs <- err
				return
			}
			report.Warn(fmt.Sprintf("%s: watching %s", t.Name, rootsList(l)))
			close(d.scanned)
			d.fanOut(ctx, changes)
		}()
	}
	select {
	case <-ctx.Done():
	case err := <-errs:
		cancel()
		wg.Wait()
		return err
	}
	wg.Wait()
	return nil
}

func rootsList(l *local) string {
	s := ""
	for i, r := range l.roots {
		if i > 0 {
			s += ", "
		}
		s += r.dir + " -> " + l.rules.Sync[i].To
	}
	return s
}

// fanOut hands every local change to every pod worker.
func (d *deployment) fanOut(ctx context.Context, changes <-chan Change) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-changes:
			d.mu.Lock()
			for _, h := range d.workers {
				h.w.add(c)
			}
			d.mu.Unlock()
		}
	}
}

// followPods lists and watches the Deployment's pods, starting a worker for each pod whose synclet
// runs and stopping it when the pod goes away. New replicas, rollouts and deleted pods are all
// handled here, while `up` runs.
func (d *deployment) followPods(ctx context.Context, selector string) {
	for ctx.Err() == nil {
		pods, rv, err := d.api.ListPods(ctx, selector)
		if err != nil {
			d.report.Warn(fmt.Sprintf("%s: listing pods: %v", d.name, err))
			sleep(ctx, time.Second)
			continue
		}
		live := map[string]bool{}
		for i := range pods {
			d.observe(ctx, &pods[i])
			live[pods[i].Name] = true
		}
		d.mu.Lock()
		for name, h := range d.workers {
			if !live[name] {
				h.cancel()
				delete(d.workers, name)
			}
		}
		d.mu.Unlock()
		w, err := d.api.WatchPods(ctx, selector, rv)
		if err != nil {
			d.report.Warn(fmt.Sprintf("%s: watching pods: %v", d.name, err))
			sleep(ctx, time.Second)
			continue
		}
		d.watchPods(ctx, w)
		w.Stop()
	}
	d.mu.Lock()
	for name, h := range d.workers {
		h.cancel()
		delete(d.workers, name)
	}
	d.mu.Unlock()
}

// watchPods handles pod events until the watch ends (the caller lists again) or ctx ends.
func (d *deployment) watchPods(ctx context.Context, w watch.Interface) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, open := <-w.ResultChan():
			if !open {
				return
			}
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				return // an error event (e.g. resource version too old): list again
			}
			if ev.Type == watch.Deleted {
				d.stop(pod.Name)
				continue
			}
			d.observe(ctx, pod)
		}
	}
}

// observe starts or stops the worker of one pod according to its state.
func (d *deployment) observe(ctx context.Context, pod *corev1.Pod) {
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		d.stop(pod.Name)
		return
	}
	if _, injected := pod.Annotations[inject.AnnotationInjected]; !injected || !inject.SyncletRunning(pod) {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.workers[pod.Name]; ok {
		return
	}
	wctx, cancel := context.WithCancel(ctx)
	w := newPodWorker(d, pod.Name)
	d.workers[pod.Name] = &workerHandle{w: w, cancel: cancel}
	go w.run(wctx)
}

func (d *deployment) stop(pod string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if h, ok := d.workers[pod]; ok {
		h.cancel()
		delete(d.workers, pod)
		d.report.PodGone(d.name, pod)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
