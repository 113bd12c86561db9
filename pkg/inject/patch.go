package inject

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/auth"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// ErrNotInjected is returned by RestorePatch for a Deployment kubectl-fastdev has not injected.
var ErrNotInjected = errors.New("not injected by kubectl-fastdev")

// ErrChangedMeanwhile is returned when an injected Deployment's pod template was changed by someone
// else after injection: re-injecting or restoring would silently drop that change.
var ErrChangedMeanwhile = errors.New("pod template changed since kubectl-fastdev injected it")

// Plan is what `up` does to one Deployment.
type Plan struct {
	Patch   []byte // JSON patch; nil when the Deployment is already as wanted
	Keys    string // the public keys in force: an existing injection's with the Options' added
	Port    int
	Already bool // injected before this run
}

// InjectPatch is InjectPatchRaw for a typed workload (a Deployment, StatefulSet or DaemonSet; the
// tests' fixtures): its patch replaces the whole template with the injected one, so it applies
// whatever the server's template is, as long as the tested resourceVersion holds. Fields this
// client's types do not know are not in d and are not kept: `up`, `down` and the revert guard plan on
// the server's JSON with InjectPatchRaw, RestorePatchRaw and ReinjectPatchRaw instead.
func InjectPatch(d any, r *rules.Rules, opts Options) (*Plan, error) {
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("reading the workload to re-inject: %w", err)
	}
	return injectPatch(raw, r, opts, true)
}

// InjectPatchRaw returns the single JSON patch that injects the Deployment raw (its JSON as the API
// server sent it), or updates an older injection. The patch tests the resourceVersion, so a
// concurrent change makes it fail instead of being overwritten; it records the template's JSON as
// sent, and its operations touch only the paths injection adds or changes, so fields this client's
// types do not know (a newer server's) are kept. A Deployment already injected with the same result
// gives a nil Patch: re-running `up` changes nothing.
func InjectPatchRaw(raw []byte, r *rules.Rules, opts Options) (*Plan, error) {
	return injectPatch(raw, r, opts, false)
}

// injectPatch plans InjectPatchRaw; whole asks for one operation replacing the template (InjectPatch).
func injectPatch(raw []byte, r *rules.Rules, opts Options, whole bool) (*Plan, error) {
	d, err := parseDeployment(raw)
	if err != nil {
		return nil, err
	}
	rec, err := originalOf(d.annotations)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Keys: opts.Keys, Port: opts.Port}
	if rec != nil {
		plan.Already = true
		// a second machine adds its key; the keys already there stay, so their holders keep working
		plan.Keys = auth.Merge(d.annotations[AnnotationKeys], opts.Keys)
		// the port stays as injected so that pods keep the address the CLI dials
		if p, ok := injectedPort(d.annotations); ok {
			plan.Port = p
		}
		if !same(stripRaw(d.template, rec.typed), rec.doc) {
			return nil, fmt.Errorf("deployment %q: %w (someone edited or re-applied it during development): "+
				"run `kubectl fastdev down %s` to restore the recorded original, re-apply your change, then `up` again", d.name, ErrChangedMeanwhile, d.name)
		}
	} else if rec, err = originalOf(map[string]string{AnnotationOriginal: string(d.templateJSON)}); err != nil {
		return nil, err
	}
	o := opts
	o.Keys, o.Port = plan.Keys, plan.Port
	want, err := wantRaw(rec, r, o)
	if err != nil {
		return nil, err
	}
	keepServerFields(d.template, want)
	tmplOps := prefixed("/spec/template", diff("", d.template, want))
	if plan.Already && len(tmplOps) == 0 {
		return plan, nil
	}
	ops := []op{{Op: "test", Path: "/metadata/resourceVersion", Value: d.resourceVersion}}
	if !plan.Already {
		notes := map[string]string{AnnotationOriginal: string(d.templateJSON), AnnotationKeys: plan.Keys, AnnotationPort: fmt.Sprint(plan.Port)}
		if !d.hasAnnotations {
			ops = append(ops, op{Op: "add", Path: "/metadata/annotations", Value: notes})
		} else {
			for _, k := range []string{AnnotationOriginal, AnnotationKeys, AnnotationPort} {
				ops = append(ops, op{Op: "add", Path: "/metadata/annotations/" + pointer(k), Value: notes[k]})
			}
		}
	} else {
		ops = append(ops, keyOps(d.annotations, plan.Keys)...)
	}
	if whole {
		tmplOps = []op{{Op: "replace", Path: "/spec/template", Value: want}}
	}
	plan.Patch, err = json.Marshal(append(ops, tmplOps...))
	return plan, err
}

// keyOps records keys on an injected Deployment whose annotation differs, and removes a token an
// injection before protocol version 2 recorded.
func keyOps(annotations map[string]string, keys string) []op {
	var ops []op
	if annotations[AnnotationKeys] != keys {
		ops = append(ops, op{Op: "add", Path: "/metadata/annotations/" + pointer(AnnotationKeys), Value: keys})
	}
	if _, ok := annotations[AnnotationToken]; ok {
		ops = append(ops, op{Op: "remove", Path: "/metadata/annotations/" + pointer(AnnotationToken)})
	}
	return ops
}

