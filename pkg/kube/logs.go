package kube

import (
	"context"
	"io"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// StreamLogs opens the log of one container of a pod, as `kubectl logs` does with the same options.
func (c *Client) StreamLogs(ctx context.Context, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	rc, err := c.cs.CoreV1().Pods(c.Namespace).GetLogs(pod, opts).Stream(ctx)
	return rc, Explain(err, "get", "pods/log", c.Namespace)
}

// ListEvents returns the namespace's events matching a field selector, and the list's resource version
// to watch from.
func (c *Client) ListEvents(ctx context.Context, fieldSelector string) ([]corev1.Event, string, error) {
	l, err := c.cs.CoreV1().Events(c.Namespace).List(ctx, metav1.ListOptions{FieldSelector: fieldSelector})
	if err != nil {
		return nil, "", Explain(err, "list", "events", c.Namespace)
	}
	return l.Items, l.ResourceVersion, nil
}

// WatchEvents watches the namespace's events matching a field selector from a resource version.
func (c *Client) WatchEvents(ctx context.Context, fieldSelector, resourceVersion string) (watch.Interface, error) {
	w, err := c.cs.CoreV1().Events(c.Namespace).Watch(ctx, metav1.ListOptions{FieldSelector: fieldSelector, ResourceVersion: resourceVersion})
	return w, Explain(err, "watch", "events", c.Namespace)
}
