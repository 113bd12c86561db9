package workload

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Workload is a pod template kubectl-fastdev can read, patch and restore: a Deployment, a
// StatefulSet or a DaemonSet. Patches are JSON patches on the object's JSON (`/metadata/...`,
// `/spec/template/...`), which every kind shares, so pkg/inject plans them without knowing the kind.
type Workload interface {
	// Ref is the workload's kind and name.
	Ref() Ref
	// Meta is the object's metadata: annotations, generation, resourceVersion, managedFields.
	Meta() *metav1.ObjectMeta
	// Template is the pod template (spec.template); changing it changes the workload.
	Template() *corev1.PodTemplateSpec
	// Object is the typed API object, for the client that sends it and for a deep copy.
	Object() runtime.Object
}

type deployment struct{ *appsv1.Deployment }
type statefulSet struct{ *appsv1.StatefulSet }
type daemonSet struct{ *appsv1.DaemonSet }

var (
	_ Workload = deployment{}
	_ Workload = statefulSet{}
	_ Workload = daemonSet{}
)

func (d deployment) Ref() Ref                          { return Ref{Deployment, d.Name} }
func (d deployment) Meta() *metav1.ObjectMeta          { return &d.ObjectMeta }
func (d deployment) Template() *corev1.PodTemplateSpec { return &d.Spec.Template }
func (d deployment) Object() runtime.Object            { return d.Deployment }

func (s statefulSet) Ref() Ref                          { return Ref{StatefulSet, s.Name} }
func (s statefulSet) Meta() *metav1.ObjectMeta          { return &s.ObjectMeta }
func (s statefulSet) Template() *corev1.PodTemplateSpec { return &s.Spec.Template }
func (s statefulSet) Object() runtime.Object            { return s.StatefulSet }

func (d daemonSet) Ref() Ref                          { return Ref{DaemonSet, d.Name} }
func (d daemonSet) Meta() *metav1.ObjectMeta          { return &d.ObjectMeta }
func (d daemonSet) Template() *corev1.PodTemplateSpec { return &d.Spec.Template }
func (d daemonSet) Object() runtime.Object            { return d.DaemonSet }

// Of wraps a typed Deployment, StatefulSet or DaemonSet; nil for any other object.
func Of(o runtime.Object) Workload {
	switch t := o.(type) {
	case *appsv1.Deployment:
		return deployment{t}
	case *appsv1.StatefulSet:
		return statefulSet{t}
	case *appsv1.DaemonSet:
		return daemonSet{t}
	}
	return nil
}

// New returns an empty object of kind k (what an informer of that kind holds).
func New(k Kind) runtime.Object {
	switch k {
	case StatefulSet:
		return &appsv1.StatefulSet{}
	case DaemonSet:
		return &appsv1.DaemonSet{}
	}
	return &appsv1.Deployment{}
}

// Copy returns a deep copy of w.
func Copy(w Workload) Workload { return Of(w.Object().DeepCopyObject()) }

// Selector is the label selector of w's pods, in the form a list of pods takes.
func Selector(w Workload) (string, error) {
	var sel *metav1.LabelSelector
	switch t := w.Object().(type) {
	case *appsv1.Deployment:
		sel = t.Spec.Selector
	case *appsv1.StatefulSet:
		sel = t.Spec.Selector
	case *appsv1.DaemonSet:
		sel = t.Spec.Selector
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "", fmt.Errorf("%s: selector: %w", w.Ref(), err)
	}
	return s.String(), nil
}
