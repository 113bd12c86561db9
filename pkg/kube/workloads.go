package kube

import (
	"context"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// typedClient is what client-go's typed clients of Deployments, StatefulSets and DaemonSets have in
// common (T the object, L its list): one generic adapter serves all three.
type typedClient[T runtime.Object, L runtime.Object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	List(ctx context.Context, opts metav1.ListOptions) (L, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)
}

// kindClient reads and writes the workloads of one kind as runtime.Objects.
type kindClient interface {
	get(ctx context.Context, name string) (runtime.Object, error)
	list(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error)
	watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	patch(ctx context.Context, name string, patch []byte) error
}

type adapter[T runtime.Object, L runtime.Object] struct{ c typedClient[T, L] }

var _ kindClient = adapter[*appsv1.Deployment, *appsv1.DeploymentList]{}

func (a adapter[T, L]) get(ctx context.Context, name string) (runtime.Object, error) {
	return a.c.Get(ctx, name, metav1.GetOptions{})
}

func (a adapter[T, L]) list(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
	return a.c.List(ctx, opts)
}

func (a adapter[T, L]) watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return a.c.Watch(ctx, opts)
}

func (a adapter[T, L]) patch(ctx context.Context, name string, patch []byte) error {
	_, err := a.c.Patch(ctx, name, types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
	return err
}

// kind returns the client of kind k's workloads in the namespace.
func (c *Client) kind(k workload.Kind) kindClient {
	apps := c.cs.AppsV1()
	switch k {
	case workload.StatefulSet:
		return adapter[*appsv1.StatefulSet, *appsv1.StatefulSetList]{apps.StatefulSets(c.Namespace)}
	case workload.DaemonSet:
		return adapter[*appsv1.DaemonSet, *appsv1.DaemonSetList]{apps.DaemonSets(c.Namespace)}
	}
	return adapter[*appsv1.Deployment, *appsv1.DeploymentList]{apps.Deployments(c.Namespace)}
}

// GetWorkload returns one workload.
func (c *Client) GetWorkload(ctx context.Context, ref workload.Ref) (workload.Workload, error) {
	o, err := c.kind(ref.Kind).get(ctx, ref.Name)
	if err != nil {
		return nil, Explain(err, "get", ref.Kind.Resource(), c.Namespace)
	}
	return workload.Of(o), nil
}

// ListWorkloads returns the workloads of kind k matching a label selector ("" for all).
func (c *Client) ListWorkloads(ctx context.Context, k workload.Kind, selector string) ([]workload.Workload, error) {
	l, err := c.kind(k).list(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, Explain(err, "list", k.Resource(), c.Namespace)
	}
	items, err := apimeta.ExtractList(l)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", k.Resource(), err)
	}
	out := make([]workload.Workload, 0, len(items))
	for _, o := range items {
		if w := workload.Of(o); w != nil {
			out = append(out, w)
		}
	}
	return out, nil
}

// PatchWorkload applies a JSON patch under kubectl-fastdev's field manager.
func (c *Client) PatchWorkload(ctx context.Context, ref workload.Ref, patch []byte) error {
	return Explain(c.kind(ref.Kind).patch(ctx, ref.Name, patch), "patch", ref.Kind.Resource(), c.Namespace)
}

// GetWorkloadRaw returns a workload's JSON as the API server sent it: fields newer than this
// client's k8s.io/api types included, which a typed Get drops on decoding. `up` and `down` plan on
// these bytes so that they keep such fields and restore them exactly.
func (c *Client) GetWorkloadRaw(ctx context.Context, ref workload.Ref) ([]byte, error) {
	if c.config == nil {
		// a clientset given to NewForClientset (the tests' fakes) holds typed objects only and has no
		// REST client to ask for bytes: their JSON is all there is to send
		w, err := c.GetWorkload(ctx, ref)
		if err != nil {
			return nil, err
		}
		return json.Marshal(w.Object())
	}
	// JSON, not the protobuf a clientset may negotiate: the plan reads and patches JSON
	raw, err := c.cs.AppsV1().RESTClient().Get().Namespace(c.Namespace).Resource(ref.Kind.Resource()).Name(ref.Name).
		SetHeader("Accept", "application/json").DoRaw(ctx)
	if err != nil {
		return nil, Explain(err, "get", ref.Kind.Resource(), c.Namespace)
	}
	return raw, nil
}

// RawPlanFunc plans the JSON patch for a workload from its JSON as the API server sent it; a nil
// patch means there is nothing to do. Its errors are returned as they are.
type RawPlanFunc func(raw []byte) ([]byte, error)

// PatchWorkloadRaw reads the workload with GetWorkloadRaw and applies the patch plan returns for it.
// When the patch fails because the workload changed after it was read (see isStale), it reads and
// plans again, up to staleRetries times. An error of the API is wrapped as "<verb> KIND/NAME: ...",
// e.g. verb "patching" or "restoring".
func (c *Client) PatchWorkloadRaw(ctx context.Context, ref workload.Ref, verb string, plan RawPlanFunc) error {
	for attempt := 0; ; attempt++ {
		raw, err := c.GetWorkloadRaw(ctx, ref)
		if err != nil {
			return fmt.Errorf("%s %s: %w", verb, describe(ref), err)
		}
		patch, err := plan(raw)
		if err != nil || patch == nil {
			return err
		}
		err = c.PatchWorkload(ctx, ref, patch)
		if err == nil {
			return nil
		}
		if attempt < staleRetries && isStale(err) {
			continue
		}
		return fmt.Errorf("%s %s: %w", verb, describe(ref), err)
	}
}

// WorkloadPlanFunc plans the JSON patch for a workload as last read; a nil patch means there is
// nothing to do. Its errors are returned as they are.
type WorkloadPlanFunc func(w workload.Workload) ([]byte, error)

// PatchWorkloadPlanned applies the patch plan returns for w. When the patch fails because the
// workload changed after it was read, it reads it again and plans again (up to staleRetries times).
func (c *Client) PatchWorkloadPlanned(ctx context.Context, w workload.Workload, verb string, plan WorkloadPlanFunc) error {
	for attempt := 0; ; attempt++ {
		patch, err := plan(w)
		if err != nil || patch == nil {
			return err
		}
		err = c.PatchWorkload(ctx, w.Ref(), patch)
		if err == nil {
			return nil
		}
		if attempt < staleRetries && isStale(err) {
			fresh, gerr := c.GetWorkload(ctx, w.Ref())
			if gerr == nil {
				w = fresh
				continue
			}
			err = gerr
		}
		return fmt.Errorf("%s %s: %w", verb, describe(w.Ref()), err)
	}
}

// describe names a ref in an error: "deployment \"web\"", "statefulset \"db\"".
func describe(ref workload.Ref) string {
	return fmt.Sprintf("%s %q", ref.Kind.Lower(), ref.Name)
}
