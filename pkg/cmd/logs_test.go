package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs/follow"
)

// recordingLogs is the cluster of a logs test: pods and events from a fake clientset through
// kube.Client, container logs scripted (the fake clientset's logs are a fixed string).
type recordingLogs struct {
	*kube.Client
	mu    sync.Mutex
	logs  map[string]string // pod/container -> log with timestamps
	calls []string
}

var _ follow.API = (*recordingLogs)(nil)

func (r *recordingLogs) StreamLogs(_ context.Context, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("%s/%s follow=%v since=%v", pod, o.Container, o.Follow, o.SinceTime != nil))
	s, ok := r.logs[pod+"/"+o.Container]
	if !ok {
		return nil, apierrors.NewBadRequest("container " + o.Container + " is waiting to start")
	}
	return io.NopCloser(strings.NewReader(s)), nil
}

const webRules = "container: web\nsync:\n  - from: ./web/src\n    to: /app/src\n"

func deployment(name string, annotations map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "dev", Annotations: annotations},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}}}
}

func runningPod(name, app string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "dev", Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", WorkingDir: "/app/src"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "web", ContainerID: "containerd://" + name,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}
}

func logLines(lines ...string) string {
	t := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	var b strings.Builder
	for i, l := range lines {
		fmt.Fprintf(&b, "%s %s\n", t.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), l)
	}
	return b.String()
}

func newLogsTest(t *testing.T, objs ...runtime.Object) (*LogsOptions, *recordingLogs, *fake.Clientset, *strings.Builder, *strings.Builder) {
	t.Helper()
	cs := fake.NewSimpleClientset(objs...)
	c := kube.NewForClientset(cs, "dev")
	panicLog := func(gid int) string {
		return logLines("GET / 200", "panic: nil map", "", fmt.Sprintf("goroutine %d [running]:", gid), "main.handle()", "\t/app/src/main.go:30 +0x1d")
	}
	rec := &recordingLogs{Client: c, logs: map[string]string{"web-a/web": panicLog(7), "web-b/web": panicLog(12), "other-a/web": logLines("other app")}}
	var stdout, stderr strings.Builder
	o := NewLogsOptions(nil, genericiooptions.IOStreams{Out: &stdout, ErrOut: &stderr})
	o.Follow = false
	o.api = rec
	return o, rec, cs, &stdout, &stderr
}

// TestLogsErrorsJSON: by default the annotated Deployments are read; --errors -o json prints one
// object per error, the panic of both replicas once with count 2 and its local file.
func TestLogsErrorsJSON(t *testing.T) {
	o, rec, _, stdout, _ := newLogsTest(t, deployment("web", map[string]string{"fastdev.dev/rules": webRules}), deployment("other", nil),
		runningPod("web-a", "web"), runningPod("web-b", "web"), runningPod("other-a", "other"))
	o.Errors, o.Output = true, "json"
	o.Dir = t.TempDir()
	local := filepath.Join(o.Dir, "web", "src", "main.go")
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(local, []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.resolve(context.Background(), rec.Client); err != nil {
		t.Fatal(err)
	}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want 1 JSON line, got %d:\n%s", len(lines), stdout)
	}
	var it LogItem
	if err := json.Unmarshal([]byte(lines[0]), &it); err != nil {
		t.Fatal(err)
	}
	if it.Kind != "error" || it.Type != "go-panic" || it.Count != 2 || it.Container != "web" || it.Time == "" ||
		len(it.Locations) != 1 || it.Locations[0].Local != local+":30" || !strings.HasPrefix(it.Text, "panic: nil map") {
		t.Errorf("item: %+v", it)
	}
	for _, c := range rec.calls {
		if strings.HasPrefix(c, "other") || strings.Contains(c, "follow=true") {
			t.Errorf("unexpected log read %s (calls %q)", c, rec.calls)
		}
	}
}

// TestLogsText: a named Deployment without rules is read too; plain lines carry pod and container,
// the panic says ×2, and a forbidden event list is a warning naming the permission, not a failure.
func TestLogsText(t *testing.T) {
	o, rec, cs, stdout, stderr := newLogsTest(t, deployment("web", nil), runningPod("web-a", "web"), runningPod("web-b", "web"))
	cs.PrependReactor("list", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "", fmt.Errorf("no"))
	})
	o.Names = []string{"web"}
	o.Since = time.Hour
	if err := o.resolve(context.Background(), rec.Client); err != nil {
		t.Fatal(err)
	}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	for _, want := range []string{"web-a/web | GET / 200", "web-b/web | GET / 200", "✖ Go panic ×2 in web-a, web-b (web)\n    panic: nil map"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "→") {
		t.Errorf("local paths without rules:\n%s", out)
	}
	if !strings.Contains(stderr.String(), `not allowed to list events in namespace "dev"`) {
		t.Errorf("stderr: %s", stderr)
	}
	if !strings.Contains(strings.Join(rec.calls, " "), "since=true") {
		t.Errorf("--since not passed on: %q", rec.calls)
	}
}

func TestLogsValidate(t *testing.T) {
	for _, c := range []struct {
		mutate func(*LogsOptions)
		want   string
	}{
		{func(o *LogsOptions) { o.Output = "yaml" }, `--output "yaml": want json`},
		{func(o *LogsOptions) { o.Since = -time.Minute }, "--since -1m0s"},
		{func(o *LogsOptions) { o.GroupWindow = -time.Second }, "--group-window"},
	} {
		o := NewLogsOptions(nil, genericiooptions.IOStreams{})
		c.mutate(o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	o, rec, _, _, _ := newLogsTest(t, deployment("plain", nil))
	if err := o.resolve(context.Background(), rec.Client); err == nil || !strings.Contains(err.Error(), "fastdev.dev/rules") {
		t.Errorf("no annotated deployments: %v", err)
	}
}
