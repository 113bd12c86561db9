package cmd

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// injectedDeployment returns web as `up` leaves it: injected, its original template recorded.
func injectedDeployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	d := deployment("web", map[string]string{rules.AnnotationKey: webRules})
	d.ResourceVersion = "1"
	d.Spec.Template.Labels = map[string]string{"app": "web"}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "web:1", Command: []string{"/app/web"}}}
	r, err := rules.Parse(webRules)
	if err != nil {
		t.Fatal(err)
	}
	cs := fake.NewSimpleClientset(d)
	c := kube.NewForClientset(cs, "dev")
	plan, err := inject.InjectPatch(d, r, inject.Options{SyncletImage: "synclet:1", Port: 7777, Keys: "ed25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= dev@laptop"})
	if err != nil {
		t.Fatal(err)
	}
	injected, err := c.PatchDeployment(context.Background(), "web", plan.Patch)
	if err != nil {
		t.Fatal(err)
	}
	return injected
}

// TestDownRestores: down restores an injected Deployment, planning again when the patch finds it
// changed meanwhile (the API server's answer to a failed resourceVersion test), and says so once.
func TestDownRestores(t *testing.T) {
	d := injectedDeployment(t)
	cs := fake.NewSimpleClientset(d)
	stale := 0
	cs.PrependReactor("patch", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		if stale++; stale == 1 {
			return true, nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "",
				"testing value /metadata/resourceVersion failed: test failed", 0, false)
		}
		return false, nil, nil
	})
	var out, errOut strings.Builder
	o := NewDownOptions(nil, genericiooptions.IOStreams{Out: &out, ErrOut: &errOut})
	o.client, o.targets = kube.NewForClientset(cs, "dev"), []workload.Workload{workload.Of(d)}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out.String() != "web: restored\n" || stale != 2 {
		t.Errorf("out %q, stderr %q, %d patches", out.String(), errOut.String(), stale)
	}
	got, err := o.client.GetDeployment(context.Background(), "web")
	if err != nil || isInjected(workload.Of(got)) || len(got.Spec.Template.Spec.Containers) != 1 {
		t.Errorf("after down: injected %v, containers %d, %v", isInjected(workload.Of(got)), len(got.Spec.Template.Spec.Containers), err)
	}
	// a second down finds nothing to restore
	out.Reset()
	o.targets = []workload.Workload{workload.Of(got)}
	if err := o.Run(context.Background()); err != nil || out.String() != "" || errOut.String() != "web: not injected, nothing to do\n" {
		t.Errorf("second down: %v, out %q, stderr %q", err, out.String(), errOut.String())
	}
}

// TestDownRefusesAChangeMeanwhile: a template someone changed after injection is not restored (their
// change would be lost) unless --force; the error names the flag and the Deployment is untouched.
func TestDownRefusesAChangeMeanwhile(t *testing.T) {
	d := injectedDeployment(t)
	d.Spec.Template.Spec.Containers[0].Image = "web:2" // someone's edit
	cs := fake.NewSimpleClientset(d)
	var out, errOut strings.Builder
	o := NewDownOptions(nil, genericiooptions.IOStreams{Out: &out, ErrOut: &errOut})
	o.client, o.targets = kube.NewForClientset(cs, "dev"), []workload.Workload{workload.Of(d)}
	err := o.Run(context.Background())
	if !errors.Is(err, inject.ErrChangedMeanwhile) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("down over a change: %v", err)
	}
	if got, _ := o.client.GetDeployment(context.Background(), "web"); !isInjected(workload.Of(got)) {
		t.Error("the Deployment was restored anyway")
	}
	o.Force = true
	if err := o.Run(context.Background()); err != nil || out.String() != "web: restored\n" {
		t.Fatalf("down --force: %v, out %q", err, out.String())
	}
	got, err := o.client.GetDeployment(context.Background(), "web")
	if err != nil || isInjected(workload.Of(got)) || got.Spec.Template.Spec.Containers[0].Image != "web:1" {
		t.Errorf("after down --force: %+v, %v", got.Spec.Template.Spec.Containers, err)
	}
}
