package devloop

import (
	"reflect"
	"testing"

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