// wantRaw is the injected template as JSON: planned on the typed original, laid onto the raw one.
func wantRaw(rec *recorded, r *rules.Rules, opts Options) (obj, error) {
	want, err := Template(rec.typed, r, opts)
	if err != nil {
		return nil, err
	}
	apps, _, err := appContainers(&rec.typed.Spec, r)
	if err != nil {
		return nil, err
	}
	doc, err := injectRaw(rec.doc, rec.typed, want, apps)
	if err != nil {
		return nil, fmt.Errorf("laying the injection onto the pod template's JSON: %w", err)
	}
	return doc, nil
}

// injectedPort reads the port recorded at injection. A value that does not start with a number (edited
// by hand) is not used: the template then gets opts.Port, which is also the port the CLI dials.
func injectedPort(annotations map[string]string) (int, bool) {
	v := annotations[AnnotationPort]
	if v == "" {
		return 0, false
	}
	var port int
	// Sscanf, not Atoi: a value with trailing text has always counted by its leading number
	if _, err := fmt.Sscanf(v, "%d", &port); err != nil {
		return 0, false
	}
	return port, true
}

// Strip removes from an injected template everything injection added, using the recorded original to
// unwrap the app's command. The result equals the original unless someone else changed the template.
func Strip(t, orig *corev1.PodTemplateSpec) *corev1.PodTemplateSpec {
	s := t.DeepCopy()
	ours := func(name string) bool { return strings.HasPrefix(name, "fastdev-") }
	s.Spec.InitContainers = slices.DeleteFunc(s.Spec.InitContainers, func(c corev1.Container) bool { return ours(c.Name) })
	s.Spec.Containers = slices.DeleteFunc(s.Spec.Containers, func(c corev1.Container) bool { return c.Name == SyncletContainer })
	s.Spec.Volumes = slices.DeleteFunc(s.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == ToolsVolume || ours(v.Name) })
	for i := range s.Spec.Containers {
		c := &s.Spec.Containers[i]
		c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == ToolsVolume || ours(m.Name) })
		if len(c.VolumeMounts) == 0 {
			c.VolumeMounts = nil
		}
		argv, ok := unwrapped(c.Command)
		if !ok {
			continue
		}
		for _, o := range orig.Spec.Containers {
			if o.Name != c.Name {
				continue
			}
			if slices.Equal(argv, append(append([]string{}, o.Command...), o.Args...)) ||
				(len(o.Command) == 0 && len(argv) >= len(o.Args) && slices.Equal(argv[len(argv)-len(o.Args):], o.Args)) {
				c.Command, c.Args = o.Command, o.Args
			}
		}
	}
	if len(s.Spec.InitContainers) == 0 {
		s.Spec.InitContainers = nil
	}
	if len(s.Spec.Volumes) == 0 {
		s.Spec.Volumes = nil
	}
	delete(s.Annotations, AnnotationInjected)
	if len(s.Annotations) == 0 && orig.Annotations == nil {
		s.Annotations = nil
	}
	return s
}

// RestorePatch is RestorePatchRaw, with force, for a typed Deployment (see InjectPatch).
func RestorePatch(d *appsv1.Deployment) ([]byte, error) {
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("deployment %q: %w", d.Name, err)
	}
	return RestorePatchRaw(raw, true)
}

// RestorePatchRaw returns the JSON patch that puts back the pod template recorded at injection and
// removes kubectl-fastdev's annotations, for the Deployment raw (its JSON as the API server sent
// it): the Deployment is then exactly as it was, fields this client's types do not know included.
// Its operations touch only what differs from the recorded template. Unless force is set, a template
// someone changed after injection is refused with ErrChangedMeanwhile (restoring would drop that
// change); a Deployment without a recorded original gives ErrNotInjected.
func RestorePatchRaw(raw []byte, force bool) ([]byte, error) {
	d, err := parseDeployment(raw)
	if err != nil {
		return nil, err
	}
	rec, err := originalOf(d.annotations)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, ErrNotInjected
	}
	if !force && !same(stripRaw(d.template, rec.typed), rec.doc) {
		return nil, ErrChangedMeanwhile
	}
	ops := append([]op{{Op: "test", Path: "/metadata/resourceVersion", Value: d.resourceVersion}},
		prefixed("/spec/template", diff("", d.template, rec.doc))...)
	for _, k := range []string{AnnotationOriginal, AnnotationKeys, AnnotationToken, AnnotationPort} {
		if _, ok := d.annotations[k]; ok {
			ops = append(ops, op{Op: "remove", Path: "/metadata/annotations/" + pointer(k)})
		}
	}
	return json.Marshal(ops)
}
