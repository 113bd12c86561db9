package guard

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

func entry(manager string, op metav1.ManagedFieldsOperationType, at time.Time, sub, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Subresource: sub, Time: &metav1.Time{Time: at},
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
}

const (
	templateFields = `{"f:metadata":{"f:labels":{}},"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{}}}}}`
	metaFields     = `{"f:metadata":{"f:annotations":{"f:note":{}}}}`
	replicasFields = `{"f:spec":{"f:replicas":{}}}`
	statusFields   = `{"f:status":{"f:conditions":{}},"f:spec":{"f:template":{}}}`
)

// TestLastWriter picks the manager that last wrote the pod template from managedFields.
func TestLastWriter(t *testing.T) {
	apply, update := metav1.ManagedFieldsOperationApply, metav1.ManagedFieldsOperationUpdate
	cases := []struct {
		name    string
		entries []metav1.ManagedFieldsEntry
		want    string
	}{
		{"kubectl replace after the injection", []metav1.ManagedFieldsEntry{
			entry("kubectl-client-side-apply", update, t0, "", templateFields),
			entry(self, update, t0.Add(time.Minute), "", templateFields),
			entry("kubectl-replace", update, t0.Add(2*time.Minute), "", templateFields)}, "kubectl-replace"},
		{"argo cd server-side apply", []metav1.ManagedFieldsEntry{
			entry("argocd-controller", apply, t0.Add(2*time.Minute), "", templateFields),
			entry(self, update, t0.Add(time.Minute), "", templateFields)}, "argocd-controller"},
		{"a later write elsewhere does not count", []metav1.ManagedFieldsEntry{
			entry("kustomize-controller", apply, t0, "", templateFields),
			entry("kubectl-annotate", update, t0.Add(time.Hour), "", metaFields),
			entry("kubectl-scale", update, t0.Add(time.Hour), "", replicasFields)}, "kustomize-controller"},
		{"subresources are skipped", []metav1.ManagedFieldsEntry{
			entry("helm", update, t0, "", templateFields),
			entry("kube-controller-manager", update, t0.Add(time.Hour), "status", statusFields)}, "helm"},
		{"same second: the other manager", []metav1.ManagedFieldsEntry{
			entry("argocd-application-controller", update, t0, "", templateFields),
			entry(self, update, t0, "", templateFields)}, "argocd-application-controller"},
		{"same second, self first in the list", []metav1.ManagedFieldsEntry{
			entry(self, update, t0, "", templateFields),
			entry("helm-controller", update, t0, "", templateFields)}, "helm-controller"},
		{"kubectl fastdev down", []metav1.ManagedFieldsEntry{
			entry("kubectl-client-side-apply", update, t0, "", templateFields),
			entry(self, update, t0.Add(time.Minute), "", templateFields)}, self},
		{"nobody owns the template", []metav1.ManagedFieldsEntry{entry("x", update, t0, "", metaFields)}, ""},
		{"a field set that is not JSON", []metav1.ManagedFieldsEntry{entry("x", update, t0, "", "{")}, ""},
		{"no managedFields", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := LastWriter(c.entries, self); got.Manager != c.want {
				t.Errorf("LastWriter = %q, want %q", got.Manager, c.want)
			}
		})
	}
}

// TestHint: each manager gets the way to pause it that its tool documents.
func TestHint(t *testing.T) {
	cases := []struct{ manager, tool, hint string }{
		{"argocd-controller", "Argo CD", "argocd app set APP --sync-policy none"},
		{"argocd-application-controller", "Argo CD", "managedFieldsManagers: [kubectl-fastdev]"},
		{"argocd-controller", "Argo CD", "RespectIgnoreDifferences=true"},
		{"kustomize-controller", "Flux", "kubectl annotate deployment web kustomize.toolkit.fluxcd.io/reconcile=disabled"},
		{"kustomize-controller", "Flux", "flux suspend kustomization"},
		{"helm-controller", "Flux", "flux suspend helmrelease"},
		{"helm", "Helm", "re-injects after each upgrade"},
		{"kubectl-client-side-apply", "kubectl apply", "nothing to pause"},
		{"kubectl-replace", "kubectl replace", "nothing to pause"},
		{"kubectl", "kubectl", "nothing to pause"},
		{"kubectl-edit", "kubectl", "nothing to pause"},
		{"my-operator", "", `field manager "my-operator" for deployment web`},
		{"", "", "--show-managed-fields"},
	}
	for _, c := range cases {
		if got := Tool(c.manager); got != c.tool {
			t.Errorf("Tool(%q) = %q, want %q", c.manager, got, c.tool)
		}
		if got := Hint(c.manager, web); !strings.Contains(got, c.hint) {
			t.Errorf("Hint(%q) = %q, want it to contain %q", c.manager, got, c.hint)
		}
	}
	db := workload.Ref{Kind: workload.StatefulSet, Name: "db"}
	for manager, hint := range map[string]string{
		"argocd-controller":    "kind: StatefulSet, name: db",
		"kustomize-controller": "kubectl annotate statefulset db ",
		"":                     "kubectl get statefulset db --show-managed-fields",
	} {
		if got := Hint(manager, db); !strings.Contains(got, hint) {
			t.Errorf("Hint(%q, statefulset/db) = %q, want it to contain %q", manager, got, hint)
		}
	}
	if got := Who(Writer{Manager: "argocd-controller"}); got != `field manager "argocd-controller" (Argo CD)` {
		t.Errorf("Who = %q", got)
	}
	if got := Who(Writer{Manager: "my-operator"}); got != `field manager "my-operator"` {
		t.Errorf("Who = %q", got)
	}
}
