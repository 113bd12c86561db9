package rules

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

const twoContainers = `containers:
  - container: api
    sync:
      - {from: ./api, to: /app}
    run:
      - cmd: go build ./...
    restart: process
  - container: worker
    sync:
      - {from: ./worker, to: /app}
      - {from: ./shared, to: /shared}
    restart: container
    command: ["/worker"]
forward: []
`

// TestParseContainers: the list form fills the first item into the rules' own fields and the others
// into More, with every sync entry in Sync marked by its container's number.
func TestParseContainers(t *testing.T) {
	r, err := Parse(twoContainers)
	if err != nil {
		t.Fatal(err)
	}
	want := &Rules{
		Container: "api",
		Sync: []Sync{{From: "api", To: "/app", Line: 4}, {From: "worker", To: "/app", Line: 10, App: 1},
			{From: "shared", To: "/shared", Line: 11, App: 1}},
		Run:     []Step{{Cmd: "go build ./...", Argv: []string{"go", "build", "./..."}, Line: 6}},
		Restart: protocol.RestartProcess,
		Forward: []Forward{},
		More:    []App{{Container: "worker", Restart: protocol.RestartContainer, Command: []string{"/worker"}, Line: 8}},
		Listed:  true,
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got  %+v\nwant %+v", r, want)
	}
	if got := []string{r.SyncKey(0), r.SyncKey(2)}; !reflect.DeepEqual(got, []string{"containers[0].sync[0]", "containers[1].sync[1]"}) {
		t.Errorf("SyncKey(0), SyncKey(2) = %q", got)
	}
	if got := r.Roots(1); !reflect.DeepEqual(got, []int{1, 2}) {
		t.Errorf("Roots(1) = %v, want [1 2]", got)
	}
	if apps := r.Apps(); len(apps) != 2 || apps[0].Container != "api" || apps[1].Container != "worker" {
		t.Errorf("Apps() = %+v", apps)
	}
	single, err := Parse("sync: [{from: ., to: /app}]\n")
	if err != nil || len(single.Apps()) != 1 || single.Roots(0)[0] != 0 || single.More != nil || single.SyncKey(0) != "sync[0]" {
		t.Errorf("single form: %+v, %v", single, err)
	}
}

// TestParseContainersErrors: mistakes of the list form name their line and key path.
func TestParseContainersErrors(t *testing.T) {
	tests := []struct {
		name, text, key, msg string
		line                 int
	}{
		{"key next to containers", "sync: [{from: ., to: /a}]\ncontainers:\n  - {container: a, sync: [{from: ., to: /a}]}\n",
			"sync", "containers[].sync", 1},
		{"empty list", "containers: []\n", "containers", "is an empty list", 1},
		{"not a list", "containers: {container: a}\n", "containers", "must be a list", 1},
		{"no container", "containers:\n  - sync: [{from: ., to: /a}]\n", "containers[0].container", "is required in the list form", 2},
		{"no sync", "containers:\n  - container: a\n", "containers[0].sync", "is required", 2},
		{"twice", "containers:\n  - {container: a, sync: [{from: ., to: /a}]}\n  - {container: a, sync: [{from: ., to: /b}]}\n",
			"containers[1].container", "already described by containers[0]", 3},
		{"nested key path", "containers:\n  - container: a\n    sync: [{from: ., to: /a}]\n  - container: b\n    sync: [{from: ., to: relative}]\n",
			"containers[1].sync[0].to", "", 5},
		{"restart typo", "containers:\n  - container: a\n    sync: [{from: ., to: /a}]\n    restart: proces\n",
			"containers[0].restart", `did you mean "process"`, 4},
		{"top key in an item", "containers:\n  - container: a\n    sync: [{from: ., to: /a}]\n    forward: []\n",
			"containers[0].forward", "belongs at the top level", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.text)
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if re.Key != tt.key || re.Line != tt.line || !strings.Contains(re.Msg, tt.msg) {
				t.Errorf("got key %q line %d %q, want key %q line %d containing %q", re.Key, re.Line, re.Msg, tt.key, tt.line, tt.msg)
			}
		})
	}
}
