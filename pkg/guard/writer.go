package guard

import (
	"encoding/json"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// Writer is the field manager that last wrote a Deployment's pod template, as managedFields tell.
type Writer struct {
	Manager   string // "" when no entry owns a field of the template
	Operation metav1.ManagedFieldsOperationType
}

// LastWriter returns the field manager whose managedFields entry owns a field of spec.template and was
// written last. Times have a resolution of one second, so among entries of the same second a manager
// other than self (kubectl-fastdev) wins: a template that lost the injection within the second of a
// re-injection was changed by the other one. Entries of subresources (status, scale) are skipped.
func LastWriter(entries []metav1.ManagedFieldsEntry, self string) Writer {
	var best *metav1.ManagedFieldsEntry
	for i := range entries {
		e := &entries[i]
		if e.Subresource != "" || !ownsTemplate(e) {
			continue
		}
		if best == nil || later(e, best) || (sameTime(e, best) && best.Manager == self && e.Manager != self) {
			best = e
		}
	}
	if best == nil {
		return Writer{}
	}
	return Writer{Manager: best.Manager, Operation: best.Operation}
}

func later(a, b *metav1.ManagedFieldsEntry) bool {
	return a.Time != nil && (b.Time == nil || a.Time.After(b.Time.Time))
}

func sameTime(a, b *metav1.ManagedFieldsEntry) bool {
	return (a.Time == nil && b.Time == nil) || (a.Time != nil && b.Time != nil && a.Time.Equal(b.Time))
}

// ownsTemplate reports whether the entry's field set holds anything under spec.template.
func ownsTemplate(e *metav1.ManagedFieldsEntry) bool {
	if e.FieldsV1 == nil {
		return false
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(e.FieldsV1.Raw, &top) != nil {
		return false // not a field set this version understands: it names no field we can check
	}
	var spec map[string]json.RawMessage
	if json.Unmarshal(top["f:spec"], &spec) != nil {
		return false
	}
	_, ok := spec["f:template"]
	return ok
}

// Tool names the tool behind a field manager, for the user ("Argo CD", "Flux"); "" if unknown.
func Tool(manager string) string {
	switch {
	case strings.HasPrefix(manager, "argocd"):
		return "Argo CD"
	case manager == "kustomize-controller" || manager == "helm-controller":
		return "Flux"
	case manager == "helm":
		return "Helm"
	case manager == "kubectl-client-side-apply":
		return "kubectl apply"
	case manager == "kubectl-replace":
		return "kubectl replace"
	case manager == "kubectl" || strings.HasPrefix(manager, "kubectl-"):
		return "kubectl"
	}
	return ""
}

// Who renders a writer for a message: `field manager "argocd-controller" (Argo CD)`.
func Who(w Writer) string {
	if w.Manager == "" {
		return "an unknown writer (no managedFields entry owns the pod template)"
	}
	if t := Tool(w.Manager); t != "" {
		return fmt.Sprintf("field manager %q (%s)", w.Manager, t)
	}
	return fmt.Sprintf("field manager %q", w.Manager)
}

// Hint says how to keep manager from reverting the workload ref while developing.
func Hint(manager string, ref workload.Ref) string {
	kind, name := ref.Kind.Lower(), ref.Name
	switch {
	case strings.HasPrefix(manager, "argocd"):
		return fmt.Sprintf("to pause Argo CD for it: turn off auto-sync of its Application (`argocd app set APP --sync-policy none`), "+
			"or give the Application ignoreDifferences {group: apps, kind: %s, name: %s, managedFieldsManagers: [kubectl-fastdev]} "+
			"with syncOptions [RespectIgnoreDifferences=true]", ref.Kind, name)
	case manager == "kustomize-controller":
		return fmt.Sprintf("to pause Flux for it: `kubectl annotate %s %s kustomize.toolkit.fluxcd.io/reconcile=disabled` "+
			"(remove it after `kubectl fastdev down`), or `flux suspend kustomization NAME`", kind, name)
	case manager == "helm-controller":
		return "to pause Flux for it: `flux suspend helmrelease NAME` (`flux resume helmrelease NAME` after `kubectl fastdev down`)"
	case manager == "helm":
		return "Helm writes only when `helm upgrade` runs: nothing to pause; `up` re-injects after each upgrade"
	case manager == "kubectl" || strings.HasPrefix(manager, "kubectl-"):
		return "a one-off kubectl command: nothing to pause (if a script or CI job runs it in a loop, stop it while developing)"
	case manager == "":
		return fmt.Sprintf("find what writes this %s with `kubectl get %s %s --show-managed-fields -o yaml`", ref.Kind, kind, name)
	}
	return fmt.Sprintf("pause whatever writes as field manager %q for %s %s while developing", manager, kind, name)
}
