package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// WatchDeployments calls onDeployment with every state of each named Deployment (first the one there
// is, then each change; gone is true once it is deleted) and onErr with every failure to list or watch
// it (the informer retries), until ctx ends. Each Deployment has an informer of its own, restricted to
// its name by a field selector; calls for one Deployment come from one goroutine, in order. It returns
// once ctx has ended and no call is running or will follow.
func (c *Client) WatchDeployments(ctx context.Context, names []string, onDeployment func(d *appsv1.Deployment, gone bool), onErr func(error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, name := range names {
		inf := cache.NewSharedIndexInformer(c.deploymentListWatch(name), &appsv1.Deployment{}, 0, cache.Indexers{})
		if err := inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
			if !watchEnded(err) {
				onErr(err)
			}
		}); err != nil {
			return fmt.Errorf("watching deployment %q: %w", name, err)
		}
		if _, err := inf.AddEventHandler(deploymentHandler(name, onDeployment)); err != nil {
			return fmt.Errorf("watching deployment %q: %w", name, err)
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

// deploymentListWatch lists and watches the one Deployment called name.
func (c *Client) deploymentListWatch(name string) *cache.ListWatch {
	deps := c.cs.AppsV1().Deployments(c.Namespace)
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			l, err := deps.List(ctx, o)
			return l, Explain(err, "list", "deployments", c.Namespace)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			w, err := deps.Watch(ctx, o)
			return w, Explain(err, "watch", "deployments", c.Namespace)
		},
	}
}

// deploymentHandler passes the states of Deployment name to on (the name is checked again: the field
// selector is the server's to apply, and not every client applies it).
func deploymentHandler(name string, on func(*appsv1.Deployment, bool)) cache.ResourceEventHandlerFuncs {
	call := func(obj any, gone bool) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj // deleted while the watch was down: seen at the next list
		}
		if d, ok := obj.(*appsv1.Deployment); ok && d.Name == name {
			on(d, gone)
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
