package cmd

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/state"
)

// statusTest is `status` over a fake cluster with web (annotated, two pods, one of them recorded by a
// running `up`) and plain (neither annotated nor injected).
func statusTest(t *testing.T, output string) (*StatusOptions, *strings.Builder) {
	t.Helper()
	a, b := runningPod("web-a", "web"), runningPod("web-b", "web")
	a.Spec.NodeName = "node-1"
	objs := []runtime.Object{deployment("web", map[string]string{"fastdev.dev/rules": webRules}), deployment("plain", nil), a, b}
	store := state.Store{Dir: t.TempDir()}
	synced := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	err := store.Write(&state.Record{Server: "https://api", Namespace: "dev", Name: "web", PID: os.Getpid(),
		Pods:     map[string]*state.PodRecord{"web-a": {Connected: true, LastSync: synced, LastLatencyMs: 42, LastFiles: 3, LastError: "exit 1"}},
		Forwards: []state.ForwardRecord{{URL: "http://127.0.0.1:18080", RemotePort: 8080}}})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	o := NewStatusOptions(nil, genericiooptions.IOStreams{Out: &out, ErrOut: &out})
	o.client, o.store, o.server, o.Output = kube.NewForClientset(fake.NewSimpleClientset(objs...), "dev"), store, "https://api", output
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return o, &out
}

func TestStatusTable(t *testing.T) {
	_, out := statusTest(t, "")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := [][]string{
		{"WORKLOAD", "INJECTED", "UP", "POD", "PHASE", "SYNCLET", "CONNECTED", "LAST", "SYNC", "LATENCY", "LAST", "ERROR"},
		{"web", "false", "true", "web-a", "Running", "false", "true", "2026-03-04T10:00:00Z", "42ms", "exit", "1"},
		{"web", "false", "true", "web-b", "Running", "false", "false", "-", "-", "-"},
		{"web:", "forwarding", "http://127.0.0.1:18080", "->", "port", "8080"},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("line %d: %q, want %q", i, got, w)
		}
	}
}

// TestStatusWide: -o wide adds each pod's node and the files of its last sync, before the error.
func TestStatusWide(t *testing.T) {
	_, out := statusTest(t, "wide")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	for i, w := range []string{
		"WORKLOAD INJECTED UP POD PHASE SYNCLET CONNECTED LAST SYNC LATENCY NODE FILES LAST ERROR",
		"web false true web-a Running false true 2026-03-04T10:00:00Z 42ms node-1 3 exit 1",
		"web false true web-b Running false false - - - - -",
		"web: forwarding http://127.0.0.1:18080 -> port 8080",
	} {
		if got := strings.Join(strings.Fields(lines[i]), " "); got != w {
			t.Errorf("line %d: %q, want %q", i, got, w)
		}
	}
}

// TestStatusJSON: -o json keeps its field names, and the wide-only fields stay out of it.
func TestStatusJSON(t *testing.T) {
	_, out := statusTest(t, "json")
	s := out.String()
	for _, want := range []string{`"name": "web"`, `"upRunning": true`, `"syncletRunning": false`, `"connected": true`,
		`"lastSync": "2026-03-04T10:00:00Z"`, `"lastLatencyMs": 42`, `"lastError": "exit 1"`,
		`"url": "http://127.0.0.1:18080"`, `"remotePort": 8080`} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON lacks %s:\n%s", want, s)
		}
	}
	for _, unwanted := range []string{"node-1", "Node", "LastFiles", "plain"} {
		if strings.Contains(s, unwanted) {
			t.Errorf("JSON has %s:\n%s", unwanted, s)
		}
	}
}

func TestStatusValidate(t *testing.T) {
	o := NewStatusOptions(nil, genericiooptions.IOStreams{})
	o.Output = "yaml"
	if err := o.Validate(); err == nil || err.Error() != `--output "yaml": want json or wide` {
		t.Errorf("Validate: %v", err)
	}
}
