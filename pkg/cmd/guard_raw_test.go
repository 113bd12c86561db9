package cmd

import (
	"context"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/guard"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// rawAPI serves one workload's JSON as a newer API server sends it and applies the guard's patches.
type rawAPI struct {
	guardAPI
	raw []byte
}

func (a *rawAPI) PatchWorkloadRaw(_ context.Context, _ workload.Ref, _ string, plan kube.RawPlanFunc) error {
	p, err := plan(a.raw)
	if err != nil || p == nil {
		return err
	}
	patch, err := jsonpatch.DecodePatch(p)
	if err != nil {
		return err
	}
	a.raw, err = patch.Apply(a.raw)
	return err
}

// futureWeb is a Deployment with a field this client's types do not know (futureField).
const futureWeb = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","resourceVersion":"7","annotations":{}},
 "spec":{"template":{"metadata":{"labels":{"app":"web"}},"spec":{"futureField":{"mode":"fast"},
  "containers":[{"name":"web","image":"web:1","command":["/app/server"]}]}}}}`

// TestRecordUnknown: an intact injection whose template another manager changed only in a field this
// client does not know gets that change recorded as the original (said once, no rollout); checking
// again finds nothing to do and says nothing.
func TestRecordUnknown(t *testing.T) {
	r, err := rules.Parse(webRules)
	if err != nil {
		t.Fatal(err)
	}
	in := guard.Injection{Rules: r, Options: inject.Options{SyncletImage: "synclet:1", Port: 7777, Keys: "ed25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= dev@laptop"}}
	plan, err := inject.InjectPatchRaw([]byte(futureWeb), r, in.Options)
	if err != nil {
		t.Fatal(err)
	}
	api := &rawAPI{raw: []byte(futureWeb)}
	if err := api.PatchWorkloadRaw(context.Background(), workload.Ref{}, "", func([]byte) ([]byte, error) { return plan.Patch, nil }); err != nil {
		t.Fatal(err)
	}
	ref := workload.Ref{Kind: workload.Deployment, Name: "web"}
	if msg := recordUnknown(context.Background(), api, ref, in, "field manager \"argocd-controller\" (Argo CD)"); msg != "" {
		t.Errorf("nothing changed, yet: %q", msg)
	}
	edit, err := jsonpatch.DecodePatch([]byte(`[{"op":"replace","path":"/spec/template/spec/futureField/mode","value":"slow"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if api.raw, err = edit.Apply(api.raw); err != nil {
		t.Fatal(err)
	}
	msg := recordUnknown(context.Background(), api, ref, in, "field manager \"argocd-controller\" (Argo CD)")
	if !strings.Contains(msg, `web: field manager "argocd-controller" (Argo CD) changed the pod template around the injection (fields this client does not know): recording`) {
		t.Errorf("said %q", msg)
	}
	if !strings.Contains(string(api.raw), `\"futureField\":{\"mode\":\"slow\"}`) {
		t.Errorf("the recorded original lacks the change:\n%s", api.raw)
	}
	if msg := recordUnknown(context.Background(), api, ref, in, "x"); msg != "" {
		t.Errorf("checked again: %q", msg)
	}
}
