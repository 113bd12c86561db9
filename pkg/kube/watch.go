package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// WatchWorkloads calls onWorkload with every state of each workload in refs (first the one there
// is, then each change; gone is true once it is deleted) and onErr with every failure to list or
// watch it (the informer retries), until ctx ends. Each workload has an informer of its own,
// restricted to its name by a field selector; calls for one workload come from one goroutine, in
// order. It returns once ctx has ended and no call is running or will follow.
func (c *Client) WatchWorkloads(ctx context.Context, refs []workload.Ref, onWorkload func(w workload.Workload, gone bool), onErr func(error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, ref := range refs {
		inf := cache.NewSharedIndexInformer(c.workloadListWatch(ref), workload.New(ref.Kind), 0, cache.Indexers{})
		if err := inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
			if !watchEnded(err) {
				onErr(err)
			}
		}); err != nil {
			return fmt.Errorf("watching %s: %w", describe(ref), err)
		}
		if _, err := inf.AddEventHandler(workloadHandler(ref, onWorkload)); err != nil {
			return fmt.Errorf("watching %s: %w", describe(ref), err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			inf.RunWithContext(ctx)
		}()
	}
	<-ctx.Done()
	// RunWithContext returns only after the informer's handlers have stopped being called
	wg.Wait()
	return nil
}

// workloadListWatch lists and watches the one workload ref names.
func (c *Client) workloadListWatch(ref workload.Ref) *cache.ListWatch {
	kc := c.kind(ref.Kind)
	sel := fields.OneTermEqualSelector("metadata.name", ref.Name).String()
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			l, err := kc.list(ctx, o)
			return l, Explain(err, "list", ref.Kind.Resource(), c.Namespace)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			w, err := kc.watch(ctx, o)
			return w, Explain(err, "watch", ref.Kind.Resource(), c.Namespace)
		},
	}
}

// workloadHandler passes the states of the workload ref to on (the name and kind are checked again:
// the field selector is the server's to apply, and not every client applies it).
func workloadHandler(ref workload.Ref, on func(workload.Workload, bool)) cache.ResourceEventHandlerFuncs {
	call := func(obj any, gone bool) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj // deleted while the watch was down: seen at the next list
		}
		o, ok := obj.(runtime.Object)
		if !ok {
			return
		}
		if w := workload.Of(o); w != nil && w.Ref() == ref {
			on(w, gone)
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { call(obj, false) },
		UpdateFunc: func(_, obj any) { call(obj, false) },
		DeleteFunc: func(obj any) { call(obj, true) },
	}
}

// watchEnded reports a watch that expired or ended normally: the informer lists again or resumes, as
// after any drop, so it is no failure to report.
func watchEnded(err error) bool {
	return apierrors.IsResourceExpired(err) || apierrors.IsGone(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
