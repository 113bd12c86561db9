// Package guard decides what `up` does when a workload it develops changes under it: the injection
// still in place, reverted or broken by another field manager (named from managedFields, with how to
// pause it), a rollout that cannot progress, and when to stop re-injecting. Pure: no client-go, no I/O.
package guard

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// Kind is how a Deployment's pod template stands against the injection `up` keeps in it.
type Kind int

const (
	// Intact: the template and the recorded original are as `up` injected them.
	Intact Kind = iota
	// Edited: the template still carries the injection, but someone changed it around the injection
	// (an image bump, `kubectl rollout restart`), so the recorded original no longer matches.
	Edited
	// Changed: the template carries the injection only in part, or a different one (a server-side
	// apply that took back the app's command, other keys or another port).
	Changed
	// Removed: the template carries no injection at all (`kubectl replace`, `helm upgrade`, a sync).
	Removed
)

func (k Kind) String() string {
	switch k {
	case Intact:
		return "intact"
	case Edited:
		return "edited"
	case Changed:
		return "changed"
	case Removed:
		return "removed"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Injection is what `up` keeps injected in one Deployment.
type Injection struct {
	Rules *rules.Rules
	// Options carry the keys and port in force, so a re-injection keeps them and the running
	// dev loop reaches the new pods with what it already has.
	Options inject.Options
}

// Check classifies d's pod template against in. An error means the template as it is now cannot be
// injected at all (the rules' container is gone, say).
func Check(w workload.Workload, in Injection) (Kind, error) {
	orig, base, err := baseline(w)
	if err != nil {
		return Changed, err
	}
	want, err := inject.Template(base, in.Rules, in.Options)
	if err != nil {
		return Changed, fmt.Errorf("%s: the pod template as it is now cannot be injected: %w", w.Ref(), err)
	}
	same := equality.Semantic.DeepEqual(w.Template(), want)
	notes := w.Meta().Annotations
	recorded := orig != nil && equality.Semantic.DeepEqual(orig, base) &&
		notes[inject.AnnotationKeys] == in.Options.Keys && notes[inject.AnnotationPort] == fmt.Sprint(in.Options.Port)
	switch {
	case same && recorded:
		return Intact, nil
	case same:
		return Edited, nil
	case !inject.Carries(w.Template()):
		return Removed, nil
	}
	return Changed, nil
}

// baseline returns the recorded original (nil when none is recorded) and the template without what
// injection adds: what whoever last wrote the template wants.
func baseline(w workload.Workload) (orig, base *corev1.PodTemplateSpec, err error) {
	orig, err = inject.Original(w.Meta().Annotations)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", w.Ref(), err)
	}
	if orig == nil {
		return nil, w.Template().DeepCopy(), nil
	}
	return orig, inject.Strip(w.Template(), orig), nil
}
