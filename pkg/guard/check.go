// Package guard decides what `up` does when a Deployment it develops changes under it: the injection
// still in place, reverted or broken by another field manager (named from managedFields, with how to
// pause it), a rollout that cannot progress, and when to stop re-injecting. Pure: no client-go, no I/O.
package guard

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
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
	// apply that took back the app's command, another token or port).
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
	// Options carry the token and port in force, so a re-injection keeps them and the running
	// dev loop reaches the new pods with what it already has.
	Options inject.Options
}

// Check classifies d's pod template against in. An error means the template as it is now cannot be
// injected at all (the rules' container is gone, say).
func Check(d *appsv1.Deployment, in Injection) (Kind, error) {
	orig, base, err := baseline(d)
	if err != nil {
		return Changed, err
	}
	want, err := inject.Template(base, in.Rules, in.Options)
	if err != nil {
		return Changed, fmt.Errorf("deployment %q: the pod template as it is now cannot be injected: %w", d.Name, err)
	}
	same := equality.Semantic.DeepEqual(&d.Spec.Template, want)
	recorded := orig != nil && equality.Semantic.DeepEqual(orig, base) &&
		d.Annotations[inject.AnnotationToken] == in.Options.Token && d.Annotations[inject.AnnotationPort] == fmt.Sprint(in.Options.Port)
	switch {
	case same && recorded:
		return Intact, nil
	case same:
		return Edited, nil
	case !inject.Carries(&d.Spec.Template):
		return Removed, nil
	}
	return Changed, nil
}

// baseline returns the recorded original (nil when none is recorded) and the template without what
// injection adds: what whoever last wrote the template wants.
func baseline(d *appsv1.Deployment) (orig, base *corev1.PodTemplateSpec, err error) {
	orig, err = inject.Original(d.Annotations)
	if err != nil {
		return nil, nil, fmt.Errorf("deployment %q: %w", d.Name, err)
	}
	if orig == nil {
		return nil, d.Spec.Template.DeepCopy(), nil
	}
	return orig, inject.Strip(&d.Spec.Template, orig), nil
}

// Rebased returns a copy of d on which inject.InjectPatch plans a re-injection that records the
// template as its last writer left it (minus what injection adds) as the original: after it, `kubectl
// fastdev down` restores what the GitOps tool or the user now wants, not what was there before.
// Planned with the token and port in force, the patch also re-records those. It refuses a template
// from which the injection cannot be told apart.
func Rebased(d *appsv1.Deployment) (*appsv1.Deployment, error) {
	_, base, err := baseline(d)
	if err != nil {
		return nil, err
	}
	if inject.Carries(base) {
		return nil, fmt.Errorf("deployment %q: the pod template mixes the injection with other changes that cannot be told apart: "+
			"run `kubectl fastdev down --force %s`, re-apply your manifest, then `up` again", d.Name, d.Name)
	}
	r := d.DeepCopy()
	delete(r.Annotations, inject.AnnotationOriginal)
	r.Spec.Template = *base
	return r, nil
}
