package guard

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

const self = "kubectl-fastdev"

var t0 = time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)

// original is the Deployment as its manifest says, before any injection.
func original() *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "dev", ResourceVersion: "10", Generation: 1,
			Annotations: map[string]string{rules.AnnotationKey: "sync: ..."}},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "web", Image: "example/web:1", Command: []string{"/bin/httpd", "-f"}, Args: []string{"-p", "8080"}},
			}},
		}},
	}
}

// Public keys (pkg/auth's format) of the developer whose up runs, and of another.
const (
	devKey   = "ed25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= dev@laptop"
	otherKey = "ed25519 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE= other@desk"
)

func injection(t *testing.T, keys string) Injection {
	t.Helper()
	r, err := rules.Parse("container: web\nsync:\n  - from: ./www\n    to: /www\n")
	if err != nil {
		t.Fatal(err)
	}
	return Injection{Rules: r, Options: inject.Options{SyncletImage: "fastdev/synclet:v1", Port: 17220, Keys: keys, NativeSidecar: true}}
}

// apply applies a JSON patch to d as the API server would, bumping the resourceVersion and, when the
// template changed, the generation.
func apply(t *testing.T, d *appsv1.Deployment, patch []byte) *appsv1.Deployment {
	t.Helper()
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply(raw)
	if err != nil {
		t.Fatalf("applying %s: %v", patch, err)
	}
	var n appsv1.Deployment
	if err := json.Unmarshal(out, &n); err != nil {
		t.Fatal(err)
	}
	n.ResourceVersion = fmt.Sprint(len(d.ResourceVersion) + 100)
	tpl, err := json.Marshal(n.Spec.Template)
	if err != nil {
		t.Fatal(err)
	}
	was, err := json.Marshal(d.Spec.Template)
	if err != nil {
		t.Fatal(err)
	}
	if string(tpl) != string(was) {
		n.Generation++
	}
	return &n
}

// injected returns d injected with in by the same planner `up` uses.
func injected(t *testing.T, d *appsv1.Deployment, in Injection) *appsv1.Deployment {
	t.Helper()
	plan, err := inject.InjectPatch(d, in.Rules, in.Options)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Patch == nil {
		return d
	}
	return apply(t, d, plan.Patch)
}

// reinjectedBy returns d after the re-injection up's guard sends (planned on d's JSON).
func reinjectedBy(t *testing.T, d *appsv1.Deployment, in Injection) *appsv1.Deployment {
	t.Helper()
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	re, err := inject.ReinjectPatchRaw(raw, in.Rules, in.Options)
	if err != nil {
		t.Fatal(err)
	}
	if re.Patch == nil {
		return d
	}
	return apply(t, d, re.Patch)
}

// wrote records that manager wrote the template at time at.
func wrote(d *appsv1.Deployment, manager string, op metav1.ManagedFieldsOperationType, at time.Time) {
	d.ManagedFields = append(d.ManagedFields, metav1.ManagedFieldsEntry{Manager: manager, Operation: op,
		Time: &metav1.Time{Time: at}, FieldsType: "FieldsV1",
		FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:template":{"f:spec":{"f:containers":{}}}}}`)}})
}

// replaced is d after `kubectl replace -f` of the original manifest: template and annotations as the
// manifest has them, a new generation.
func replaced(d *appsv1.Deployment) *appsv1.Deployment {
	r := original()
	r.Generation = d.Generation + 1
	r.ResourceVersion = d.ResourceVersion + "r"
	r.ManagedFields = append([]metav1.ManagedFieldsEntry{}, d.ManagedFields...)
	return r
}

// web is the Deployment the tests develop.
var web = workload.Ref{Kind: workload.Deployment, Name: "web"}
