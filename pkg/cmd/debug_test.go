package cmd

import (
	"context"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/dap"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

func TestDebugOptions(t *testing.T) {
	for _, port := range []int{-1, 65536} {
		d := debugOptions{Port: port}
		if err := d.validate(); err == nil || !strings.Contains(err.Error(), "--debug-port") {
			t.Errorf("--debug-port %d: %v, want an error naming the flag", port, err)
		}
	}
	r, err := rules.Parse("sync: [{from: ./src, to: /app/src}]\nrun: [{cmd: go build -o /app/bin/server .}]\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := (&debugOptions{}).debugged(r); got != nil {
		t.Errorf("without --debug or a debug key: %+v, want nil", got)
	}
	if got := (&debugOptions{Debug: true}).debugged(r); got == nil || *got != *rules.DefaultDebug() {
		t.Errorf("--debug: %+v, want the defaults", got)
	}
	r.Debug = &rules.Debug{Port: 40000}
	if got := (&debugOptions{}).debugged(r); got == nil || got.Port != 40000 {
		t.Errorf("the rules' debug key: %+v, want port 40000", got)
	}
	if st := buildSteps(r); len(st) != 1 || st[0].Display != "go build -o /app/bin/server ." || len(st[0].Argv) != 5 {
		t.Errorf("buildSteps = %+v", st)
	}
}

func TestListenFromTakesTheNextFreePort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	ln, got, err := listenFrom("127.0.0.1", port)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if got <= port {
		t.Errorf("listenFrom(%d) = %d, want a port above the taken one", port, got)
	}
}

func pod(name, phase string, injected, deleting bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}}, Status: corev1.PodStatus{Phase: corev1.PodPhase(phase)}}
	if injected {
		p.Annotations[inject.AnnotationInjected] = "img"
	}
	if deleting {
		now := metav1.Now()
		p.DeletionTimestamp = &now
	}
	return p
}

// TestRunningPods: the debugger reaches a running injected pod whether or not it is Ready (a program
// stopped at a breakpoint fails its readiness probe), never an old uninjected or deleted one.
func TestRunningPods(t *testing.T) {
	r := newRunningPods()
	var gone []string
	r.gone = func(p string) { gone = append(gone, p) }
	r.set(pod("a-old", "Running", false, false), false)
	r.set(pod("b", "Pending", true, false), false)
	got := make(chan string, 1)
	go func() {
		name, err := r.pick(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- name
	}()
	select {
	case n := <-got:
		t.Fatalf("picked %q before any injected pod ran", n)
	case <-time.After(50 * time.Millisecond):
	}
	r.set(pod("b", "Running", true, false), false)
	if n := <-got; n != "b" {
		t.Errorf("picked %q, want b", n)
	}
	r.set(pod("b", "Running", true, true), false)
	r.set(pod("c", "Running", true, false), false)
	if n, err := r.pick(context.Background()); err != nil || n != "c" {
		t.Errorf("after b's deletion picked %q (%v), want c", n, err)
	}
	r.set(pod("c", "Running", true, false), true)
	if want := []string{"b", "c"}; !reflect.DeepEqual(gone, want) {
		t.Errorf("pods forgotten: %v, want %v", gone, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if n, err := r.pick(ctx); err == nil {
		t.Errorf("picked %q with no pod running", n)
	}
}

// TestDebugPathsFirstContainerOnly: with the rules' containers: list, Delve's path mappings come from
// the first container's sync entries only; another container syncing to the same in-pod path must
// not shadow them.
func TestDebugPathsFirstContainerOnly(t *testing.T) {
	r, err := rules.Parse("containers:\n" +
		"  - {container: api, sync: [{from: ./api, to: /app/src}], run: [{cmd: go build .}]}\n" +
		"  - {container: worker, sync: [{from: ./worker, to: /app/src}, {from: ./shared, to: /app/shared}]}\n")
	if err != nil {
		t.Fatal(err)
	}
	o := &UpOptions{absDir: "/home/dev/proj"}
	want := []dap.Mapping{{Local: "/home/dev/proj/api", Pod: "/app/src"}}
	if got := o.debugPaths(r); !reflect.DeepEqual(got, want) {
		t.Errorf("debugPaths = %+v, want %+v", got, want)
	}
}
