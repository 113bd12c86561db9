package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

func dep(name string, gen int64) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "dev", Generation: gen}}
}

func refs(args ...string) []workload.Ref {
	r, err := workload.ParseRefs(args)
	if err != nil {
		panic(err)
	}
	return r
}

// depLog records what WatchWorkloads told.
type depLog struct {
	mu    sync.Mutex
	lines []string
	errs  []error
}

func (l *depLog) on(w workload.Workload, gone bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf("%s/%d gone=%v", w.Ref(), w.Meta().Generation, gone))
}

func (l *depLog) err(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *depLog) waitFor(t *testing.T, line string) {
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

// TestWatchWorkloads: each named workload's states reach the caller (the one there is, changes,
// deletion), other workloads' do not (also not a Deployment named as a watched StatefulSet), the
// watch asks the server for the name, and nothing is called once WatchWorkloads has returned.
func TestWatchWorkloads(t *testing.T) {
	db := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "dev", Generation: 4}}
	cs := fake.NewSimpleClientset(dep("web", 1), dep("api", 1), dep("other", 1), dep("db", 7), db)
	selectors := make(chan string, 10)
	cs.PrependWatchReactor("deployments", func(a k8stesting.Action) (bool, watch.Interface, error) {
		w, err := cs.Tracker().Watch(a.GetResource(), a.GetNamespace())
		selectors <- a.(k8stesting.WatchAction).GetWatchRestrictions().Fields.String()
		return true, w, err
	})
	l := &depLog{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- NewForClientset(cs, "dev").WatchWorkloads(ctx, refs("web", "api", "statefulset/db"), l.on, l.err)
	}()
	got := map[string]bool{<-selectors: true, <-selectors: true}
	if !got["metadata.name=web"] || !got["metadata.name=api"] {
		t.Errorf("watches asked for %v", got)
	}
	l.waitFor(t, "web/1 gone=false")
	l.waitFor(t, "api/1 gone=false")
	l.waitFor(t, "statefulset/db/4 gone=false")
	bg := context.Background()
	if _, err := cs.AppsV1().Deployments("dev").Update(bg, dep("web", 2), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	l.waitFor(t, "web/2 gone=false")
	if err := cs.AppsV1().Deployments("dev").Delete(bg, "api", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	l.waitFor(t, "api/1 gone=true")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	seen := strings.Join(l.lines, "; ")
	l.mu.Unlock()
	if strings.Contains(seen, "other") || strings.Contains(seen, "/7") {
		t.Errorf("a Deployment not asked for was passed on: %s", seen)
	}
	if _, err := cs.AppsV1().Deployments("dev").Update(bg, dep("web", 3), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	l.mu.Lock()
	defer l.mu.Unlock()
	if strings.Contains(strings.Join(l.lines, "; "), "web/3") {
		t.Errorf("called after WatchWorkloads returned: %s", l.lines)
	}
}

// TestWatchWorkloadsRefused: a refused watch reaches onErr with the verb and resource to grant, and
// the informer keeps trying.
func TestWatchWorkloadsRefused(t *testing.T) {
	cs := fake.NewSimpleClientset(dep("web", 1))
	refused := make(chan struct{}, 100)
	cs.PrependWatchReactor("deployments", func(k8stesting.Action) (bool, watch.Interface, error) {
		refused <- struct{}{}
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "", errors.New("no"))
	})
	l := &depLog{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- NewForClientset(cs, "dev").WatchWorkloads(ctx, refs("web"), l.on, l.err) }()
	<-refused
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		n := len(l.errs)
		l.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(l.errs) == 0 || !strings.Contains(l.errs[0].Error(), `ask for a Role granting verb "watch" on "deployments"`) {
		t.Errorf("errors: %v", l.errs)
	}
}
