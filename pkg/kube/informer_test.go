package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

func webPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "dev", Labels: map[string]string{"app": "web"}}}
}

// podLog records what one subscriber was told.
type podLog struct {
	mu    sync.Mutex
	lines []string
	errs  []error
}

func (l *podLog) pod(p *corev1.Pod, gone bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf("%s gone=%v", p.Name, gone))
}

func (l *podLog) err(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

// waitFor waits until the subscriber was told line.
func (l *podLog) waitFor(t *testing.T, line string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		lines := strings.Join(l.lines, "; ")
		l.mu.Unlock()
		if strings.Contains("; "+lines+"; ", "; "+line+"; ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q within 5s; got %s", line, lines)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// subscribe runs SubscribePods until the returned stop is called; stop returns what it returned.
func subscribe(c interface {
	SubscribePods(context.Context, string, func(*corev1.Pod, bool), func(error)) error
}, l *podLog) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.SubscribePods(ctx, "app=web", l.pod, l.err) }()
	return func() error { cancel(); return <-done }
}

// watched makes the fake clientset signal each pod watch once it is in place (the fake does not
// replay what happened between its list and its watch, as the API server does).
func watched(cs *fake.Clientset) <-chan string {
	ch := make(chan string, 10)
	cs.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		w, err := cs.Tracker().Watch(a.GetResource(), a.GetNamespace())
		ch <- a.(k8stesting.WatchAction).GetWatchRestrictions().Labels.String()
		return true, w, err
	})
	return ch
}

func count(cs *fake.Clientset, verb string) int {
	n := 0
	for _, a := range cs.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == "pods" {
			n++
		}
	}
	return n
}

// TestSharedPodInformer: two subscribers of one selector share one list and one watch; both see the
// pods there are, new ones and deleted ones; one leaving does not stop the other, and once
// SubscribePods has returned its subscriber is told nothing more.
func TestSharedPodInformer(t *testing.T) {
	cs := fake.NewSimpleClientset(webPod("web-1"))
	watches := watched(cs)
	c := NewForClientset(cs, "dev").Sharing()
	a, b := &podLog{}, &podLog{}
	stopA := subscribe(c, a)
	if sel := <-watches; sel != "app=web" {
		t.Fatalf("watch selector %q", sel)
	}
	stopB := subscribe(c, b)
	a.waitFor(t, "web-1 gone=false")
	b.waitFor(t, "web-1 gone=false") // a late subscriber is told the pods already there

	ctx := context.Background()
	if _, err := cs.CoreV1().Pods("dev").Create(ctx, webPod("web-2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	a.waitFor(t, "web-2 gone=false")
	b.waitFor(t, "web-2 gone=false")
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	seenA := len(a.lines)
	a.mu.Unlock()
	if err := cs.CoreV1().Pods("dev").Delete(ctx, "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, "web-1 gone=true")
	if err := stopB(); err != nil {
		t.Fatal(err)
	}
	if n := len(a.lines); n != seenA {
		t.Errorf("a stopped subscriber was called: %q", a.lines)
	}
	if l, w := count(cs, "list"), count(cs, "watch"); l != 1 || w != 1 {
		t.Errorf("two subscribers of one selector made %d lists and %d watches, want 1 and 1", l, w)
	}
	c.informers.mu.Lock()
	left := len(c.informers.informers)
	c.informers.mu.Unlock()
	if left != 0 {
		t.Errorf("%d informers still run after their last subscriber left", left)
	}
}

// TestPodInformerErrors: a refused list reaches the subscriber with the RBAC advice, and is retried.
func TestPodInformerErrors(t *testing.T) {
	cs := fake.NewSimpleClientset(webPod("web-1"))
	var mu sync.Mutex
	refusals := 1
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		if refusals == 0 {
			return false, nil, nil
		}
		refusals--
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no"))
	})
	l := &podLog{}
	stop := subscribe(NewForClientset(cs, "dev"), l)
	l.waitFor(t, "web-1 gone=false")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if len(l.errs) != 1 || !strings.Contains(l.errs[0].Error(), `not allowed to list pods in namespace "dev"`) || !apierrors.IsForbidden(l.errs[0]) {
		t.Errorf("errors: %v", l.errs)
	}
}

// TestTombstone: a pod deleted while the watch was down comes as a tombstone at the next list and is
// passed on as gone; a stopped subscription passes nothing on.
func TestTombstone(t *testing.T) {
	l := &podLog{}
	s := &subscription{onPod: l.pod}
	s.pod(cache.DeletedFinalStateUnknown{Key: "dev/web-1", Obj: webPod("web-1")}, true)
	s.pod("not a pod", false)
	s.stop()
	s.pod(webPod("web-2"), false)
	if got := strings.Join(l.lines, "; "); got != "web-1 gone=true" {
		t.Errorf("got %q", got)
	}
}

// TestPodInformerRewatches: a watch the API server drops is re-established by the informer, and the
// pods created after it are seen.
func TestPodInformerRewatches(t *testing.T) {
	cs := fake.NewSimpleClientset(webPod("web-1"))
	first := watch.NewFake()
	var mu sync.Mutex
	dropped := false
	again := make(chan struct{})
	cs.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		mu.Lock()
		defer mu.Unlock()
		if !dropped {
			dropped = true
			return true, first, nil
		}
		w, err := cs.Tracker().Watch(a.GetResource(), a.GetNamespace())
		close(again)
		return true, w, err
	})
	l := &podLog{}
	stop := subscribe(NewForClientset(cs, "dev"), l)
	l.waitFor(t, "web-1 gone=false")
	first.Stop() // the connection drops
	select {
	case <-again:
	case <-time.After(10 * time.Second):
		t.Fatal("the watch was not re-established within 10s")
	}
	if _, err := cs.CoreV1().Pods("dev").Create(context.Background(), webPod("web-2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	l.waitFor(t, "web-2 gone=false")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if len(l.errs) != 0 {
		t.Errorf("a dropped watch was reported as a failure: %v", l.errs)
	}
}
