package guard

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// TestCheck classifies the states a Deployment reaches while `up` runs.
func TestCheck(t *testing.T) {
	in := injection(t, devKey)
	cases := []struct {
		name string
		d    func() *appsv1.Deployment
		want Kind
		err  string
	}{
		{"as injected", func() *appsv1.Deployment { return injected(t, original(), in) }, Intact, ""},
		{"kubectl replace of the manifest", func() *appsv1.Deployment { return replaced(injected(t, original(), in)) }, Removed, ""},
		{"server-side apply took the command back", func() *appsv1.Deployment {
			d := injected(t, original(), in)
			d.Spec.Template.Spec.Containers[0].Command = []string{"/bin/httpd", "-f"}
			d.Spec.Template.Spec.Containers[0].Args = []string{"-p", "8080"}
			return d
		}, Changed, ""},
		{"other keys", func() *appsv1.Deployment { return injected(t, original(), injection(t, otherKey)) }, Changed, ""},
		{"image bumped around the injection", func() *appsv1.Deployment {
			d := injected(t, original(), in)
			d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] = "now"
			return d
		}, Edited, ""},
		{"keys annotation edited", func() *appsv1.Deployment {
			d := injected(t, original(), in)
			d.Annotations[inject.AnnotationKeys] = otherKey
			return d
		}, Edited, ""},
		{"rules' container gone", func() *appsv1.Deployment {
			d := replaced(injected(t, original(), in))
			d.Spec.Template.Spec.Containers[0].Name = "app"
			return d
		}, Changed, `no container "web"`},
		{"original annotation garbled", func() *appsv1.Deployment {
			d := injected(t, original(), in)
			d.Annotations[inject.AnnotationOriginal] = "{"
			return d
		}, Changed, "is not a pod template"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Check(workload.Of(c.d()), in)
			if got != c.want {
				t.Errorf("Check = %s, want %s", got, c.want)
			}
			if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
				t.Errorf("error %v, want one containing %q", err, c.err)
			}
		})
	}
}

// TestReinjectPatch: a re-injection planned with the keys in force (inject.ReinjectPatchRaw, what
// up's guard sends) leaves the Deployment intact by Check, keeps the keys and port, and records the
// template its last writer wanted as the original, which `down`'s restore patch then puts back exactly.
func TestReinjectPatch(t *testing.T) {
	in := injection(t, devKey)
	commandReset := injected(t, original(), in)
	commandReset.Spec.Template.Spec.Containers[0].Command = []string{"/bin/httpd", "-f"}
	commandReset.Spec.Template.Spec.Containers[0].Args = []string{"-p", "8080"}
	commandReset.Spec.Template.Spec.Containers[0].Image = "example/web:2" // the new version the tool applied
	bumped := injected(t, original(), in)
	bumped.Spec.Template.Labels["version"] = "2"
	for name, d := range map[string]*appsv1.Deployment{
		"replaced":            replaced(injected(t, original(), in)),
		"command reset":       commandReset,
		"edited around it":    bumped,
		"replaced, no annots": func() *appsv1.Deployment { d := replaced(injected(t, original(), in)); d.Annotations = nil; return d }(),
	} {
		t.Run(name, func(t *testing.T) {
			want := inject.Strip(&d.Spec.Template, &d.Spec.Template)
			if orig, err := inject.Original(d.Annotations); err == nil && orig != nil {
				want = inject.Strip(&d.Spec.Template, orig)
			}
			after := reinjectedBy(t, d, in)
			if k, err := Check(workload.Of(after), in); k != Intact || err != nil {
				t.Errorf("after the re-injection: %s, %v", k, err)
			}
			if after.Annotations[inject.AnnotationKeys] != devKey || after.Annotations[inject.AnnotationPort] != "17220" {
				t.Errorf("keys/port not kept: annotations %v", after.Annotations)
			}
			restore, err := inject.RestorePatch(after)
			if err != nil {
				t.Fatal(err)
			}
			down := apply(t, after, restore)
			if !equality.Semantic.DeepEqual(&down.Spec.Template, want) {
				t.Errorf("down restores\n%+v\nwant the reverted-to template\n%+v", down.Spec.Template, want)
			}
		})
	}
}

// TestReinjectRefusesAMix: a template whose wrapped command cannot be unwrapped with the recorded
// original (a tool changed the args under the wrapper) is not re-recorded as an original.
func TestReinjectRefusesAMix(t *testing.T) {
	in := injection(t, devKey)
	d := injected(t, original(), in)
	c := &d.Spec.Template.Spec.Containers[0]
	c.Command = append(c.Command[:len(c.Command)-1:len(c.Command)-1], "9090")
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inject.ReinjectPatchRaw(raw, in.Rules, in.Options); !errors.Is(err, inject.ErrMixed) {
		t.Errorf("re-injection of a mixed template: %v, want inject.ErrMixed", err)
	}
}
