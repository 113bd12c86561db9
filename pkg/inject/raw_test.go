package inject

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// futureDeployment is a Deployment as an API server newer than this client's k8s.io/api types sends
// it: futureField, futureSetting and futureVolumeField are fields those types do not know.
const futureDeployment = `{"apiVersion":"apps/v1","kind":"Deployment",
 "metadata":{"name":"web","namespace":"dev","resourceVersion":"42","annotations":{"fastdev.dev/rules":"sync: ..."}},
 "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},"futureStrategyField":3,
  "template":{"metadata":{"labels":{"app":"web"}},
   "spec":{"futureField":{"mode":"fast","weights":[1,2.50,3]},
    "initContainers":[{"name":"migrate","image":"example/web:1","command":["/app/migrate"],"futureSetting":false,"resources":{}}],
    "containers":[
     {"name":"web","image":"example/web:1","command":["/app/server"],"args":["--port","8080"],"futureSetting":{"enabled":true,"level":12345678901234567890},
      "volumeMounts":[{"name":"config","mountPath":"/etc/web","futureMountField":"x"}],"resources":{}},
     {"name":"proxy","image":"example/proxy:1","resources":{},"futureSetting":"p"}],
    "volumes":[{"name":"config","emptyDir":{},"futureVolumeField":"y"}]}}}}`

