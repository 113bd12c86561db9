package kube

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// testOpFailed is exactly what the API server returns when a JSON patch's "test" operation fails
// (k8s.io/apiserver endpoints/handlers/patch.go, applyJSPatch): a 422 with reason Invalid and a
// generic message; the json-patch error text stays on the server.
func testOpFailed() error {
	return apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "",
		"testing value /metadata/resourceVersion failed: test failed", 0, false)
}

// annotate is a plan that adds an annotation, recording the annotations of each Deployment planned for.
type annotate struct{ seen []map[string]string }

func (a *annotate) plan(w workload.Workload) ([]byte, error) {
	a.seen = append(a.seen, w.Meta().Annotations)
	return []byte(`[{"op":"add","path":"/metadata/annotations/patched","value":"yes"}]`), nil
}

func patchTest(t *testing.T) (*Client, *fake.Clientset, *appsv1.Deployment) {
	t.Helper()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "dev", Annotations: map[string]string{"a": "1"}}}
	cs := fake.NewSimpleClientset(d)
	return NewForClientset(cs, "dev"), cs, d
}

// TestPatchWorkloadPlannedStale: a patch refused because the Deployment changed meanwhile is planned again
// against the Deployment read afresh, and applied.
func TestPatchWorkloadPlannedStale(t *testing.T) {
	c, cs, d := patchTest(t)
	refused := 0
	cs.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		if refused > 0 {
			return false, nil, nil
		}
		refused++
		// someone else changes the Deployment between our read and our patch
		changed := d.DeepCopy()
		changed.Annotations["a"] = "2"
		if err := cs.Tracker().Update(appsv1.SchemeGroupVersion.WithResource("deployments"), changed, "dev"); err != nil {
			t.Fatal(err)
		}
		return true, nil, testOpFailed()
	})
	var a annotate
	if err := c.PatchWorkloadPlanned(context.Background(), workload.Of(d), "patching", a.plan); err != nil {
		t.Fatal(err)
	}
	if len(a.seen) != 2 || a.seen[0]["a"] != "1" || a.seen[1]["a"] != "2" {
		t.Errorf("planned for %v, want the first read then the changed Deployment", a.seen)
	}
	now, err := c.GetWorkload(context.Background(), workload.Ref{Kind: workload.Deployment, Name: "web"})
	if err != nil || now.Meta().Annotations["patched"] != "yes" || now.Meta().Annotations["a"] != "2" {
		t.Errorf("after the retry: %v, %v", now.Meta().Annotations, err)
	}
}

// TestPatchWorkloadPlannedGivesUp: a patch that stays stale is tried 1+staleRetries times; any other refusal
// (here forbidden) is not retried; errors name the verb and the Deployment and keep their type.
func TestPatchWorkloadPlannedGivesUp(t *testing.T) {
	for _, c := range []struct {
		name   string
		err    error
		plans  int
		isType func(error) bool
		want   string
	}{
		{"stale", testOpFailed(), 1 + staleRetries, apierrors.IsInvalid, `restoring deployment "web": the server rejected our request`},
		{"conflict", apierrors.NewConflict(schema.GroupResource{Resource: "deployments"}, "web", errors.New("changed")), 1 + staleRetries, apierrors.IsConflict, `restoring deployment "web"`},
		{"forbidden", apierrors.NewForbidden(schema.GroupResource{Resource: "deployments"}, "web", errors.New("no")), 1, apierrors.IsForbidden,
			`restoring deployment "web": not allowed to patch deployments in namespace "dev"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			client, cs, d := patchTest(t)
			cs.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, c.err
			})
			var a annotate
			err := client.PatchWorkloadPlanned(context.Background(), workload.Of(d), "restoring", a.plan)
			if err == nil || !c.isType(err) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want %q of the original type", err, c.want)
			}
			if len(a.seen) != c.plans {
				t.Errorf("planned %d times, want %d", len(a.seen), c.plans)
			}
		})
	}
}

// TestPatchWorkloadPlannedNothingToDo: a nil patch sends nothing; a planning error is returned as it is.
func TestPatchWorkloadPlannedNothingToDo(t *testing.T) {
	c, cs, d := patchTest(t)
	if err := c.PatchWorkloadPlanned(context.Background(), workload.Of(d), "patching", func(workload.Workload) ([]byte, error) { return nil, nil }); err != nil {
		t.Errorf("nil patch: %v", err)
	}
	planErr := errors.New("bad rules")
	if err := c.PatchWorkloadPlanned(context.Background(), workload.Of(d), "patching", func(workload.Workload) ([]byte, error) { return nil, planErr }); err != planErr {
		t.Errorf("planning error: %v", err)
	}
	for _, a := range cs.Actions() {
		if a.GetVerb() == "patch" {
			t.Errorf("patched: %v", a)
		}
	}
}
