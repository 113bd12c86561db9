package devloop

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// fakeSynclet is an updater that serves a fixed manifest and records every update it is sent.
type fakeSynclet struct {
	manifest  protocol.Manifest
	events    []protocol.Event // streamed before the result
	result    protocol.Event
	manifests int
	updates   []sentUpdate
}

type sentUpdate struct {
	meta protocol.UpdateMeta
	puts []archive.Put
}

var _ updater = (*fakeSynclet)(nil)

func (f *fakeSynclet) Manifest(context.Context) (*protocol.Manifest, error) {
	f.manifests++
	m := f.manifest
	return &m, nil
}

func (f *fakeSynclet) Update(_ context.Context, meta protocol.UpdateMeta, puts []archive.Put, onEvent func(protocol.Event)) (*protocol.Event, []archive.Put, error) {
	f.updates = append(f.updates, sentUpdate{meta: meta, puts: puts})
	for _, e := range f.events {
		onEvent(e)
	}
	res := f.result
	return &res, puts, nil
}

func (f *fakeSynclet) Health(context.Context, time.Duration) error { return nil }

// testWorker scans files (relative path -> content) under a temporary src directory for the rules and
// returns a worker of one pod for it, with what it reports.
func testWorker(t *testing.T, files map[string]string, rulesText string) (*podWorker, *recorder, string) {
	t.Helper()
	base := t.TempDir()
	src := filepath.Join(base, "src")
	for p, content := range files {
		write(t, filepath.Join(src, filepath.FromSlash(p)), content, 0o644)
	}
	r, err := rules.Parse(rulesText)
	if err != nil {
		t.Fatal(err)
	}
	l, err := newLocal(base, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.scan(); err != nil {
		t.Fatal(err)
	}
	rep := &recorder{}
	return newPodWorker(&deployment{name: "web", local: l, report: rep}, "web-1"), rep, src
}

// fetchView is the worker's view of what fake holds.
func fetchView(t *testing.T, w *podWorker, fake *fakeSynclet) *podView {
	t.Helper()
	view, err := w.fetch(context.Background(), fake)
	if err != nil {
		t.Fatal(err)
	}
	return view
}

const buildRules = "sync:\n  - from: ./src\n    to: /www\nrun:\n  - cmd: go build\n    trigger: [\"**/*.go\"]\nrestart: process\n"

// pod holds stale.html and an old index.html, and answers every update with its step's output.
func buildPod() *fakeSynclet {
	return &fakeSynclet{
		manifest: protocol.Manifest{Roots: []protocol.RootManifest{{Root: 0, To: "/www", Entries: []tree.Entry{
			file("index.html", 2), file("stale.html", 3)}}}},
		events: []protocol.Event{{Type: protocol.EventOutput, Step: "go build", Line: "ok"}, {Type: protocol.EventStep, Step: "go build", Millis: 5}},
		result: protocol.Event{Type: protocol.EventResult, Free: []int64{1 << 20}},
	}
}

var buildFiles = map[string]string{"index.html": "v1", "main.go": "package main", "sub/a.txt": "a"}

// TestWorkerSendsThePlan: the update a worker sends for a batch is the plan for that batch, and what
// the pod holds afterwards (the worker's view) is the local tree.
func TestWorkerSendsThePlan(t *testing.T) {
	ctx := context.Background()
	w, rep, src := testWorker(t, buildFiles, buildRules)
	fake := buildPod()
	view := fetchView(t, w, fake)
	converge := batch{paths: [][]string{{"."}}}
	want, err := w.plan(view, converge.paths)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.send(ctx, fake, view, converge); err != nil {
		t.Fatal(err)
	}
	if len(fake.updates) != 1 {
		t.Fatalf("sent %d updates, want 1", len(fake.updates))
	}
	got := fake.updates[0]
	if got.meta.ID == "" {
		t.Error("the update has no ID")
	}
	got.meta.ID = ""
	if !reflect.DeepEqual(got.meta, want.meta) || !reflect.DeepEqual(got.puts, want.puts) {
		t.Errorf("sent %+v %+v\nplanned %+v %+v", got.meta, got.puts, want.meta, want.puts)
	}
	var paths []string
	for _, p := range got.puts {
		paths = append(paths, p.Entry.Path)
		if p.Local != filepath.Join(src, filepath.FromSlash(p.Entry.Path)) {
			t.Errorf("%s is sent from %s", p.Entry.Path, p.Local)
		}
	}
	if want := []string{"index.html", "main.go", "sub", "sub/a.txt"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("put %q, want %q", paths, want)
	}
	if got.meta.Restart != protocol.RestartProcess || len(got.meta.Steps) != 1 || !reflect.DeepEqual(got.meta.Deletes, []string{protocol.EntryName(0, "stale.html")}) {
		t.Errorf("meta %+v: want stale.html deleted, go build and a process restart", got.meta)
	}
	if d := w.dep.local.compare(0, view.roots[0], nil); !d.Empty() {
		t.Errorf("after the update the view differs from the local tree: %+v", d)
	}
	if view.space[0].free != 1<<20 {
		t.Errorf("free space %d: not taken from the result", view.space[0].free)
	}
	if len(rep.updates) != 1 || rep.updates[0].Files != 4 || rep.updates[0].Deletes != 1 || !rep.updates[0].Convergence ||
		len(rep.updates[0].Steps) != 1 || rep.updates[0].Steps[0].Duration != 5*time.Millisecond {
		t.Errorf("reported %+v", rep.updates)
	}
}

// TestWorkerSendsAnEditAlone: after a convergence, an edit sends that file only, with no step it does
// not trigger, timed against the edit; a batch with nothing left to change sends nothing.
func TestWorkerSendsAnEditAlone(t *testing.T) {
	ctx := context.Background()
	w, rep, src := testWorker(t, buildFiles, buildRules)
	fake := buildPod()
	view := fetchView(t, w, fake)
	if err := w.send(ctx, fake, view, batch{paths: [][]string{{"."}}}); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(src, "index.html"), "v2", 0o644)
	if err := w.dep.local.rescan(0, []string{"index.html"}); err != nil {
		t.Fatal(err)
	}
	if err := w.send(ctx, fake, view, batch{paths: [][]string{{"index.html"}}, first: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.updates); n != 2 || len(fake.updates[1].puts) != 1 || fake.updates[1].puts[0].Entry.Path != "index.html" ||
		fake.updates[1].meta.Steps != nil || fake.updates[1].meta.Deletes != nil {
		t.Fatalf("edit sent %+v", fake.updates[1:])
	}
	if u := rep.updates[1]; u.Convergence || u.Latency <= 0 {
		t.Errorf("an edit's update is reported as %+v", u)
	}
	if err := w.send(ctx, fake, view, batch{paths: [][]string{{"."}}}); err != nil || len(fake.updates) != 2 {
		t.Errorf("an empty plan was sent (%d updates, %v)", len(fake.updates), err)
	}
}

// TestWorkerHoldsWhatHasNoRoom: an update the volume cannot take is not sent, is reported, and its
// paths stay queued for the next edit.
func TestWorkerHoldsWhatHasNoRoom(t *testing.T) {
	ctx := context.Background()
	w, rep, _ := testWorker(t, map[string]string{"big.bin": strings.Repeat("x", 100)}, "sync:\n  - {from: ./src, to: /www}\nrestart: none\n")
	free := int64(10)
	fake := &fakeSynclet{manifest: protocol.Manifest{Roots: []protocol.RootManifest{{Root: 0, To: "/www", Free: &free}}}}
	view := fetchView(t, w, fake)
	if err := w.send(ctx, fake, view, batch{paths: [][]string{{"big.bin"}}}); err != nil {
		t.Fatal(err)
	}
	if len(fake.updates) != 0 {
		t.Fatalf("sent %+v", fake.updates)
	}
	if len(rep.updates) != 1 || !strings.Contains(rep.updates[0].Err, "needs 100 B more under /www but its volume has 10 B left") {
		t.Errorf("reported %+v", rep.updates)
	}
	if b := w.take(); !reflect.DeepEqual(b.paths, [][]string{{"big.bin"}}) {
		t.Errorf("held %q, want big.bin", b.paths)
	}
	select {
	case <-w.wake:
		t.Error("holding paths woke the worker: it would retry without a change")
	default:
	}
}

// TestWorkerRereadsAfterFailure: after an update the pod reports as failed, the view is what the pod
// says it holds, not what was sent.
func TestWorkerRereadsAfterFailure(t *testing.T) {
	ctx := context.Background()
	w, rep, _ := testWorker(t, map[string]string{"main.go": "package main"}, buildRules)
	fake := &fakeSynclet{result: protocol.Event{Type: protocol.EventResult, Error: "go build exited with 1"},
		events:   []protocol.Event{{Type: protocol.EventStep, Step: "go build", ExitCode: 1}},
		manifest: protocol.Manifest{Roots: []protocol.RootManifest{{Root: 0, To: "/www"}}}}
	view := fetchView(t, w, fake)
	t.Cleanup(w.retry.stop)
	fake.manifest.Roots[0].Entries = []tree.Entry{file("partly.go", 1)}
	if err := w.send(ctx, fake, view, batch{paths: [][]string{{"."}}}); err != nil {
		t.Fatal(err)
	}
	if fake.manifests != 2 || !reflect.DeepEqual(view.roots[0], manifest(file("partly.go", 1))) {
		t.Errorf("after a failed update: %d manifest requests, view %v", fake.manifests, view.roots[0])
	}
	if len(rep.updates) != 1 || !strings.HasPrefix(rep.updates[0].Err, "go build exited with 1") || rep.updates[0].Files != 1 {
		t.Errorf("reported %+v", rep.updates)
	}
}

// TestScanLeavesOutLinksOutside: a symlink pointing outside the tree is left out where the tree is
// scanned, said once, and what the pod has at its path is kept (as for an ignored path).
func TestScanLeavesOutLinksOutside(t *testing.T) {
	w, _, src := testWorker(t, map[string]string{"index.html": "v1"}, "sync:\n  - {from: ./src, to: /www}\n")
	l := w.dep.local
	for name, target := range map[string]string{"out": "/etc", "in": "index.html"} {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.rescan(0, []string{"out", "in"}); err != nil {
		t.Fatal(err)
	}
	var warned []string
	l.notices.attach(func(msg string) { warned = append(warned, msg) })
	if err := l.rescan(0, []string{"out"}); err != nil { // read again: said once only
		t.Fatal(err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], filepath.Join(src, "out")+`: symlink to "/etc" is not synced`) {
		t.Errorf("warnings %q", warned)
	}
	remote := manifest(file("out", 3))
	d := l.compare(0, remote, nil)
	var puts []string
	for _, e := range d.Put {
		puts = append(puts, e.Path)
	}
	if !reflect.DeepEqual(puts, []string{"in", "index.html"}) || d.Delete != nil {
		t.Errorf("diff puts %q, deletes %q: want the link out neither sent nor its path deleted", puts, d.Delete)
	}

	// made relative and inside, it is synced
	if err := os.Remove(filepath.Join(src, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("in", filepath.Join(src, "out")); err != nil {
		t.Fatal(err)
	}
	if err := l.rescan(0, []string{"out"}); err != nil {
		t.Fatal(err)
	}
	if d := l.compare(0, remote, []string{"out"}); len(d.Put) != 1 || d.Put[0].Target != "in" {
		t.Errorf("the fixed link is not sent: %+v", d)
	}
}

func TestReleaserFreesOnceAfterTheLastBurst(t *testing.T) {
	var freed atomic.Int32
	r := &releaser{after: 300 * time.Millisecond, free: func() { freed.Add(1) }}
	r.burst(burstFiles - 1)
	if r.timer != nil {
		t.Fatalf("an update under %d files schedules a release", burstFiles)
	}
	start := time.Now()
	r.burst(burstFiles)
	time.Sleep(20 * time.Millisecond)
	r.burst(burstFiles) // one burst per pod: released once, after the last
	if time.Since(start) >= r.after {
		t.Skip("the machine is too busy to time two bursts within the delay")
	}
	if n := freed.Load(); n != 0 {
		t.Fatalf("freed %d times before the delay", n)
	}
	for deadline := time.Now().Add(5 * time.Second); freed.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2 * r.after)
	if n := freed.Load(); n != 1 {
		t.Errorf("freed %d times, want once", n)
	}
}
