// Package devloop is the core of `kubectl fastdev up`: it watches the local trees of the dev
// Deployments, follows their pods, and keeps every pod's synced files equal to the local tree, one
// update per edit batch per pod, with the in-pod steps and restart that the rules ask for.
package devloop

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/auth"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	fswatch "github.com/kubectl-fastdev/kubectl-fastdev/pkg/watch"
)

// PodAPI is what the loop needs of the cluster.
type PodAPI interface {
	// SubscribePods calls onPod with every state of every pod matching selector (gone once it is
	// deleted) and onErr with every failure to list or watch them (retried), until ctx ends; it
	// returns once no call is running or will follow.
	SubscribePods(ctx context.Context, selector string, onPod func(pod *corev1.Pod, gone bool), onErr func(error)) error
	PortForward(ctx context.Context, pod string, port int) (*kube.Forward, error)
}

var (
	_ PodAPI = (*kube.Client)(nil)
	_ PodAPI = (*kube.SharingClient)(nil)
)

// Target is one injected Deployment to develop.
type Target struct {
	Name     string
	Selector string // its pods' label selector
	Rules    *rules.Rules
	Keys     string    // the public keys injected (kept by a re-injection)
	Key      *auth.Key // this machine's key, which every connection to a synclet proves
	Port     int
}

// Config is the validated configuration of a run.
type Config struct {
	Dir     string // local directory the rules' `from` paths are relative to
	Targets []Target
	Watch   fswatch.Options
	// Hold, when set, is waited for before each update of a Deployment's pods: `up --debug` holds
	// edits while the IDE has the program stopped (pkg/cmd/debug.go). Edits made meanwhile queue up
	// and leave as one update.
	Hold func(ctx context.Context, deployment string) error
}

type deployment struct {
	name   string
	key    *auth.Key
	port   int
	local  *local
	api    PodAPI
	report Reporter
	hold   func(ctx context.Context, deployment string) error // Config.Hold; nil holds nothing

	mu      sync.Mutex
	workers map[string]*workerHandle
	running sync.WaitGroup // every worker's goroutine, so the loop ends after its workers
	scanned chan struct{}  // closed once the local manifest is complete: pods are compared only after
}

type workerHandle struct {
	w      *podWorker
	cancel context.CancelFunc
}

// Run develops the targets until ctx ends. It returns an error only for what stops the whole loop
// (a local tree that cannot be read or watched); pod and connection problems are reported and retried.
// It returns only once every goroutine it started (file watches, pod subscriptions, pod workers) has
// ended.
func Run(ctx context.Context, api PodAPI, cfg Config, report Reporter) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	errs := make(chan error, 2*len(cfg.Targets)) // each target sends at most two: its watch and its scan
	for _, t := range cfg.Targets {
		l, err := newLocal(cfg.Dir, t.Rules)
		if err != nil {
			return fmt.Errorf("deployment %q: %w", t.Name, err)
		}
		d := &deployment{name: t.Name, key: t.Key, port: t.Port, local: l, api: api, report: report, workers: map[string]*workerHandle{},
			scanned: make(chan struct{}), hold: cfg.Hold}
		d.start(ctx, &wg, cfg.Watch, t.Selector, errs)
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		return err
	}
}

// start runs the deployment's file watch and, once the watch is in place, its pods and local scan.
func (d *deployment) start(ctx context.Context, wg *sync.WaitGroup, opts fswatch.Options, selector string, errs chan<- error) {
	changes := make(chan Change, 64)
	ready := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := d.local.watch(ctx, opts, changes, d.report.Warn, ready); err != nil {
			errs <- fmt.Errorf("watching files of deployment %q: %w", d.name, err)
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
		go func() { defer wg.Done(); d.followPods(ctx, selector) }()
		// scanning after the watch is in place: an edit during the scan is seen by both, never by neither
		if err := d.local.scan(); err != nil {
			errs <- err
			return
		}
		d.report.Info(fmt.Sprintf("%s: watching %s", d.name, rootsList(d.local)))
		if msg := d.local.secrets(d.name); msg != "" {
			d.report.Warn(msg)
		}
		close(d.scanned)
		d.fanOut(ctx, changes)
	}()
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

// followPods follows the Deployment's pods until ctx ends, starting a worker for each pod whose
// synclet runs and stopping it when the pod goes away. New replicas, rollouts and deleted pods are
// all handled here, while `up` runs; a dropped watch is re-established by the pod source. It returns
// once every worker it started has ended.
func (d *deployment) followPods(ctx context.Context, selector string) {
	err := d.api.SubscribePods(ctx, selector, func(pod *corev1.Pod, gone bool) {
		if gone {
			d.stop(pod.Name)
			return
		}
		d.observe(ctx, pod)
	}, func(err error) {
		d.report.Warn(fmt.Sprintf("%s: watching pods: %v", d.name, err))
	})
	if err != nil {
		d.report.Warn(fmt.Sprintf("%s: watching pods: %v", d.name, err))
	}
	d.mu.Lock()
	for name, h := range d.workers {
		h.cancel()
		delete(d.workers, name)
	}
	d.mu.Unlock()
	// SubscribePods has returned, so observe starts no worker any more: the count only goes down
	d.running.Wait()
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
	d.running.Add(1)
	go func() {
		defer d.running.Done()
		w.run(wctx)
	}()
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
