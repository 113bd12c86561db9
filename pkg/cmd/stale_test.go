package cmd

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/state"
)

// TestStatusStale: an injected running pod the record does not mark converged (created while `up` was
// stopped) is stale, in the table's notes and in -o json; a converged one and a pod that is not injected
// are not.
func TestStatusStale(t *testing.T) {
	pods := map[string]bool{"web-a": true, "web-b": true, "web-c": false} // injected?
	objs := []runtime.Object{deployment("web", map[string]string{"fastdev.dev/rules": webRules})}
	for name, injected := range pods {
		p := runningPod(name, "web")
		if injected {
			p.Annotations = map[string]string{inject.AnnotationInjected: "img"}
		}
		objs = append(objs, p)
	}
	store := state.Store{Dir: t.TempDir()}
	err := store.Write(&state.Record{Server: "https://api", Namespace: "dev", Name: "web", PID: os.Getpid(),
		Pods: map[string]*state.PodRecord{"web-a": {Converged: time.Now()}, "web-b": {Connected: true}}})
	if err != nil {
		t.Fatal(err)
	}
	run := func(output string) string {
		var out strings.Builder
		o := NewStatusOptions(nil, genericiooptions.IOStreams{Out: &out, ErrOut: &out})
		o.client, o.store, o.server, o.Output = kube.NewForClientset(fake.NewSimpleClientset(objs...), "dev"), store, "https://api", output
		if err := o.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	table := run("")
	if !strings.Contains(table, "web: pod web-b is stale: no `kubectl fastdev up` converged it since it started, so it runs the image's code; run `kubectl fastdev up web` to sync it") {
		t.Errorf("no note for web-b:\n%s", table)
	}
	if strings.Count(table, "is stale") != 1 {
		t.Errorf("want one stale pod:\n%s", table)
	}
	var got []DeploymentStatus
	if err := json.Unmarshal([]byte(run("json")), &got); err != nil {
		t.Fatal(err)
	}
	stale := map[string]bool{}
	for _, p := range got[0].Pods {
		stale[p.Name] = p.Stale
	}
	if want := map[string]bool{"web-a": false, "web-b": true, "web-c": false}; !maps.Equal(stale, want) {
		t.Errorf("stale %v, want %v", stale, want)
	}
}
