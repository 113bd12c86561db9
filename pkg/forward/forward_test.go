package forward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakePods is a PodSource whose pods the test sets; every subscriber sees each change.
type fakePods struct {
	mu   sync.Mutex
	subs []func(*corev1.Pod, bool)
	pods map[string]*corev1.Pod
	subd chan struct{} // closed at the first subscription
}

var _ PodSource = (*fakePods)(nil)

func newFakePods() *fakePods {
	return &fakePods{pods: map[string]*corev1.Pod{}, subd: make(chan struct{})}
}

func (f *fakePods) SubscribePods(ctx context.Context, _ string, onPod func(*corev1.Pod, bool), _ func(error)) error {
	f.mu.Lock()
	for _, p := range f.pods {
		onPod(p, false)
	}
	f.subs = append(f.subs, onPod)
	if len(f.subs) == 1 {
		close(f.subd)
	}
	f.mu.Unlock()
	<-ctx.Done()
	return nil
}

// set publishes a pod's state: ready, not ready, or gone.
func (f *fakePods) set(name string, ready, gone bool) {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}}}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pods[name] = p
	if gone {
		delete(f.pods, name)
	}
	for _, s := range f.subs {
		s(p, gone)
	}
}

// fakeDialer answers each connection with "<pod>:<port>" and closes it; pods in refuse fail the
// connection as a pod with nothing listening does (an error when read), dialFail fails the dial.
type fakeDialer struct {
	mu       sync.Mutex
	refuse   map[string]bool
	dialFail map[string]bool
	dialed   []string
	forgot   []string
}

var _ Dialer = (*fakeDialer)(nil)

func (d *fakeDialer) DialPod(_ context.Context, pod string, port int) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dialed = append(d.dialed, pod)
	if d.dialFail[pod] {
		return nil, fmt.Errorf("upgrade to pod %s failed", pod)
	}
	local, remote := net.Pipe()
	refused := d.refuse[pod]
	go func() {
		defer remote.Close()
		if !refused {
			fmt.Fprintf(remote, "%s:%d", pod, port)
		}
	}()
	if refused {
		return &refusedConn{Conn: local}, nil
	}
	return local, nil
}

func (d *fakeDialer) Forget(pod string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.forgot = append(d.forgot, pod)
}

func (d *fakeDialer) set(refuse map[string]bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refuse = refuse
}

// refusedConn fails its reads as a pod's refused connection does.
type refusedConn struct{ net.Conn }

func (c *refusedConn) Read([]byte) (int, error) { return 0, errors.New("connection refused") }

// recorder is a Reporter that keeps every message.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

var _ Reporter = (*recorder)(nil)

func (r *recorder) Forwarding(dep, url string, remote int) {
	r.add(fmt.Sprintf("forwarding %s %s %d", dep, url, remote))
}
func (r *recorder) Info(msg string) { r.add("info " + msg) }
func (r *recorder) Warn(msg string) { r.add("warn " + msg) }
func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, s)
}

// eventually waits up to a second for prefix to have been reported n times, and returns the count.
func (r *recorder) eventually(prefix string, n int) int {
	deadline := time.Now().Add(time.Second)
	for r.count(prefix) != n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return r.count(prefix)
}

func (r *recorder) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// harness runs one forward of deployment web, remote port 8080, on a kernel-picked local port.
type harness struct {
	t      *testing.T
	pods   *fakePods
	dial   *fakeDialer
	report *recorder
	addr   string
	stop   func()
}

func start(t *testing.T, waitReady time.Duration) *harness {
	t.Helper()
	h := &harness{t: t, pods: newFakePods(), dial: &fakeDialer{}, report: &recorder{}}
	set, err := Open([]Spec{{Deployment: "web", Local: 18080, Remote: 8080}}, []string{"127.0.0.1"}, anyPort)
	if err != nil {
		t.Fatal(err)
	}
	h.addr = set.Listeners[0].ls[0].Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, h.pods, h.dial, Config{Set: set, Selectors: map[string]string{"web": "app=web"}, WaitReady: waitReady}, h.report)
	}()
	<-h.pods.subd
	h.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			h.stop()
		}
	})
	return h
}

// anyPort listens on a port the kernel picks, whatever port was asked for.
func anyPort(network, _ string) (net.Listener, error) { return net.Listen(network, "127.0.0.1:0") }

// get opens one connection through the forward and returns what came back ("" when it failed).
func (h *harness) get() string {
	h.t.Helper()
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		h.t.Fatalf("the listener is gone: %v", err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		h.t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return ""
	}
	return string(b)
}
