package follow

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// TestErrorsMapThroughTheirContainer: in a pod whose rules list two app containers that both sync
// to /app (from ./api and ./worker) and differ in working directory, a panic in each container's
// output names the local file of that container's sync entry, and a relative path resolves against
// that container's working directory.
func TestErrorsMapThroughTheirContainer(t *testing.T) {
	r, err := rules.Parse("containers:\n" +
		"  - container: api\n    sync: [{from: ./api, to: /app}]\n" +
		"  - container: worker\n    sync: [{from: ./worker, to: /app}]\n")
	if err != nil {
		t.Fatal(err)
	}
	status := func(name string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: name, ContainerID: "containerd://" + name, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	}
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p-1"},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "api", WorkingDir: "/app"}, {Name: "worker", WorkingDir: "/app/cmd"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{status("api"), status("worker")}}}
	api := &fakeAPI{pods: []corev1.Pod{p}, logs: map[string]string{
		"p-1/api":     stamp(0, "panic: api failed", "", "goroutine 1 [running]:", "main.main()", "\t/app/main.go:30 +0x1d"),
		"p-1/worker":  stamp(0, "panic: worker failed", "", "goroutine 1 [running]:", "main.main()", "\t/app/main.go:12 +0x1d"),
		"p-1/synclet": stamp(0, "step failed: go build: exit code 1", "./main.go:7:2: undefined: x"),
	}}
	want := map[string]string{"api": "api/main.go:30", "worker": "worker/main.go:12"}
	cfg := Config{Targets: []Target{{Name: "p", Selector: "app=p", Rules: r}}, Dir: "."}
	var got []logs.Item
	if err := Run(context.Background(), api, cfg, func(it logs.Item) { got = append(got, it) }); err != nil {
		t.Fatal(err)
	}
	for _, it := range got {
		if it.Kind != logs.KindError || !strings.HasPrefix(it.Text, "panic: ") {
			continue
		}
		if len(it.Locations) == 0 || it.Locations[0].Local != want[it.Container] {
			t.Errorf("%s's panic maps to %+v, want %s", it.Container, it.Locations, want[it.Container])
		}
		delete(want, it.Container)
	}
	if len(want) > 0 {
		t.Errorf("no panic item for %v among %+v", want, got)
	}
	ms := (&follower{cfg: cfg}).mappers(&cfg.Targets[0], &p)
	if l, ok := mapperFor(ms, "worker").Local("./run.go"); !ok || l != "worker/cmd/run.go" {
		t.Errorf("worker's ./run.go maps to %q %v, want worker/cmd/run.go (its working directory)", l, ok)
	}
	if l, ok := mapperFor(ms, "synclet").Local("/app/x.go"); !ok || l != "api/x.go" {
		t.Errorf("the synclet's /app/x.go maps to %q %v, want the first container's api/x.go", l, ok)
	}
}
