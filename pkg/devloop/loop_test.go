package devloop

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	fswatch "github.com/kubectl-fastdev/kubectl-fastdev/pkg/watch"
)

// scriptedPods is a pod source the test drives: it hands the subscription's handlers to the test,
// and records port-forwards, which last until their worker stops and end a little after.
type scriptedPods struct {
	subscribed chan func(*corev1.Pod, bool) // the onPod of each subscription
	errs       chan func(error)             // its onErr

	mu    sync.Mutex
	calls []string
}

var _ PodAPI = (*scriptedPods)(nil)

func newScriptedPods() *scriptedPods {
	return &scriptedPods{subscribed: make(chan func(*corev1.Pod, bool), 1), errs: make(chan func(error), 1)}
}

func (s *scriptedPods) record(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, fmt.Sprintf(format, args...))
}

func (s *scriptedPods) recorded() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.calls, "; ")
}

func (s *scriptedPods) SubscribePods(ctx context.Context, selector string, onPod func(*corev1.Pod, bool), onErr func(error)) error {
	s.record("subscribe %s", selector)
	s.subscribed <- onPod
	s.errs <- onErr
	<-ctx.Done()
	time.Sleep(20 * time.Millisecond) // a source takes a moment to let go of its watch
	s.record("unsubscribed")
	return nil
}

func (s *scriptedPods) PortForward(ctx context.Context, pod string, _ int) (*kube.Forward, error) {
	s.record("forward %s", pod)
	<-ctx.Done()
	time.Sleep(50 * time.Millisecond) // closing a port-forward is not instant either
	s.record("forward %s ended", pod)
	return nil, ctx.Err()
}

// lines is a Reporter that records every call as a line.
type lines struct {
	mu sync.Mutex
	l  []string
}

var _ Reporter = (*lines)(nil)

func (r *lines) add(s string) { r.mu.Lock(); r.l = append(r.l, s); r.mu.Unlock() }
func (r *lines) PodState(dep, pod string, ok bool, err error) {
	r.add(fmt.Sprintf("state %s/%s %v %v", dep, pod, ok, err))
}
func (r *lines) PodGone(dep, pod string)       { r.add("gone " + dep + "/" + pod) }
func (r *lines) StepLine(_, _, _, line string) { r.add("step " + line) }
func (r *lines) Updated(u Update)              { r.add("updated " + u.Pod) }
func (r *lines) Info(msg string)               { r.add("info " + msg) }
func (r *lines) Warn(msg string)               { r.add("warn " + msg) }
func (r *lines) has(prefix string) bool        { return r.count(prefix) > 0 }
func (r *lines) count(prefix string) (n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.l {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func devPod(name string, synclet bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{inject.AnnotationInjected: "img"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	if synclet {
		p.Status.InitContainerStatuses = []corev1.ContainerStatus{
			{Name: inject.SyncletContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	}
	return p
}

// startLoop runs Run on an empty tree against pods; stop cancels it and returns what it returned.
func startLoop(t *testing.T, pods PodAPI, rep Reporter) (stop func() error) {
	t.Helper()
	base := t.TempDir()
	write(t, filepath.Join(base, "src", "index.html"), "v1", 0o644)
	r, err := rules.Parse("sync:\n  - from: ./src\n    to: /www\n")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, pods, Config{Dir: base, Targets: []Target{{Name: "web", Selector: "app=web", Rules: r, Port: 1}},
			Watch: fswatch.Options{Quiet: 10 * time.Millisecond}}, rep)
	}()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(10 * time.Second):
				runErr = errors.New("the loop did not return within 10s of its context ending")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() }) // the test's own stop call reports the error
	return stop
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPodsStartAndStopWorkers: a worker starts when an injected pod's synclet runs (once, however
// often the pod changes) and stops when the pod goes or terminates; other pods get none; a failure
// to follow the pods is a warning, the watched tree is information.
func TestPodsStartAndStopWorkers(t *testing.T) {
	pods, rep := newScriptedPods(), &lines{}
	stop := startLoop(t, pods, rep)
	onPod, onErr := <-pods.subscribed, <-pods.errs

	onPod(devPod("web-1", false), false) // the synclet is not running yet
	plain := devPod("other-1", true)
	plain.Annotations = nil // not injected
	onPod(plain, false)
	onPod(devPod("web-1", true), false)
	onPod(devPod("web-1", true), false)
	onPod(devPod("web-2", true), false)
	eventually(t, "forwards to both pods", func() bool {
		c := pods.recorded()
		return strings.Contains(c, "forward web-1") && strings.Contains(c, "forward web-2")
	})
	onPod(devPod("web-1", true), true)
	eventually(t, "web-1's worker stopped", func() bool { return strings.Contains(pods.recorded(), "forward web-1 ended") })
	terminating := devPod("web-2", true)
	terminating.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	onPod(terminating, false)
	eventually(t, "web-2's worker stopped", func() bool { return strings.Contains(pods.recorded(), "forward web-2 ended") })
	onErr(errors.New("connection refused"))
	eventually(t, "the tree's info line", func() bool { return rep.has("info web: watching ") })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	if c := pods.recorded(); strings.Count(c, "forward web-1;") != 1 || strings.Contains(c, "other-1") {
		t.Errorf("calls: %s", c)
	}
	if rep.count("gone web/web-1") != 1 || rep.count("gone web/web-2") != 1 {
		t.Errorf("gone pods not reported once each: %q", rep.l)
	}
	if !rep.has("warn web: watching pods: connection refused") || rep.count("warn") != 1 {
		t.Errorf("warnings: %q", rep.l)
	}
}

// TestRunWaitsForItsGoroutines: when Run returns, its pod subscription and every pod worker (here,
// one in the middle of a port-forward that takes a moment to close) have ended.
func TestRunWaitsForItsGoroutines(t *testing.T) {
	pods := newScriptedPods()
	stop := startLoop(t, pods, &lines{})
	onPod := <-pods.subscribed
	<-pods.errs
	onPod(devPod("web-1", true), false)
	eventually(t, "a forward to web-1", func() bool { return strings.Contains(pods.recorded(), "forward web-1") })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if c := pods.recorded(); !strings.HasSuffix(c, "forward web-1 ended; unsubscribed") && !strings.HasSuffix(c, "unsubscribed; forward web-1 ended") {
		t.Errorf("Run returned before its goroutines ended: %s", c)
	}
}
