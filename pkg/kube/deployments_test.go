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
)

func dep(name string, gen int64) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "dev", Generation: gen}}
}

// depLog records what WatchDeployments told.
type depLog struct {
	mu    sync.Mutex
	lines []string
	errs  []error
}

func (l *depLog) on(d *appsv1.Deployment, gone bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf("%s/%d gone=%v", d.Name, d.Generation, gone))
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

// TestWatchDeployments: each named Deployment's states reach the caller (the one there is, changes,
// deletion), other Deployments' do not, the watch asks the server for the name, and nothing is called
// once WatchDeployments has returned.
func TestWatchDeployments(t *testing.T) {
	cs := fake.NewSimpleClientset(dep("web", 1), dep("api", 1), dep("other", 1))
	selectors := make(chan string, 10)
	cs.PrependWatchReactor("deployments", func(a k8stesting.Action) (bool, watch.Interface, error) {
		w, err := cs.Tracker().Watch(a.GetResource(), a.GetNamespace())
		selectors <- a.(k8stesting.WatchAction).GetWatchRestrictions().Fields.String()
		return true, w, err
	})
	l := &depLog{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewForClientset(cs, "dev").WatchDeployments(ctx, []string{"web", "api"}, l.on, l.err) }()
	got := map[string]bool{<-selectors: true, <-selectors: true}
	if !got["metadata.name=web"] || !got["metadata.name=api"] {
		t.Errorf("watches asked for %v", got)
	}
	l.waitFor(t, "web/1 gone=false")
	l.waitFor(t, "api/1 gone=false")
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
	if strings.Contains(seen, "other") {
		t.Errorf("a Deployment not asked for was passed on: %s", seen)
	}
	if _, err := cs.AppsV1().Deployments("dev").Update(bg, dep("web", 3), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	l.mu.Lock()
	defer l.mu.Unlock()
	if strings.Contains(strings.Join(l.lines, "; "), "web/3") {
		t.Errorf("called after WatchDeployments returned: %s", l.lines)
	}
}

// TestWatchDeploymentsRefused: a refused watch reaches onErr with the verb and resource to grant, and
// the informer keeps trying.
func TestWatchDeploymentsRefused(t *testing.T) {
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
	go func() { done <- NewForClientset(cs, "dev").WatchDeployments(ctx, []string{"web"}, l.on, l.err) }()
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
