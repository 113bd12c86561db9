package follow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// fakeAPI is a recording fake of the cluster: pods and events as given, logs from strings or pipes.
type fakeAPI struct {
	mu     sync.Mutex
	pods   []corev1.Pod
	events []corev1.Event
	logs   map[string]string         // pod/container[/previous] -> log text
	pipes  map[string]*io.PipeReader // pod/container -> a log that is still being written (follow)
	errs   map[string]error          // pod/container -> the error reading its log returns
	// subscribed receives the handlers of each pod subscription, for the test to drive; nil: there
	// is no pod source in this test
	subscribed chan podHandlers
	calls      []string
}

// podHandlers are what a pod subscription is told through.
type podHandlers struct {
	onPod func(*corev1.Pod, bool)
	onErr func(error)
}

var _ API = (*fakeAPI)(nil)

func (f *fakeAPI) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeAPI) ListPods(_ context.Context, selector string) ([]corev1.Pod, string, error) {
	f.record("list pods %s", selector)
	return f.pods, "1", nil
}

func (f *fakeAPI) SubscribePods(ctx context.Context, selector string, onPod func(*corev1.Pod, bool), onErr func(error)) error {
	f.record("subscribe pods %s", selector)
	if f.subscribed == nil {
		return errors.New("no pod source in this test")
	}
	f.subscribed <- podHandlers{onPod: onPod, onErr: onErr}
	<-ctx.Done()
	return nil
}

func (f *fakeAPI) StreamLogs(_ context.Context, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
	key := pod + "/" + o.Container
	if o.Previous {
		key += "/previous"
	}
	f.record("logs %s follow=%v timestamps=%v", key, o.Follow, o.Timestamps)
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.pipes[key]; ok {
		delete(f.pipes, key)
		return p, nil
	}
	if s, ok := f.logs[key]; ok {
		return io.NopCloser(strings.NewReader(s)), nil
	}
	if err, ok := f.errs[key]; ok {
		return nil, err
	}
	return nil, fmt.Errorf("no log for %s", key)
}

func (f *fakeAPI) ListEvents(_ context.Context, sel string) ([]corev1.Event, string, error) {
	f.record("list events %s", sel)
	return f.events, "1", nil
}

func (f *fakeAPI) WatchEvents(ctx context.Context, sel, rv string) (watch.Interface, error) {
	f.record("watch events %s", sel)
	return watch.NewFake(), nil
}

func (f *fakeAPI) called(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func stamp(d time.Duration, lines ...string) string {
	var b strings.Builder
	for i, l := range lines {
		fmt.Fprintf(&b, "%s %s\n", t0.Add(d+time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), l)
	}
	return b.String()
}

func goPanic(gid int, addr string) []string {
	return []string{"panic: boom", "", fmt.Sprintf("goroutine %d [running]:", gid), fmt.Sprintf("main.handle(%s)", addr),
		"\t/app/src/main.go:30 +0x1d", "created by main.main in goroutine 1", "\t/app/src/main.go:20 +0x99"}
}

func pod(name string, statuses ...corev1.ContainerStatus) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "web", WorkingDir: "/app/src"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: statuses}}
}

