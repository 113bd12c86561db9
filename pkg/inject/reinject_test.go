package inject

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// replacedFuture is futureDeployment as a GitOps tool writes it back over an injection (kubectl
// replace): its manifest's annotations, a new image, and a new value of a field this client's types
// do not know.
func replacedFuture(t *testing.T, injected []byte) []byte {
	t.Helper()
	return applyRaw(t, []byte(futureDeployment), []byte(`[
		{"op":"test","path":"/metadata/resourceVersion","value":"42"},
		{"op":"replace","path":"/metadata/resourceVersion","value":`+mustJSON(t, part(t, injected, "metadata/resourceVersion"))+`},
		{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"example/web:2"},
		{"op":"replace","path":"/spec/template/spec/futureField/mode","value":"slow"}]`))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReinjectKeepsUnknownFields: the revert guard's re-injection of a template a newer server sent
// (fields this client's types do not know, one of them changed by the tool that reverted it) keeps
// every such field, records the template as the tool left it, is intact for the next up, and down
// then restores exactly what the tool wrote.
func TestReinjectKeepsUnknownFields(t *testing.T) {
	r := mustRules(t, webRules)
	plan, err := InjectPatchRaw([]byte(futureDeployment), r, opts)
	if err != nil {
		t.Fatal(err)
	}
	injected := applyRaw(t, []byte(futureDeployment), plan.Patch)
	reverted := replacedFuture(t, injected)
	re, err := ReinjectPatchRaw(reverted, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	if re.Patch == nil || !re.Rollout {
		t.Fatalf("re-injection of a reverted template: rollout %v, patch %s", re.Rollout, re.Patch)
	}
	var ops []map[string]any
	if err := json.Unmarshal(re.Patch, &ops); err != nil {
		t.Fatal(err)
	}
	for _, o := range ops {
		if p := o["path"].(string); p == "/spec/template" || p == "/spec/template/spec" || strings.Contains(p, "future") {
			t.Errorf("operation %v replaces the template or touches an unknown field", o)
		}
	}
	again := applyRaw(t, reverted, re.Patch)
	for _, p := range []string{"spec/futureStrategyField", "spec/template/spec/futureField", "spec/template/spec/initContainers/0/futureSetting",
		"spec/template/spec/containers/0/futureSetting", "spec/template/spec/containers/0/volumeMounts/0/futureMountField",
		"spec/template/spec/containers/1/futureSetting", "spec/template/spec/volumes/0/futureVolumeField"} {
		if got, want := part(t, again, p), part(t, reverted, p); want == nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s after the re-injection: %v, want %v", p, got, want)
		}
	}
	var rec any
	if err := decode([]byte(part(t, again, "metadata/annotations").(obj)[AnnotationOriginal].(string)), &rec); err != nil ||
		!reflect.DeepEqual(rec, part(t, reverted, "spec/template")) {
		t.Errorf("recorded original %v, want the template the tool wrote (%v)", rec, err)
	}
	if p, err := InjectPatchRaw(again, r, opts); err != nil {
		t.Error(err)
	} else if p.Patch != nil {
		t.Errorf("up after the re-injection must patch nothing: %s", p.Patch)
	}
	if p, err := ReinjectPatchRaw(again, r, opts); err != nil || p.Patch != nil {
		t.Errorf("a second re-injection must patch nothing: %v", err)
	}
	restore, err := RestorePatchRaw(again, false)
	if err != nil {
		t.Fatal(err)
	}
	back := applyRaw(t, again, restore)
	if !reflect.DeepEqual(part(t, back, "spec"), part(t, reverted, "spec")) {
		t.Errorf("down after the re-injection restores\n%s\nwant what the tool wrote\n%s", mustJSON(t, part(t, back, "spec")), mustJSON(t, part(t, reverted, "spec")))
	}
	if !reflect.DeepEqual(part(t, back, "metadata/annotations"), part(t, reverted, "metadata/annotations")) {
		t.Errorf("annotations after down: %v", part(t, back, "metadata/annotations"))
	}
}

// TestReinjectAroundAnInjection: an edit around a working injection (a label, an unknown field) only
// re-records the original: no rollout, and down restores the edited template.
func TestReinjectAroundAnInjection(t *testing.T) {
	r := mustRules(t, webRules)
	plan, err := InjectPatchRaw([]byte(futureDeployment), r, opts)
	if err != nil {
		t.Fatal(err)
	}
	injected := applyRaw(t, []byte(futureDeployment), plan.Patch)
	edited := applyRaw(t, injected, []byte(`[{"op":"add","path":"/spec/template/metadata/labels/version","value":"2"},
		{"op":"replace","path":"/spec/template/spec/futureField/mode","value":"slow"}]`))
	re, err := ReinjectPatchRaw(edited, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	if re.Patch == nil || re.Rollout {
		t.Fatalf("re-injection around a working injection: rollout %v, patch %s", re.Rollout, re.Patch)
	}
	if strings.Contains(string(re.Patch), `"path":"/spec/`) {
		t.Errorf("the template is patched: %s", re.Patch)
	}
	again := applyRaw(t, edited, re.Patch)
	restore, err := RestorePatchRaw(again, false)
	if err != nil {
		t.Fatal(err)
	}
	back := applyRaw(t, again, restore)
	if got := part(t, back, "spec/template/metadata/labels/version"); got != "2" {
		t.Errorf("down lost the edit around the injection: version label %v", got)
	}
	if got := part(t, back, "spec/template/spec/futureField/mode"); got != "slow" {
		t.Errorf("down lost the edit of an unknown field: %v", got)
	}
	if got := part(t, back, "spec/template/spec/containers/0/command"); !reflect.DeepEqual(got, []any{"/app/server"}) {
		t.Errorf("down did not unwrap the command: %v", got)
	}
}

// TestReinjectRefusesAMix: a wrapped command whose arguments someone changed cannot be unwrapped
// with the recorded original: it is not recorded as an original.
func TestReinjectRefusesAMix(t *testing.T) {
	r := mustRules(t, webRules)
	plan, err := InjectPatchRaw([]byte(futureDeployment), r, opts)
	if err != nil {
		t.Fatal(err)
	}
	injected := applyRaw(t, []byte(futureDeployment), plan.Patch)
	cmd := part(t, injected, "spec/template/spec/containers/0/command").([]any)
	mixed := applyRaw(t, injected, []byte(`[{"op":"replace","path":"/spec/template/spec/containers/0/command/`+
		mustJSON(t, len(cmd)-1)+`","value":"9090"}]`))
	if _, err := ReinjectPatchRaw(mixed, r, opts); !errors.Is(err, ErrMixed) {
		t.Errorf("re-injection of a mixed template: %v, want ErrMixed", err)
	}
}
