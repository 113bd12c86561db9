// Package kube is the only package that talks to the Kubernetes API: Deployments and their pods,
// patches under kubectl-fastdev's field manager, and port-forwards to the synclet. Everything else sees
// the small interfaces its consumers define.
package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// FieldManager names kubectl-fastdev in managedFields, so GitOps tools and `kubectl get -o yaml
// --show-managed-fields` show who changed a Deployment.
const FieldManager = "kubectl-fastdev"

// Client is a namespaced view of the cluster.
type Client struct {
	cs        kubernetes.Interface
	config    *rest.Config
	Namespace string
}

// New returns a client for namespace ns.
func New(config *rest.Config, ns string) (*Client, error) {
	cs, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("creating the API client: %w", err)
	}
	return &Client{cs: cs, config: config, Namespace: ns}, nil
}

// NewForClientset wraps an existing clientset (tests use a fake one); port-forwarding needs New.
func NewForClientset(cs kubernetes.Interface, ns string) *Client {
	return &Client{cs: cs, Namespace: ns}
}

// Clientset exposes the clientset for the few callers that stream (logs, events).
func (c *Client) Clientset() kubernetes.Interface { return c.cs }

// GetDeployment returns one Deployment.
func (c *Client) GetDeployment(ctx context.Context, name string) (*appsv1.Deployment, error) {
	d, err := c.cs.AppsV1().Deployments(c.Namespace).Get(ctx, name, metav1.GetOptions{})
	return d, Explain(err, "get", "deployments", c.Namespace)
}

// ListDeployments returns the Deployments matching a label selector ("" for all).
func (c *Client) ListDeployments(ctx context.Context, selector string) ([]appsv1.Deployment, error) {
	l, err := c.cs.AppsV1().Deployments(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, Explain(err, "list", "deployments", c.Namespace)
	}
	return l.Items, nil
}

// PatchDeployment applies a JSON patch under kubectl-fastdev's field manager.
func (c *Client) PatchDeployment(ctx context.Context, name string, patch []byte) (*appsv1.Deployment, error) {
	d, err := c.cs.AppsV1().Deployments(c.Namespace).Patch(ctx, name, types.JSONPatchType, patch,
		metav1.PatchOptions{FieldManager: FieldManager})
	return d, Explain(err, "patch", "deployments", c.Namespace)
}

// ListPods returns the pods matching a selector.
func (c *Client) ListPods(ctx context.Context, selector string) ([]corev1.Pod, string, error) {
	l, err := c.cs.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, "", Explain(err, "list", "pods", c.Namespace)
	}
	return l.Items, l.ResourceVersion, nil
}

// WatchPods watches the pods matching a selector from a resource version.
func (c *Client) WatchPods(ctx context.Context, selector, resourceVersion string) (watch.Interface, error) {
	w, err := c.cs.CoreV1().Pods(c.Namespace).Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: resourceVersion})
	return w, Explain(err, "watch", "pods", c.Namespace)
}

// ServerMinor returns the API server's minor version (for feature checks such as native sidecars).
func (c *Client) ServerMinor() (int, error) {
	v, err := c.cs.Discovery().ServerVersion()
	if err != nil {
		return 0, fmt.Errorf("asking the API server for its version: %w", err)
	}
	minor, err := strconv.Atoi(strings.TrimRight(v.Minor, "+"))
	if err != nil {
		return 0, fmt.Errorf("reading the API server's minor version %q: %w", v.Minor, err)
	}
	return minor, nil
}

// ServerVersion returns the API server's git version.
func (c *Client) ServerVersion() (string, error) {
	v, err := c.cs.Discovery().ServerVersion()
	if err != nil {
		return "", err
	}
	return v.GitVersion, nil
}

// Forward is one port-forward to a pod, listening on a loopback port the kernel picked.
type Forward struct {
	Addr  string       // 127.0.0.1:PORT
	Done  <-chan error // closed (after an error, if any) when the forward ends
	Close func()       // ends the forward; safe to call more than once
}

const forwardTimeout = 20 * time.Second

