package devloop

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// flakySynclet answers its first fail updates with a write error (before any step ran) and applies
// nothing of them; later updates succeed and are applied to its manifest.
type flakySynclet struct {
	fakeSynclet
	fail int
}

func (f *flakySynclet) Update(_ context.Context, meta protocol.UpdateMeta, puts []archive.Put, _ func(protocol.Event)) (*protocol.Event, []archive.Put, error) {
	f.updates = append(f.updates, sentUpdate{meta: meta, puts: puts})
	if len(f.updates) <= f.fail {
		return &protocol.Event{Type: protocol.EventResult, Error: "applying update: writing 0/main.go: open main.go: permission denied"}, puts, nil
	}
	for _, p := range puts {
		f.manifest.Roots[0].Entries = append(f.manifest.Roots[0].Entries, p.Entry)
	}
	return &protocol.Event{Type: protocol.EventResult}, puts, nil
}

// woken waits up to limit for the worker's wake-up and returns how long it took (-1: none came).
func woken(w *podWorker, limit time.Duration) time.Duration {
	start := time.Now()
	select {
	case <-w.wake:
		return time.Since(start)
	case <-time.After(limit):
		return -1
	}
}

// TestWorkerRetriesAFailedWrite: an update the pod answers with a write error is sent again after the
// backoff (0.5 s, then 1 s), with the steps it never ran, until it succeeds; the message says when.
func TestWorkerRetriesAFailedWrite(t *testing.T) {
	ctx := context.Background()
	w, rep, _ := testWorker(t, map[string]string{"main.go": "package main", "index.html": "v1"}, buildRules)
	t.Cleanup(w.retry.stop)
	fake := &flakySynclet{fail: 2, fakeSynclet: fakeSynclet{manifest: protocol.Manifest{Roots: []protocol.RootManifest{{Root: 0, To: "/www"}}}}}
	view := fetchView(t, w, &fake.fakeSynclet)
	if err := w.send(ctx, fake, view, batch{paths: [][]string{{"."}}}); err != nil {
		t.Fatal(err)
	}
	if n := len(rep.updates); n != 1 || !strings.Contains(rep.updates[0].Err, "permission denied; retrying in 500ms (2 file(s) and 0 deletion(s) not applied yet, 1 step(s) not run)") {
		t.Fatalf("reported %+v", rep.updates)
	}
	for i, want := range []time.Duration{500 * time.Millisecond, time.Second} {
		got := woken(w, 3*time.Second)
		if got < want-100*time.Millisecond {
			t.Fatalf("retry %d woke the worker after %v, want about %v", i+1, got, want)
		}
		if err := w.send(ctx, fake, view, w.take()); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(rep.updates[1].Err, "retrying in 1s") || rep.updates[2].Err != "" {
		t.Errorf("second and third reports: %q, %q", rep.updates[1].Err, rep.updates[2].Err)
	}
	last := fake.updates[2]
	if len(last.puts) != 2 || !reflect.DeepEqual(last.meta.Steps, []protocol.Step{{Argv: []string{"go", "build"}, Display: "go build"}}) {
		t.Errorf("the retry that succeeded sent %d entries and steps %+v", len(last.puts), last.meta.Steps)
	}
	if d := w.retry.next(); d != retryFirst {
		t.Errorf("after a success the next retry waits %v, want %v", d, retryFirst)
	}
}

// TestWorkerRunsOwedSteps: an update whose files landed but whose steps never ran (the app container's
// queue failed) is retried with its steps alone.
func TestWorkerRunsOwedSteps(t *testing.T) {
	ctx := context.Background()
	w, rep, _ := testWorker(t, map[string]string{"main.go": "package main"}, buildRules)
	t.Cleanup(w.retry.stop)
	fake := &flakySynclet{fail: 1, fakeSynclet: fakeSynclet{manifest: protocol.Manifest{Roots: []protocol.RootManifest{{Root: 0, To: "/www"}}}}}
	view := fetchView(t, w, &fake.fakeSynclet)
	w.dep.local.roots[0].mu.RLock()
	for _, p := range w.dep.local.roots[0].manifest.Paths() {
		fake.manifest.Roots[0].Entries = append(fake.manifest.Roots[0].Entries, w.dep.local.roots[0].manifest[p])
	}
	w.dep.local.roots[0].mu.RUnlock()
	if err := w.send(ctx, fake, view, batch{paths: [][]string{{"main.go"}}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.updates[0].Err, "retrying in 500ms (0 file(s) and 0 deletion(s) not applied yet, 1 step(s) not run)") {
		t.Fatalf("reported %q", rep.updates[0].Err)
	}
	if woken(w, 3*time.Second) < 0 {
		t.Fatal("no retry")
	}
	if err := w.send(ctx, fake, view, w.take()); err != nil {
		t.Fatal(err)
	}
	if len(fake.updates) != 2 || len(fake.updates[1].puts) != 0 || len(fake.updates[1].meta.Steps) != 1 || fake.updates[1].meta.Restart != protocol.RestartProcess {
		t.Errorf("the retry sent %+v", fake.updates[1:])
	}
}

// TestWorkerDoesNotRetryAFailedStep: a step that failed left every file in place: nothing is retried.
func TestWorkerDoesNotRetryAFailedStep(t *testing.T) {
	w, rep, _ := testWorker(t, map[string]string{"main.go": "package main"}, buildRules)
	t.Cleanup(w.retry.stop)
	fake := &fakeSynclet{result: protocol.Event{Type: protocol.EventResult, Error: "go build exited with 1"},
		events:   []protocol.Event{{Type: protocol.EventStep, Step: "go build", ExitCode: 1}},
		manifest: protocol.Manifest{Roots: []protocol.RootManifest{{Root: 0, To: "/www"}}}}
	view := fetchView(t, w, fake)
	fake.manifest.Roots[0].Entries = []tree.Entry{w.dep.local.roots[0].manifest["main.go"]}
	if err := w.send(context.Background(), fake, view, batch{paths: [][]string{{"."}}}); err != nil {
		t.Fatal(err)
	}
	if rep.updates[0].Err != "go build exited with 1" {
		t.Errorf("reported %q", rep.updates[0].Err)
	}
	if woken(w, time.Second) >= 0 {
		t.Error("a failed step was retried")
	}
}

func TestRetryBackoff(t *testing.T) {
	var r retrier
	var got []time.Duration
	for range 7 {
		got = append(got, r.next())
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("delays %v, want %v", got, want)
	}
	r.succeeded()
	if d := r.next(); d != retryFirst {
		t.Errorf("after a success: %v", d)
	}
}

// errorReporter keeps the errors pod states report.
type errorReporter struct {
	recorder
	mu   sync.Mutex
	errs []error
}

func (r *errorReporter) PodState(_, _ string, _ bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs = append(r.errs, err)
	}
}

// forwardTo is a PodAPI whose port-forwards reach addr, or fail with err.
type forwardTo struct {
	fakePods
	err error
}

func (f *forwardTo) PortForward(context.Context, string, int) (*kube.Forward, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &kube.Forward{Addr: f.addr, Done: make(chan error), Close: func() {}}, nil
}

// TestWorkerStopsOnPermanentErrors: a refused key, a protocol version mismatch or a forbidden
// port-forward is reported once with what to fix, and the pod is not tried again.
func TestWorkerStopsOnPermanentErrors(t *testing.T) {
	refuse := func(code int, msg string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, msg, code) }))
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	tests := []struct {
		name string
		api  *forwardTo
		want string
	}{
		{"token", &forwardTo{fakePods: fakePods{addr: refuse(http.StatusUnauthorized, "key ed25519 AAAA is not authorized in this pod")}}, "does not accept this machine's key"},
		{"protocol", &forwardTo{fakePods: fakePods{addr: refuse(http.StatusConflict, "protocol version")}}, "run `kubectl fastdev up` again with this kubectl-fastdev"},
		{"forbidden", &forwardTo{err: apierrors.NewForbidden(schema.GroupResource{Resource: "pods/portforward"}, "web-1", errors.New("no"))}, "grant the permission"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _, _ := testWorker(t, map[string]string{"a": "a"}, buildRules)
			rep := &errorReporter{}
			w.dep.report, w.dep.api = rep, tt.api
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			w.run(ctx)
			if ctx.Err() != nil {
				t.Fatal("the worker kept retrying until its context ended")
			}
			if len(rep.errs) != 1 || !strings.Contains(rep.errs[0].Error(), "; not retrying this pod: ") || strings.Contains(rep.errs[0].Error(), "\n") || !strings.Contains(rep.errs[0].Error(), tt.want) {
				t.Fatalf("reported %v", rep.errs)
			}
			var out, errOut strings.Builder
			(&LineReporter{Out: &out, ErrOut: &errOut}).PodState("web", "web-1", false, rep.errs[0])
			if line := errOut.String(); !strings.HasPrefix(line, "web/web-1: disconnected: ") || strings.Contains(line, "(retrying)") {
				t.Errorf("up prints %q", line)
			}
		})
	}
	for _, err := range []error{errors.New("connection refused"), &syncletclient.StatusError{Code: http.StatusServiceUnavailable}} {
		if p := permanent(err); p != nil {
			t.Errorf("%v is taken as permanent: %v", err, p)
		}
	}
}

