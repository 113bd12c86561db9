package devloop

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// TestPlanSeveralContainers: an update carries the steps and restart of each app container whose
// roots the batch touches, and nothing for the others: an edit for one restarts only that one.
func TestPlanSeveralContainers(t *testing.T) {
	r, err := rules.Parse(`containers:
  - container: web
    sync: [{from: ./web, to: /www}]
    run: [{cmd: make site}]
    restart: process
  - container: api
    sync: [{from: ./api, to: /app}]
    run: [{cmd: go build, trigger: ["**/*.go"]}, {cmd: touch other, trigger: ["*.txt"]}]
    restart: container
`)
	if err != nil {
		t.Fatal(err)
	}
	goBuild := protocol.Step{Argv: []string{"go", "build"}, Display: "go build"}
	mk := protocol.Step{Argv: []string{"make", "site"}, Display: "make site"}
	tests := []struct {
		name  string
		diffs []tree.Diff
		want  protocol.UpdateMeta
	}{
		{"api only", []tree.Diff{{}, {Put: []tree.Entry{file("main.go", 900)}}},
			protocol.UpdateMeta{Apps: []protocol.AppRun{{Container: "api", Steps: []protocol.Step{goBuild}, Restart: protocol.RestartContainer}}}},
		{"web only", []tree.Diff{{Put: []tree.Entry{file("old.html", 40)}}, {}},
			protocol.UpdateMeta{Steps: []protocol.Step{mk}, Restart: protocol.RestartProcess}},
		{"both", []tree.Diff{{Delete: []string{"old.html"}}, {Put: []tree.Entry{file("main.go", 900)}}},
			protocol.UpdateMeta{Deletes: []string{protocol.EntryName(0, "old.html")}, Steps: []protocol.Step{mk}, Restart: protocol.RestartProcess,
				Apps: []protocol.AppRun{{Container: "api", Steps: []protocol.Step{goBuild}, Restart: protocol.RestartContainer}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := planUpdate(r, planDirs, tt.diffs, planView(-1, -1))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.meta, tt.want) {
				t.Errorf("meta = %+v\nwant %+v", p.meta, tt.want)
			}
		})
	}
}

// workerRules develop two containers; only worker has a step.
const workerRules = `containers:
  - container: web
    sync: [{from: ./src/web, to: /web}]
  - container: worker
    sync: [{from: ./src/api, to: /app}]
    run: [{cmd: go build, trigger: ["**/*.go"]}]
    restart: container
`

// TestWorkerRunsOwedStepsOfAnotherContainer: the steps a failed update owes to an app container other
// than the first (its files landed, its steps never ran) are sent again alone, for that container
// (not the first), with its restart.
func TestWorkerRunsOwedStepsOfAnotherContainer(t *testing.T) {
	ctx := context.Background()
	w, rep, _ := testWorker(t, map[string]string{"web/index.html": "v1", "api/main.go": "package main"}, workerRules)
	t.Cleanup(w.retry.stop)
	fake := &flakySynclet{fail: 1, fakeSynclet: fakeSynclet{manifest: protocol.Manifest{Roots: []protocol.RootManifest{{Root: 0, To: "/web"}, {Root: 1, To: "/app"}}}}}
	view := fetchView(t, w, &fake.fakeSynclet)
	w.dep.local.roots[1].mu.RLock()
	for _, p := range w.dep.local.roots[1].manifest.Paths() {
		fake.manifest.Roots[1].Entries = append(fake.manifest.Roots[1].Entries, w.dep.local.roots[1].manifest[p])
	}
	w.dep.local.roots[1].mu.RUnlock()
	if err := w.send(ctx, fake, view, batch{paths: [][]string{nil, {"main.go"}}}); err != nil {
		t.Fatal(err)
	}
	if len(rep.updates) != 1 || !strings.Contains(rep.updates[0].Err, "1 step(s) not run") {
		t.Fatalf("reported %+v", rep.updates)
	}
	if woken(w, 3*time.Second) < 0 {
		t.Fatal("no retry")
	}
	if err := w.send(ctx, fake, view, w.take()); err != nil {
		t.Fatal(err)
	}
	want := []protocol.AppRun{{Container: "worker", Steps: []protocol.Step{{Argv: []string{"go", "build"}, Display: "go build"}}, Restart: protocol.RestartContainer}}
	if len(fake.updates) != 2 || len(fake.updates[1].puts) != 0 || !reflect.DeepEqual(fake.updates[1].meta.Apps, want) || len(fake.updates[1].meta.Steps) != 0 || fake.updates[1].meta.Restart != "" {
		t.Errorf("the retry sent %+v", fake.updates[1:])
	}
}