func running(id string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: "web", ContainerID: id, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

var target = Target{Name: "web", Selector: "app=web", Rules: &rules.Rules{Sync: []rules.Sync{{From: "web/src", To: "/app/src"}}}}

// replicasAPI is the cluster of TestReadAll: four replicas of web, one running, one restarted with a
// crash-looping sidecar, one restarted after an OOM kill, one being deleted; one event about web-2
// and one about another app's pod.
func replicasAPI() *fakeAPI {
	oom := running("containerd://web-3b")
	oom.RestartCount = 1
	oom.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled", ContainerID: "containerd://web-3a",
		FinishedAt: metav1.NewTime(t0.Add(time.Second))}
	restarted := running("containerd://web-2b")
	restarted.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", ContainerID: "containerd://web-2a"}
	crashLoop := corev1.ContainerStatus{Name: "sidecar", ContainerID: "containerd://side-2", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, ContainerID: "containerd://side-2"}}}
	// a pod being deleted stops its containers on purpose: not an error
	deleting := pod("web-4", corev1.ContainerStatus{Name: "web", ContainerID: "containerd://web-4",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 143, Reason: "Error", ContainerID: "containerd://web-4"}}})
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	return &fakeAPI{
		pods: []corev1.Pod{pod("web-1", running("containerd://web-1")), pod("web-2", restarted, crashLoop), pod("web-3", oom), deleting},
		logs: map[string]string{
			"web-1/web":          stamp(0, append([]string{"GET / 200"}, goPanic(7, "0xc000012000")...)...),
			"web-2/web":          stamp(time.Millisecond, goPanic(9, "0xc0000ab000")...),
			"web-3/web":          stamp(2*time.Second, goPanic(4, "0xc000001000")...),
			"web-3/web/previous": stamp(0, "allocating", "still allocating"),
			// the kubelet answers for an instance it no longer has with a line of its own, no timestamp
			"web-2/web/previous": "unable to retrieve container logs for containerd://web-2a\n",
			"web-2/sidecar":      stamp(0, "sidecar: bad flag"),
			"web-4/web":          stamp(0, "shutting down"),
		},
		events: []corev1.Event{
			{ObjectMeta: metav1.ObjectMeta{UID: "e1"}, Type: "Warning", Reason: "Unhealthy", Message: "Readiness probe failed: connection refused",
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-2", FieldPath: "spec.containers{web}"}, LastTimestamp: metav1.NewTime(t0.Add(3 * time.Second))},
			{ObjectMeta: metav1.ObjectMeta{UID: "e2"}, Type: "Warning", Reason: "BackOff", Message: "not ours",
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "other-1"}, LastTimestamp: metav1.NewTime(t0)},
		},
	}
}

// TestReadAll: every replica's identical panic is one item ×3 with the local path, a previous
// instance killed for memory is read and reported, and only the targets' pods' events are shown.
func TestReadAll(t *testing.T) {
	api := replicasAPI()
	var got []logs.Item
	var warnings []string
	var mu sync.Mutex
	cfg := Config{Targets: []Target{target}, Dir: ".", Warn: func(m string) { mu.Lock(); warnings = append(warnings, m); mu.Unlock() }}
	err := Run(context.Background(), api, cfg, func(it logs.Item) { got = append(got, it) })
	if err != nil {
		t.Fatal(err)
	}
	var panics, exits, events, plain int
	for _, it := range got {
		switch it.Kind {
		case logs.KindError:
			panics++
			if it.Count() != 3 || len(it.Locations) != 2 || it.Locations[0].Local != "web/src/main.go:30" {
				t.Errorf("panic: count %d, locations %+v", it.Count(), it.Locations)
			}
		case logs.KindExit:
			exits++
			if it.Pod == "web-3" && (it.ExitCode != 137 || !strings.HasPrefix(it.Text, "OOMKilled, exit code 137, killed by SIGKILL")) {
				t.Errorf("exit: %+v", it)
			}
		case logs.KindEvent:
			events++
			if it.Pod != "web-2" || it.Container != "web" || it.Type != "Unhealthy" {
				t.Errorf("event: %+v", it)
			}
		case logs.KindLog:
			plain++
		}
	}
	if panics != 1 || exits != 3 || events != 1 || plain != 5 {
		t.Errorf("got %d panics, %d exits, %d events, %d plain lines; want 1, 3, 1, 5:\n%+v", panics, exits, events, plain, got)
	}
	if len(warnings) != 1 || warnings[0] != "web-2/web: unable to retrieve container logs for containerd://web-2a" {
		t.Errorf("warnings: %q", warnings)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Time.Before(got[i-1].Time) {
			t.Errorf("items out of time order at %d: %v after %v", i, got[i].Time, got[i-1].Time)
		}
	}
	// a crash-looping container's current instance is the one that crashed: read as current
	if !api.called("logs web-3/web/previous follow=false timestamps=true") || !api.called("logs web-2/sidecar follow=false") ||
		api.called("logs web-2/sidecar/previous") || api.called("watch") || api.called("subscribe") {
		t.Errorf("calls: %q", api.calls)
	}
}

