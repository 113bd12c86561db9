package inject

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// ErrMixed is returned by ReinjectPatchRaw for a template that still carries part of an injection
// which cannot be told apart from its last writer's changes (a wrapped command whose arguments
// someone changed, kubectl-fastdev's containers without the recorded original).
var ErrMixed = errors.New("the pod template mixes the injection with other changes that cannot be told apart")

// Reinjection is the revert guard's patch for one workload.
type Reinjection struct {
	Patch   []byte // JSON patch; nil when the workload is injected as wanted already
	Rollout bool   // the patch changes the pod template (not only the recorded original, keys or port)
}

// ReinjectPatchRaw plans the revert guard's re-injection of the workload raw (its JSON as the API
// server sent it, after another field manager wrote its template). The template as that writer left
// it, minus what injection adds, becomes the recorded original, so `down` then restores what the
// GitOps tool or the user now wants; the keys and port are opts' (those in force, so the running dev
// loop reaches the new pods). Like InjectPatchRaw it plans on the JSON: its operations touch only the
// paths injection adds or changes and test the resourceVersion, so fields this client's types do not
// know (a newer server's) are kept in the template and in the recorded original.
func ReinjectPatchRaw(raw []byte, r *rules.Rules, opts Options) (*Reinjection, error) {
	d, err := parseDeployment(raw)
	if err != nil {
		return nil, err
	}
	rec, err := originalOf(d.annotations)
	if err != nil {
		return nil, err
	}
	base := d.template
	if rec != nil {
		base = stripRaw(d.template, rec.typed)
	}
	baseJSON, err := json.Marshal(base)
	if err != nil {
		return nil, fmt.Errorf("reading %q's pod template: %w", d.name, err)
	}
	now, err := originalOf(map[string]string{AnnotationOriginal: string(baseJSON)})
	if err != nil {
		return nil, err
	}
	if Carries(now.typed) {
		return nil, ErrMixed
	}
	want, err := wantRaw(now, r, opts)
	if err != nil {
		return nil, err
	}
	keepServerFields(d.template, want)
	tmplOps := prefixed("/spec/template", diff("", d.template, want))
	noteOps := reinjectNotes(d, rec != nil && same(base, rec.doc), string(baseJSON), opts)
	if len(tmplOps) == 0 && len(noteOps) == 0 {
		return &Reinjection{}, nil
	}
	ops := append([]op{{Op: "test", Path: "/metadata/resourceVersion", Value: d.resourceVersion}}, noteOps...)
	patch, err := json.Marshal(append(ops, tmplOps...))
	return &Reinjection{Patch: patch, Rollout: len(tmplOps) > 0}, err
}

// reinjectNotes returns the operations that record original (unless recorded is true: the same
// template is recorded already) and opts' keys and port on d, and remove a token an injection
// before protocol version 2 recorded.
func reinjectNotes(d *rawDeployment, recorded bool, original string, opts Options) []op {
	notes := map[string]string{AnnotationOriginal: original, AnnotationKeys: opts.Keys, AnnotationPort: fmt.Sprint(opts.Port)}
	if !d.hasAnnotations {
		return []op{{Op: "add", Path: "/metadata/annotations", Value: notes}}
	}
	var ops []op
	for _, k := range []string{AnnotationOriginal, AnnotationKeys, AnnotationPort} {
		if have, ok := d.annotations[k]; (k == AnnotationOriginal && recorded) || (ok && have == notes[k]) {
			continue
		}
		ops = append(ops, op{Op: "add", Path: "/metadata/annotations/" + pointer(k), Value: notes[k]})
	}
	if _, ok := d.annotations[AnnotationToken]; ok {
		ops = append(ops, op{Op: "remove", Path: "/metadata/annotations/" + pointer(AnnotationToken)})
	}
	return ops
}
