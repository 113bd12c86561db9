package inject

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// rawDeployment is a Deployment as the API server sent it, with the parts injection reads.
type rawDeployment struct {
	name, resourceVersion string
	annotations           map[string]string
	hasAnnotations        bool
	template              obj // spec.template, every field kept
	templateJSON          []byte
}

// parseDeployment reads a Deployment's JSON without going through the typed structs, so fields
// newer than this client's k8s.io/api types stay in template.
func parseDeployment(raw []byte) (*rawDeployment, error) {
	var head struct {
		Metadata struct {
			Name            string            `json:"name"`
			ResourceVersion string            `json:"resourceVersion"`
			Annotations     map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec struct {
			Template json.RawMessage `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("reading the deployment as the API server sent it: %w", err)
	}
	d := &rawDeployment{name: head.Metadata.Name, resourceVersion: head.Metadata.ResourceVersion,
		annotations: head.Metadata.Annotations, hasAnnotations: head.Metadata.Annotations != nil}
	if len(head.Spec.Template) == 0 {
		return nil, fmt.Errorf("deployment %q has no spec.template", d.name)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, head.Spec.Template); err != nil {
		return nil, fmt.Errorf("reading deployment %q's pod template: %w", d.name, err)
	}
	d.templateJSON = b.Bytes()
	if err := decode(d.templateJSON, &d.template); err != nil || d.template == nil {
		return nil, fmt.Errorf("deployment %q's spec.template is not an object (%v)", d.name, err)
	}
	return d, nil
}

// recorded is the original pod template recorded at injection: as JSON (every field the server
// sent at the time) and in the typed form the injection is planned with.
type recorded struct {
	doc   obj
	typed *corev1.PodTemplateSpec
}

// originalOf reads the recorded original from a Deployment's annotations; nil when not injected.
// Releases before raw recording wrote the typed form's JSON: it reads the same way (it only lacks
// fields its client did not know, which its injection had dropped from the template anyway).
func originalOf(annotations map[string]string) (*recorded, error) {
	raw, ok := annotations[AnnotationOriginal]
	if !ok {
		return nil, nil
	}
	rec := &recorded{typed: &corev1.PodTemplateSpec{}}
	if err := decode([]byte(raw), &rec.doc); err != nil || rec.doc == nil {
		return nil, fmt.Errorf("annotation %s is not a pod template (%v): restore the Deployment from your manifests and remove the annotation", AnnotationOriginal, err)
	}
	if err := json.Unmarshal([]byte(raw), rec.typed); err != nil {
		return nil, fmt.Errorf("annotation %s is not a pod template (%v): restore the Deployment from your manifests and remove the annotation", AnnotationOriginal, err)
	}
	return rec, nil
}

// Original returns the pod template recorded at injection in typed form, or nil when the
// Deployment is not injected.
func Original(annotations map[string]string) (*corev1.PodTemplateSpec, error) {
	rec, err := originalOf(annotations)
	if rec == nil || err != nil {
		return nil, err
	}
	return rec.typed, nil
}

// injectRaw returns the raw original template plus exactly what Template added to its typed form o
// to make w: the items appended to the volume and container lists and to the app container's
// mounts, the app container's wrapped command (and no args), the injected annotation. Every other
// field of the original, known to this client or not, is left as the server sent it.
func injectRaw(orig obj, o, w *corev1.PodTemplateSpec, apps []int) (obj, error) {
	t := clone(orig).(obj)
	spec, err := child(t, "spec")
	if err != nil {
		return nil, err
	}
	if err := appendTyped(spec, "volumes", w.Spec.Volumes[len(o.Spec.Volumes):]); err != nil {
		return nil, err
	}
	if err := appendTyped(spec, "initContainers", w.Spec.InitContainers[len(o.Spec.InitContainers):]); err != nil {
		return nil, err
	}
	containers, err := items(spec, "containers")
	if err != nil {
		return nil, fmt.Errorf("the pod template's containers do not match its typed form (%v)", err)
	}
	for _, app := range apps {
		if app >= len(containers) {
			return nil, fmt.Errorf("the pod template's containers do not match its typed form")
		}
		c, wc := containers[app], &w.Spec.Containers[app]
		setList(c, "command", wc.Command)
		delete(c, "args")
		if err := appendTyped(c, "volumeMounts", wc.VolumeMounts[len(o.Spec.Containers[app].VolumeMounts):]); err != nil {
			return nil, err
		}
	}
	if err := appendTyped(spec, "containers", w.Spec.Containers[len(o.Spec.Containers):]); err != nil {
		return nil, err
	}
	meta, err := child(t, "metadata")
	if err != nil {
		return nil, err
	}
	notes, err := child(meta, "annotations")
	if err != nil {
		return nil, err
	}
	notes[AnnotationInjected] = w.Annotations[AnnotationInjected]
	return t, nil
}

// appendTyped appends typed items (in their JSON form) to the list o[key].
func appendTyped[T any](o obj, key string, added []T) error {
	if len(added) == 0 {
		return nil
	}
	list, err := items(o, key)
	if err != nil {
		return err
	}
	for _, a := range added {
		g, err := generic(a)
		if err != nil {
			return err
		}
		list = append(list, g.(obj))
	}
	setList(o, key, list)
	return nil
}

// managedKeys are the container fields injection writes. A field of an injected container outside
// them is the server's (a default a newer release adds) and is kept, so a re-run patches nothing.
var managedKeys = []string{"name", "image", "imagePullPolicy", "command", "args", "env", "volumeMounts",
	"resources", "restartPolicy", "securityContext", "terminationMessagePath", "terminationMessagePolicy"}

// keepServerFields copies into want's injected containers the fields the server added to the same
// containers in cur.
func keepServerFields(cur, want obj) {
	cs, _ := cur["spec"].(obj)
	ws, _ := want["spec"].(obj)
	if cs == nil || ws == nil {
		return
	}
	for _, key := range []string{"initContainers", "containers"} {
		have, _ := items(cs, key)
		wanted, _ := items(ws, key)
		for _, w := range wanted {
			name, _ := w["name"].(string)
			if !strings.HasPrefix(name, "fastdev-") {
				continue
			}
			for _, h := range have {
				if h["name"] != name {
					continue
				}
				for k, v := range h {
					if _, set := w[k]; !set && !slices.Contains(managedKeys, k) {
						w[k] = clone(v)
					}
				}
			}
		}
	}
}

// stripRaw returns t without everything injection adds, unwrapping the app's command with the
// recorded original: equal to the original unless someone else changed the template. Fields it does
// not touch, known to this client or not, stay as they are.
func stripRaw(t obj, orig *corev1.PodTemplateSpec) obj {
	s := clone(t).(obj)
	ours := func(o obj) bool {
		name, _ := o["name"].(string)
		return name == ToolsVolume || strings.HasPrefix(name, "fastdev-")
	}
	spec, _ := s["spec"].(obj)
	if spec != nil {
		filter(spec, "initContainers", ours)
		filter(spec, "containers", func(o obj) bool { return o["name"] == SyncletContainer })
		filter(spec, "volumes", ours)
		containers, _ := items(spec, "containers")
		for _, c := range containers {
			filter(c, "volumeMounts", ours)
			unwrap(c, orig)
		}
	}
	if meta, _ := s["metadata"].(obj); meta != nil {
		if notes, _ := meta["annotations"].(obj); notes != nil {
			delete(notes, AnnotationInjected)
			if len(notes) == 0 && orig.Annotations == nil {
				delete(meta, "annotations")
			}
		}
	}
	return s
}

// filter removes the items of the list o[key] that drop reports, and the key once the list is empty.
// A key that is not a list of objects is left alone.
func filter(o obj, key string, drop func(obj) bool) {
	list, err := items(o, key)
	if err != nil || o[key] == nil {
		return
	}
	setList(o, key, slices.DeleteFunc(list, drop))
}

// unwrap puts back the command and args of container c when injection wrapped them.
func unwrap(c obj, orig *corev1.PodTemplateSpec) {
	argv, ok := unwrapped(strs(c["command"]))
	if !ok {
		return
	}
	for _, o := range orig.Spec.Containers {
		if o.Name != c["name"] {
			continue
		}
		if slices.Equal(argv, append(slices.Clone(o.Command), o.Args...)) ||
			(len(o.Command) == 0 && len(argv) >= len(o.Args) && slices.Equal(argv[len(argv)-len(o.Args):], o.Args)) {
			setList(c, "command", o.Command)
			setList(c, "args", o.Args)
		}
	}
}