// TestFollow: a pod that appears is read as its log is written, its panic comes out once the stream
// goes quiet and the window passes, and its restart is reported and its new instance read; a failure
// of the pod watch is a warning, and a deleted pod is told as gone.
func TestFollow(t *testing.T) {
	pr, pw := io.Pipe()
	pr2, pw2 := io.Pipe()
	api := &fakeAPI{subscribed: make(chan podHandlers, 1), pipes: map[string]*io.PipeReader{"web-1/web": pr}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	items := make(chan logs.Item, 100)
	phases := make(chan string, 100)
	warnings := make(chan string, 100)
	cfg := Config{Targets: []Target{target}, Follow: true, Window: 100 * time.Millisecond, Quiet: 50 * time.Millisecond,
		OnPod: func(_ string, p *corev1.Pod, gone bool) { phases <- fmt.Sprintf("%s %s %v", p.Name, Phase(p), gone) },
		Warn:  func(msg string) { warnings <- msg }}
	done := make(chan error)
	go func() { done <- Run(ctx, api, cfg, func(it logs.Item) { items <- it }) }()

	pods := <-api.subscribed
	if !api.called("subscribe pods app=web") {
		t.Fatalf("calls: %q", api.calls)
	}
	pods.onErr(errors.New("connection refused"))
	expect(t, warnings, "web: watching pods: connection refused (retrying)")
	p := pod("web-1", running("containerd://a"))
	pods.onPod(&p, false)
	expect(t, phases, "web-1 Running false")
	fmt.Fprint(pw, stamp(0, "listening"))
	if it := next(t, items); it.Kind != logs.KindLog || it.Text != "listening" || !it.Time.Equal(t0) {
		t.Fatalf("first line: %+v", it)
	}
	fmt.Fprint(pw, stamp(time.Second, goPanic(1, "0x1")...))
	if it := next(t, items); it.Kind != logs.KindError || it.Type != logs.TypeGoPanic || strings.Count(it.Text, "\n") != 6 {
		t.Fatalf("panic: %+v", it)
	}
	pw.Close() // the container died

	api.mu.Lock()
	api.pipes["web-1/web"] = pr2
	api.mu.Unlock()
	restarted := running("containerd://b")
	restarted.RestartCount = 1
	restarted.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error", ContainerID: "containerd://a", FinishedAt: metav1.NewTime(t0.Add(2 * time.Second))}
	p2 := pod("web-1", restarted)
	pods.onPod(&p2, false)
	expect(t, phases, "web-1 Running false")
	if it := next(t, items); it.Kind != logs.KindExit || it.ExitCode != 2 || !strings.Contains(it.Text, "a Go panic") {
		t.Fatalf("exit: %+v", it)
	}
	fmt.Fprint(pw2, stamp(3*time.Second, "listening again"))
	if it := next(t, items); it.Text != "listening again" {
		t.Fatalf("restarted container's line: %+v", it)
	}
	pods.onPod(&p2, true)
	expect(t, phases, "web-1 Running true")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	pw2.Close()
}

func next(t *testing.T, items <-chan logs.Item) logs.Item {
	t.Helper()
	select {
	case it := <-items:
		return it
	case <-time.After(5 * time.Second):
		t.Fatal("no item within 5s")
	}
	return logs.Item{}
}

func expect(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no %q within 5s", want)
	}
}

func TestPhase(t *testing.T) {
	now := metav1.Now()
	cases := []struct {
		name string
		pod  corev1.Pod
		want string
	}{
		{"running", pod("a", running("x")), "Running"},
		{"crash loop", pod("a", corev1.ContainerStatus{Name: "web", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}), "CrashLoopBackOff"},
		{"creating", func() corev1.Pod {
			p := pod("a", corev1.ContainerStatus{Name: "web", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}})
			p.Status.Phase = corev1.PodPending
			return p
		}(), "Pending"},
		{"oom", pod("a", corev1.ContainerStatus{Name: "web", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}}), "OOMKilled"},
		{"terminating", func() corev1.Pod { p := pod("a"); p.DeletionTimestamp = &now; return p }(), "Terminating"},
		{"not ready", func() corev1.Pod {
			p := pod("a", running("x"))
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
			return p
		}(), "Running, not ready"},
	}
	for _, c := range cases {
		if got := Phase(&c.pod); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}
