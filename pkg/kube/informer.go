package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// PodInformers keeps one client-go informer per label selector of a namespace's pods and shares it
// among every subscriber of that selector: the pods are listed and watched once, however many parts of
// the process follow them. An informer starts with its first subscriber and stops with its last; it
// lists again and re-establishes its watch by itself when the watch drops.
type PodInformers struct {
	cs kubernetes.Interface
	ns string

	mu        sync.Mutex
	informers map[string]*podInformer // by selector
}

// NewPodInformers returns the shared pod informers of namespace ns.
func NewPodInformers(cs kubernetes.Interface, ns string) *PodInformers {
	return &PodInformers{cs: cs, ns: ns, informers: map[string]*podInformer{}}
}

// SubscribePods calls onPod with every state of every pod matching selector (first the pods there
// are, then each change; gone is true once a pod is deleted) and onErr with every failure to list or
// watch them (the informer retries), until ctx ends. Calls come from one goroutine per subscription,
// in order. It returns once ctx has ended and no call is running or will follow.
func (p *PodInformers) SubscribePods(ctx context.Context, selector string, onPod func(pod *corev1.Pod, gone bool), onErr func(error)) error {
	inf, err := p.acquire(selector)
	if err != nil {
		return err
	}
	defer p.release(selector, inf)
	sub := &subscription{onPod: onPod, onErr: onErr}
	inf.addSub(sub)
	defer inf.removeSub(sub)
	reg, err := inf.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { sub.pod(obj, false) },
		UpdateFunc: func(_, obj any) { sub.pod(obj, false) },
		DeleteFunc: func(obj any) { sub.pod(obj, true) },
	})
	if err != nil {
		return fmt.Errorf("following pods %q: %w", selector, err)
	}
	<-ctx.Done()
	// a handler being removed may still be in a call: sub.stop waits for it and shuts out later ones
	err = inf.inf.RemoveEventHandler(reg)
	sub.stop()
	if err != nil {
		return fmt.Errorf("unsubscribing from pods %q: %w", selector, err)
	}
	return nil
}

// acquire returns the running informer of selector, starting it for its first user.
func (p *PodInformers) acquire(selector string) (*podInformer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inf := p.informers[selector]
	if inf == nil {
		var err error
		if inf, err = p.start(selector); err != nil {
			return nil, err
		}
		p.informers[selector] = inf
	}
	inf.users++
	return inf, nil
}

// release gives up one use of an informer, stopping it (and waiting for its goroutines) after its last.
func (p *PodInformers) release(selector string, inf *podInformer) {
	p.mu.Lock()
	inf.users--
	last := inf.users == 0
	if last {
		delete(p.informers, selector)
	}
	p.mu.Unlock()
	if last {
		inf.cancel()
		<-inf.done
	}
}

// start runs a new informer of the pods matching selector.
func (p *PodInformers) start(selector string) (*podInformer, error) {
	pods := p.cs.CoreV1().Pods(p.ns)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = selector
			l, err := pods.List(ctx, o)
			return l, Explain(err, "list", "pods", p.ns)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			w, err := pods.Watch(ctx, o)
			return w, Explain(err, "watch", "pods", p.ns)
		},
	}
	inf := &podInformer{inf: cache.NewSharedIndexInformer(lw, &corev1.Pod{}, 0, cache.Indexers{}),
		done: make(chan struct{}), subs: map[*subscription]bool{}}
	// the informer's own handler only logs (and klog is silenced): failures go to the subscribers
	if err := inf.inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) { inf.failed(err) }); err != nil {
		return nil, fmt.Errorf("following pods %q: %w", selector, err)
	}
	// the informer is shared, so it lives as long as its users, not as the first one's ctx
	ctx, cancel := context.WithCancel(context.Background())
	inf.cancel = cancel
	go func() {
		defer close(inf.done)
		inf.inf.RunWithContext(ctx)
	}()
	return inf, nil
}

// podInformer is one running informer and its subscribers.
type podInformer struct {
	inf    cache.SharedIndexInformer
	cancel context.CancelFunc
	done   chan struct{} // closed once the informer's goroutines have ended
	users  int           // guarded by PodInformers.mu

	mu   sync.Mutex
	subs map[*subscription]bool
}

func (i *podInformer) addSub(s *subscription) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.subs[s] = true
}

func (i *podInformer) removeSub(s *subscription) {
	i.mu.Lock()
	defer i.mu.Unlock()
	delete(i.subs, s)
}

// failed passes a list or watch failure to every subscriber. A watch that expired or ended normally
// is no failure: the informer lists again or resumes, as it would after any drop. The lock is held
// during the calls, so a subscriber removed is called no more.
func (i *podInformer) failed(err error) {
	if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	for s := range i.subs {
		if s.onErr != nil {
			s.onErr(err)
		}
	}
}

// subscription is one consumer's handlers; stop shuts onPod off for good (onErr ends with removeSub).
type subscription struct {
	onPod func(*corev1.Pod, bool)
	onErr func(error)

	mu      sync.Mutex // held during a call of onPod, so stop waits for the call in progress
	stopped bool
}

func (s *subscription) pod(obj any, gone bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj // deleted while the watch was down: seen at the next list
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.onPod(pod, gone)
	}
}

func (s *subscription) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
}