// PortForward forwards a local port (chosen by the kernel: port 0, never pre-picked) to port on pod,
// trying the websocket dialer first and falling back to SPDY, as kubectl does.
func (c *Client) PortForward(ctx context.Context, pod string, port int) (*Forward, error) {
	dialer, err := c.portForwardDialer(pod)
	if err != nil {
		return nil, err
	}
	stop, ready := make(chan struct{}), make(chan struct{})
	errOut := &lastLine{}
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, stop, ready, io.Discard, errOut)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() {
		err := pf.ForwardPorts()
		if err == nil && errOut.String() != "" {
			err = errors.New(errOut.String())
		}
		done <- Explain(err, "create", "pods/portforward", c.Namespace)
		close(done)
	}()
	// an upgrade that never completes (a half-dead connection) must not hang the caller
	timeout := time.NewTimer(forwardTimeout)
	defer timeout.Stop()
	select {
	case <-ready:
	case err := <-done:
		return nil, c.forwardFailed(pod, dialer, err)
	case <-timeout.C:
		close(stop)
		return nil, fmt.Errorf("port-forward to pod %s: not established within %s", pod, forwardTimeout)
	case <-ctx.Done():
		close(stop)
		return nil, ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		close(stop)
		return nil, fmt.Errorf("port-forward to pod %s: no local port", pod)
	}
	var once sync.Once
	return &Forward{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local))), Done: done,
		Close: func() { once.Do(func() { close(stop) }) }}, nil
}

// portForwardDialer returns the dialer of a pod's port-forward subresource (websocket first,
// SPDY as the fallback), keeping the error of its last dial; PortForward and PodDialer share it.
func (c *Client) portForwardDialer(pod string) (*typedDialer, error) {
	if c.config == nil {
		return nil, errors.New("port-forward needs a REST config")
	}
	u := c.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(c.Namespace).Name(pod).SubResource("portforward").URL()
	fallback, err := dialerFor(c.config, u)
	if err != nil {
		return nil, err
	}
	return &typedDialer{Dialer: fallback}, nil
}

// forwardFailed words a port-forward that could not be established: a refused upgrade names the
// permission to ask for.
func (c *Client) forwardFailed(pod string, dialer *typedDialer, err error) error {
	if err != nil && forbidden(dialer.lastErr()) {
		return forbiddenError{fmt.Errorf("port-forward to pod %s: not allowed to create pods/portforward in namespace %q: ask for a Role granting verb \"create\" on \"pods/portforward\" (manifests/rbac.yaml lists everything kubectl-fastdev needs): %w", pod, c.Namespace, err)}
	}
	return fmt.Errorf("port-forward to pod %s: %w", pod, err)
}

func dialerFor(config *rest.Config, u *url.URL) (httpstream.Dialer, error) {
	transport, upgrader, err := spdy.RoundTripperFor(config)
	if err != nil {
		return nil, err
	}
	spdyDialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	ws, err := portforward.NewSPDYOverWebsocketDialer(u, config)
	if err != nil {
		return nil, err
	}
	return portforward.NewFallbackDialer(ws, spdyDialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	}), nil
}

// typedDialer keeps the error of its last Dial: ForwardPorts reports a refused upgrade as text
// ("error upgrading connection: %s"), and the typed error is only seen here.
type typedDialer struct {
	httpstream.Dialer
	mu  sync.Mutex
	err error
}

func (d *typedDialer) Dial(protocols ...string) (httpstream.Connection, string, error) {
	conn, protocol, err := d.Dialer.Dial(protocols...)
	d.mu.Lock()
	d.err = err
	d.mu.Unlock()
	return conn, protocol, err
}

func (d *typedDialer) lastErr() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// forbidden reports an upgrade the API server refused with 403: as a Status error (the SPDY dialer),
// or as the cause of an upgrade failure (the websocket dialer, whose error does not unwrap).
func forbidden(err error) bool {
	if apierrors.IsForbidden(err) {
		return true
	}
	var up *httpstream.UpgradeFailureError
	return errors.As(err, &up) && apierrors.IsForbidden(up.Cause)
}

// forbiddenError is a request the API server refused with 403 whose own error does not say so (a
// port-forward's upgrade): only a change of the Role makes a retry succeed.
type forbiddenError struct{ error }

func (e forbiddenError) Unwrap() error { return e.error }

// IsForbidden reports an error of a request the API server refused with 403 (RBAC), which retrying
// cannot fix.
func IsForbidden(err error) bool {
	var f forbiddenError
	return errors.As(err, &f) || apierrors.IsForbidden(err)
}

// lastLine keeps the last line written to it (port-forward's error output).
type lastLine struct{ s string }

func (l *lastLine) Write(p []byte) (int, error) {
	if s := strings.TrimSpace(string(p)); s != "" {
		l.s = s
	}
	return len(p), nil
}
func (l *lastLine) String() string { return l.s }

// Explain turns an API error into one a user can act on: a forbidden request names the verb and
// resource to grant (and points at manifests/rbac.yaml).
func Explain(err error, verb, resource, ns string) error {
	if err == nil {
		return nil
	}
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("not allowed to %s %s in namespace %q: ask for a Role granting verb %q on %q (manifests/rbac.yaml lists everything kubectl-fastdev needs): %w",
			verb, resource, ns, verb, resource, err)
	}
	return err
}