// convergeRecorder is a recorder that is also a ConvergeReporter.
type convergeRecorder struct {
	recorder
	converged int
}

func (r *convergeRecorder) Converged(dep, pod string) { r.converged++ }

// TestWorkerReportsConvergence: a comparison of the whole tree that leaves the pod equal to the local
// tree is reported as converged (with or without an update); an edit batch or a failed update is not.
func TestWorkerReportsConvergence(t *testing.T) {
	ctx := context.Background()
	w, _, _ := testWorker(t, map[string]string{"main.go": "package main"}, buildRules)
	t.Cleanup(w.retry.stop)
	rep := &convergeRecorder{}
	w.dep.report = rep
	fake := &flakySynclet{fail: 1, fakeSynclet: fakeSynclet{manifest: protocol.Manifest{Roots: []protocol.RootManifest{{Root: 0, To: "/www"}}}}}
	view := fetchView(t, w, &fake.fakeSynclet)
	all := batch{paths: [][]string{{"."}}}
	steps := []struct {
		name string
		b    batch
		want int
	}{
		{"a failed convergence", all, 0},
		{"an edit batch", batch{paths: [][]string{{"main.go"}}, first: time.Now()}, 0},
		{"a convergence that sends", all, 1},
		{"a convergence with nothing to send", all, 2},
	}
	for _, s := range steps {
		if s.name == "a convergence that sends" {
			w.take() // the failed update's held paths
			fake.manifest.Roots[0].Entries = nil
			*view = *fetchView(t, w, &fake.fakeSynclet)
		}
		if err := w.send(ctx, fake, view, s.b); err != nil {
			t.Fatal(err)
		}
		if rep.converged != s.want {
			t.Errorf("after %s: %d convergences reported, want %d", s.name, rep.converged, s.want)
		}
	}
}