// applyRaw applies a JSON patch to a Deployment's JSON as the API server does, then bumps the
// resourceVersion as a write does.
func applyRaw(t *testing.T, doc []byte, patch []byte) []byte {
	t.Helper()
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply(doc)
	if err != nil {
		t.Fatalf("applying %s: %v", patch, err)
	}
	var d map[string]any
	if err := decode(out, &d); err != nil {
		t.Fatal(err)
	}
	d["metadata"].(obj)["resourceVersion"] = d["metadata"].(obj)["resourceVersion"].(string) + "1"
	out, err = json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// part decodes the value at a slash path (keys and list indexes) of a JSON document, numbers as written.
func part(t *testing.T, doc []byte, path string) any {
	t.Helper()
	var v any
	if err := decode(doc, &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range strings.Split(strings.Trim(path, "/"), "/") {
		switch c := v.(type) {
		case obj:
			v = c[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(c) {
				t.Fatalf("%s: no item %q", path, k)
			}
			v = c[i]
		default:
			t.Fatalf("%s: %q is not under an object or a list", path, k)
		}
	}
	return v
}

// TestUnknownFieldsSurviveInjectAndRestore: fields this client's types do not know (at pod, container,
// mount, volume and Deployment level) are kept by the injection, recorded, left alone by a re-run, and
// the restore gives back the template exactly as the server sent it.
func TestUnknownFieldsSurviveInjectAndRestore(t *testing.T) {
	var typed appsv1.Deployment
	if err := json.Unmarshal([]byte(futureDeployment), &typed); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(typed); strings.Contains(string(b), "future") {
		t.Fatal("the test's fields are known to the client's types: it would prove nothing")
	}
	raw := []byte(futureDeployment)
	r := mustRules(t, webRules)
	plan, err := InjectPatchRaw(raw, r, opts)
	if err != nil || plan.Patch == nil || plan.Already {
		t.Fatalf("plan: %+v, %v", plan, err)
	}
	var ops []map[string]any
	if err := json.Unmarshal(plan.Patch, &ops); err != nil {
		t.Fatal(err)
	}
	for _, o := range ops {
		if p := o["path"].(string); p == "/spec/template" || p == "/spec/template/spec" || strings.Contains(p, "future") {
			t.Errorf("operation %v replaces the template or touches an unknown field", o)
		}
	}
	injected := applyRaw(t, raw, plan.Patch)
	for _, p := range []string{"spec/futureStrategyField", "spec/template/spec/futureField", "spec/template/spec/initContainers/0/futureSetting",
		"spec/template/spec/containers/0/futureSetting", "spec/template/spec/containers/0/volumeMounts/0/futureMountField",
		"spec/template/spec/containers/1/futureSetting", "spec/template/spec/volumes/0/futureVolumeField"} {
		if got, want := part(t, injected, p), part(t, raw, p); want == nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s after up: %v, want %v", p, got, want)
		}
	}
	recordedOrig := part(t, injected, "metadata/annotations").(obj)[AnnotationOriginal].(string)
	var rec any
	if err := decode([]byte(recordedOrig), &rec); err != nil || !reflect.DeepEqual(rec, part(t, raw, "spec/template")) {
		t.Errorf("recorded original %s, want the template as sent (%v)", recordedOrig, err)
	}
	again, err := InjectPatchRaw(injected, r, Options{SyncletImage: opts.SyncletImage, Port: 1, Keys: aliceKey, NativeSidecar: true})
	if err != nil || again.Patch != nil || again.Keys != aliceKey || again.Port != 17220 {
		t.Fatalf("second up must patch nothing and keep keys and port: %+v, %v", again, err)
	}
	restore, err := RestorePatchRaw(injected, false)
	if err != nil {
		t.Fatal(err)
	}
	back := applyRaw(t, injected, restore)
	if !reflect.DeepEqual(part(t, back, "spec"), part(t, raw, "spec")) {
		b, _ := json.Marshal(part(t, back, "spec"))
		t.Errorf("restored spec differs from the original:\n%s", b)
	}
	if !reflect.DeepEqual(part(t, back, "metadata/annotations"), part(t, raw, "metadata/annotations")) {
		t.Errorf("annotations after down: %v", part(t, back, "metadata/annotations"))
	}
	if _, err := RestorePatchRaw(back, false); !errors.Is(err, ErrNotInjected) {
		t.Errorf("restoring a plain Deployment: %v, want ErrNotInjected", err)
	}
}

// TestUnknownFieldChangedMeanwhile: a change to a field only the server knows is someone else's edit
// too: re-injecting and restoring refuse it, and a forced restore puts the original back.
func TestUnknownFieldChangedMeanwhile(t *testing.T) {
	raw := []byte(futureDeployment)
	r := mustRules(t, webRules)
	plan, err := InjectPatchRaw(raw, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	injected := applyRaw(t, raw, plan.Patch)
	edited := applyRaw(t, injected, []byte(`[{"op":"replace","path":"/spec/template/spec/containers/0/futureSetting/enabled","value":false}]`))
	if _, err := InjectPatchRaw(edited, r, opts); !errors.Is(err, ErrChangedMeanwhile) {
		t.Errorf("re-inject over a change of an unknown field: %v, want ErrChangedMeanwhile", err)
	}
	if _, err := RestorePatchRaw(edited, false); !errors.Is(err, ErrChangedMeanwhile) {
		t.Errorf("restore over a change of an unknown field: %v, want ErrChangedMeanwhile", err)
	}
	forced, err := RestorePatchRaw(edited, true)
	if err != nil {
		t.Fatal(err)
	}
	if back := applyRaw(t, edited, forced); !reflect.DeepEqual(part(t, back, "spec"), part(t, raw, "spec")) {
		t.Errorf("forced restore did not put the original back")
	}
}

// previousRelease returns d as the release before raw recording left it: the typed template's JSON
// recorded, the whole template replaced by the typed injected one, and only the synclet given
// requests (no limits, nothing on install and seed).
func previousRelease(t *testing.T, d *appsv1.Deployment) []byte {
	t.Helper()
	want, err := Template(&d.Spec.Template, mustRules(t, webRules), opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want.Spec.InitContainers {
		c := &want.Spec.InitContainers[i]
		c.Resources = corev1.ResourceRequirements{}
		if c.Name == SyncletContainer {
			c.Resources.Requests = defaultRequests.DeepCopy()
		}
	}
	orig, err := json.Marshal(d.Spec.Template)
	if err != nil {
		t.Fatal(err)
	}
	old := d.DeepCopy()
	old.Annotations[AnnotationOriginal] = string(orig)
	old.Annotations[AnnotationKeys], old.Annotations[AnnotationPort] = aliceKey, "17220"
	old.Spec.Template = *want
	b, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPreviousReleaseRestored: a Deployment injected by the previous release (typed recording) is
// restored exactly by down, and a new up updates its injection instead of calling it changed.
func TestPreviousReleaseRestored(t *testing.T) {
	orig := deployment()
	old := previousRelease(t, orig)
	restore, err := RestorePatchRaw(old, false)
	if err != nil {
		t.Fatal(err)
	}
	var back appsv1.Deployment
	if err := json.Unmarshal(applyRaw(t, old, restore), &back); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(back.Spec.Template, orig.Spec.Template) || !equality.Semantic.DeepEqual(back.Annotations, orig.Annotations) {
		t.Errorf("down of the previous release's injection: %+v", back)
	}
	plan, err := InjectPatchRaw(old, mustRules(t, webRules), opts)
	if err != nil || plan.Patch == nil || !plan.Already {
		t.Fatalf("up over the previous release's injection: %+v, %v", plan, err)
	}
	var now appsv1.Deployment
	if err := json.Unmarshal(applyRaw(t, old, plan.Patch), &now); err != nil {
		t.Fatal(err)
	}
	want, err := Template(&orig.Spec.Template, mustRules(t, webRules), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(&now.Spec.Template, want) {
		t.Errorf("re-injected template differs from this release's injection")
	}
}

// TestRawAgreesWithTyped: the injection laid onto the template's JSON reads back as the typed
// injection (for a template with only known fields), and the raw strip as the typed Strip.
func TestRawAgreesWithTyped(t *testing.T) {
	for _, native := range []bool{true, false} {
		d := deployment()
		d.Spec.Template.Spec.Containers[0].Args = nil
		o := opts
		o.NativeSidecar = native
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := InjectPatchRaw(raw, mustRules(t, webRules), o)
		if err != nil {
			t.Fatal(err)
		}
		var got appsv1.Deployment
		if err := json.Unmarshal(applyRaw(t, raw, plan.Patch), &got); err != nil {
			t.Fatal(err)
		}
		want, err := Template(&d.Spec.Template, mustRules(t, webRules), o)
		if err != nil {
			t.Fatal(err)
		}
		if !equality.Semantic.DeepEqual(&got.Spec.Template, want) {
			t.Errorf("native %v: raw injection differs from the typed one", native)
		}
		if !equality.Semantic.DeepEqual(Strip(&got.Spec.Template, &d.Spec.Template), &d.Spec.Template) {
			t.Errorf("native %v: typed Strip does not give the original back", native)
		}
	}
}

// TestServerDefaultsOnInjectedContainersKept: a field a newer server defaults on the injected
// containers is not taken away by the next up (which would patch, and roll out, on every run).
func TestServerDefaultsOnInjectedContainersKept(t *testing.T) {
	raw := []byte(futureDeployment)
	r := mustRules(t, webRules)
	plan, err := InjectPatchRaw(raw, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	injected := applyRaw(t, raw, plan.Patch)
	defaulted := applyRaw(t, injected, []byte(`[{"op":"add","path":"/spec/template/spec/initContainers/1/futureDefault","value":"on"}]`))
	if again, err := InjectPatchRaw(defaulted, r, opts); err != nil || again.Patch != nil {
		t.Errorf("up after the server defaulted a field of fastdev-install: %s, %v", again.Patch, err)
	}
	// a managed field changed by someone is put back
	changed := applyRaw(t, injected, []byte(`[{"op":"replace","path":"/spec/template/spec/initContainers/1/image","value":"other"}]`))
	if again, err := InjectPatchRaw(changed, r, opts); err != nil || !strings.Contains(string(again.Patch), `"path":"/spec/template/spec/initContainers/1/image"`) {
		t.Errorf("up after fastdev-install's image changed: %s, %v", again.Patch, err)
	}
}

// TestDiff: operations only where documents differ; false and empty values are written; a null
// counts as absent; a list shrinks from its end; keys are escaped.
func TestDiff(t *testing.T) {
	cases := []struct{ cur, want, ops string }{
		{`{"a":1,"b":{"c":true}}`, `{"a":1,"b":{"c":true}}`, `null`},
		{`{"a":true}`, `{"a":false}`, `[{"op":"replace","path":"/a","value":false}]`},
		{`{"a":1}`, `{"a":1,"e":{}}`, `[{"op":"add","path":"/e","value":{}}]`},
		{`{"a":null,"b":1}`, `{"b":1,"c":null}`, `null`},
		{`{"l":[{"a":1},{"a":2},{"a":3},{"a":4}]}`, `{"l":[{"a":1},{"a":9}]}`,
			`[{"op":"replace","path":"/l/1/a","value":9},{"op":"remove","path":"/l/3"},{"op":"remove","path":"/l/2"}]`},
		{`{"l":[{"a":1}]}`, `{"l":[{"a":1},{"x":"y"}]}`, `[{"op":"add","path":"/l/1","value":{"x":"y"}}]`},
		{`{"cmd":["/app","-v"]}`, `{"cmd":["/w","--","/app","-v"]}`, `[{"op":"replace","path":"/cmd","value":["/w","--","/app","-v"]}]`},
		{`{"cmd":["/app","-v"]}`, `{"cmd":["/app","-v"]}`, `null`},
		{`{"a/b~c":1,"gone":2}`, `{"a/b~c":2}`, `[{"op":"remove","path":"/gone"},{"op":"replace","path":"/a~1b~0c","value":2}]`},
		{`{"n":1.50}`, `{"n":1.5}`, `null`},
		{`{"x":[1]}`, `{"x":{"y":1}}`, `[{"op":"replace","path":"/x","value":{"y":1}}]`},
	}
	for _, c := range cases {
		var cur, want any
		if err := decode([]byte(c.cur), &cur); err != nil {
			t.Fatal(err)
		}
		if err := decode([]byte(c.want), &want); err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(diff("", cur, want))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.ops {
			t.Errorf("diff(%s, %s) = %s, want %s", c.cur, c.want, got, c.ops)
		}
	}
}
