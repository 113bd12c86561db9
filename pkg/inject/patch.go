package inject

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// ErrNotInjected is returned by RestorePatch for a Deployment kubectl-fastdev has not injected.
var ErrNotInjected = errors.New("not injected by kubectl-fastdev")

// ErrChangedMeanwhile is returned when an injected Deployment's pod template was changed by someone
// else after injection: re-injecting or restoring would silently drop that change.
var ErrChangedMeanwhile = errors.New("pod template changed since kubectl-fastdev injected it")

type op struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// pointer escapes an annotation key for a JSON pointer.
func pointer(key string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
}

// Plan is what `up` does to one Deployment.
type Plan struct {
	Patch   []byte // JSON patch; nil when the Deployment is already as wanted
	Token   string // the token in force (an existing injection keeps its token)
	Port    int
	Already bool // injected before this run
}

// InjectPatch returns the single JSON patch that injects d (or updates an older injection). The patch
// tests the resourceVersion, so a concurrent change makes it fail instead of being overwritten. A
// Deployment already injected with the same result gives a nil Patch: re-running `up` changes nothing.
func InjectPatch(d *appsv1.Deployment, r *rules.Rules, opts Options) (*Plan, error) {
	orig, err := Original(d.Annotations)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Token: opts.Token, Port: opts.Port}
	if orig != nil {
		plan.Already = true
		if t := d.Annotations[AnnotationToken]; t != "" {
			plan.Token = t
		}
		// the port stays as injected so that pods keep the address the CLI dials
		if p, ok := injectedPort(d.Annotations); ok {
			plan.Port = p
		}
		if !equality.Semantic.DeepEqual(Strip(&d.Spec.Template, orig), orig) {
			return nil, fmt.Errorf("deployment %q: %w (someone edited or re-applied it during development): "+
				"run `kubectl fastdev down %s` to restore the recorded original, re-apply your change, then `up` again", d.Name, ErrChangedMeanwhile, d.Name)
		}
	} else {
		orig = d.Spec.Template.DeepCopy()
	}
	o := opts
	o.Token, o.Port = plan.Token, plan.Port
	want, err := Template(orig, r, o)
	if err != nil {
		return nil, err
	}
	if plan.Already && equality.Semantic.DeepEqual(&d.Spec.Template, want) {
		return plan, nil
	}
	ops := []op{{Op: "test", Path: "/metadata/resourceVersion", Value: d.ResourceVersion}}
	if !plan.Already {
		origJSON, err := json.Marshal(orig)
		if err != nil {
			return nil, fmt.Errorf("recording the original pod template: %w", err)
		}
		notes := map[string]string{AnnotationOriginal: string(origJSON), AnnotationToken: plan.Token, AnnotationPort: fmt.Sprint(plan.Port)}
		if d.Annotations == nil {
			ops = append(ops, op{Op: "add", Path: "/metadata/annotations", Value: notes})
		} else {
			for k, v := range notes {
				ops = append(ops, op{Op: "add", Path: "/metadata/annotations/" + pointer(k), Value: v})
			}
		}
	}
	ops = append(ops, op{Op: "replace", Path: "/spec/template", Value: want})
	plan.Patch, err = json.Marshal(ops)
	return plan, err
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
	wrapper := []string{syncletBin, "supervise", "--"}
	for i := range s.Spec.Containers {
		c := &s.Spec.Containers[i]
		c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == ToolsVolume || ours(m.Name) })
		if len(c.VolumeMounts) == 0 {
			c.VolumeMounts = nil
		}
		if len(c.Command) < len(wrapper) || !slices.Equal(c.Command[:len(wrapper)], wrapper) {
			continue
		}
		for _, o := range orig.Spec.Containers {
			if o.Name != c.Name {
				continue
			}
			argv := c.Command[len(wrapper):]
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

// RestorePatch returns the JSON patch that puts back the pod template recorded at injection and removes
// kubectl-fastdev's annotations: the Deployment is then exactly as it was.
func RestorePatch(d *appsv1.Deployment) ([]byte, error) {
	orig, err := Original(d.Annotations)
	if err != nil {
		return nil, err
	}
	if orig == nil {
		return nil, ErrNotInjected
	}
	ops := []op{
		{Op: "test", Path: "/metadata/resourceVersion", Value: d.ResourceVersion},
		{Op: "replace", Path: "/spec/template", Value: orig},
	}
	for _, k := range []string{AnnotationOriginal, AnnotationToken, AnnotationPort} {
		if _, ok := d.Annotations[k]; ok {
			ops = append(ops, op{Op: "remove", Path: "/metadata/annotations/" + pointer(k)})
		}
	}
	return json.Marshal(ops)
}
