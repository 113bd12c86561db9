package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
)

// rawTemplate is the Deployment's spec.template as `kubectl get -o json` shows it, decoded without
// any typed struct (numbers as written).
func (e *env) rawTemplate(ns, name string) (any, string) {
	e.t.Helper()
	out := e.kubectl("-n", ns, "get", "deployment", name, "-o", "json")
	var d struct {
		Spec struct {
			Template json.RawMessage `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		e.t.Fatalf("kubectl get -o json: %v\n%s", err, out)
	}
	dec := json.NewDecoder(strings.NewReader(string(d.Spec.Template)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		e.t.Fatal(err)
	}
	return v, string(d.Spec.Template)
}

// TestUpDownRestoresRawTemplate: after `up` and `down`, the pod template's JSON as the API server
// sends it is the one before `up`, field for field (not only the fields this client's types know).
func TestUpDownRestoresRawTemplate(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		// fields a typed round trip could lose or reshape: an empty-valued map, an int-or-string port,
		// a quantity, a projected volume
		d.Spec.Template.Annotations = map[string]string{"note": ""}
		c := &d.Spec.Template.Spec.Containers[0]
		c.Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("0.5Gi")}}
		c.VolumeMounts = []corev1.VolumeMount{{Name: "info", MountPath: "/etc/info"}}
		d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
			Items: []corev1.DownwardAPIVolumeFile{{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}}}
	})
	e.waitAvailable(ns, "web-static", rollout)
	before, beforeJSON := e.rawTemplate(ns, "web-static")
	dir := e.copyExamples()
	up := e.upAndConnect(ns, "web-static", dir, 1)
	up.stop()
	d, err := e.cs.AppsV1().Deployments(ns).Get(context.Background(), "web-static", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var recorded any
	dec := json.NewDecoder(strings.NewReader(d.Annotations[inject.AnnotationOriginal]))
	dec.UseNumber()
	if err := dec.Decode(&recorded); err != nil || !reflect.DeepEqual(recorded, before) {
		t.Errorf("recorded original (%v):\n%s\nwant the template as the server sent it:\n%s", err, d.Annotations[inject.AnnotationOriginal], beforeJSON)
	}
	if out, err := e.run(dir, "down", "-n", ns, "web-static"); err != nil || !strings.Contains(out, "web-static: restored") {
		t.Fatalf("down: %v\n%s", err, out)
	}
	after, afterJSON := e.rawTemplate(ns, "web-static")
	if !reflect.DeepEqual(after, before) {
		t.Errorf("pod template after up and down:\n%s\nwant, as before up:\n%s", afterJSON, beforeJSON)
	}
	e.waitAvailable(ns, "web-static", rollout)
}

// TestResourceQuotaNamespace: in a namespace whose ResourceQuota covers requests and limits of cpu
// and memory (so every container must set them), the injected pod is admitted, an edit lands, and
// the rules' synclet.resources reach the injected containers.
func TestResourceQuotaNamespace(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	hard := corev1.ResourceList{}
	for name, v := range map[corev1.ResourceName]string{corev1.ResourceRequestsCPU: "2", corev1.ResourceRequestsMemory: "2Gi",
		corev1.ResourceLimitsCPU: "4", corev1.ResourceLimitsMemory: "4Gi"} {
		hard[name] = resource.MustParse(v)
	}
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "compute"}, Spec: corev1.ResourceQuotaSpec{Hard: hard}}
	if _, err := e.cs.CoreV1().ResourceQuotas(ns).Create(context.Background(), quota, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// the quota is in force: a container without requests and limits is refused (as the injected
	// ones were before they had any)
	e.eventually(30*time.Second, "the quota refusing a pod without resources", func() error {
		bare := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bare"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "fastdev.local/web-static:dev"}}}}
		_, err := e.cs.CoreV1().Pods(ns).Create(context.Background(), bare, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil || !strings.Contains(err.Error(), "must specify") {
			return fmt.Errorf("pod without resources: %v", err)
		}
		return nil
	})
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		d.Annotations["fastdev.dev/rules"] += "synclet:\n  resources:\n    limits: {memory: 192Mi}\n"
		d.Spec.Template.Spec.Containers[0].Resources = corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("20m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		}
	})
	e.waitAvailable(ns, "web-static", rollout)
	dir := e.copyExamples()
	e.upAndConnect(ns, "web-static", dir, 1)
	e.writeFile(filepath.Join(dir, "web-static/www/index.html"), "edit under a quota\n", 0o644)
	e.serves(ns, "web-static", "/", "edit under a quota", 1, 20*time.Second)
	pod := e.pods(ns, "web-static")[0]
	if len(pod.Spec.InitContainers) != 3 {
		t.Fatalf("pod %s has %d init containers, want install, seed and synclet", pod.Name, len(pod.Spec.InitContainers))
	}
	for _, c := range pod.Spec.InitContainers {
		r := c.Resources
		if r.Requests.Cpu().String() != "10m" || r.Requests.Memory().String() != "16Mi" || r.Limits.Cpu().String() != "1" || r.Limits.Memory().String() != "192Mi" {
			t.Errorf("%s resources: requests %v, limits %v; want the defaults with the rules' limits.memory 192Mi", c.Name, r.Requests, r.Limits)
		}
	}
}

// TestReservedVolumeName: a volume of the app named like kubectl-fastdev's own (which `down` would
// remove) is refused by `up` with its name and the fix, and the Deployment is left as it was.
func TestReservedVolumeName(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	before := e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "fastdev-cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		c := &d.Spec.Template.Spec.Containers[0]
		c.VolumeMounts = []corev1.VolumeMount{{Name: "fastdev-cache", MountPath: "/cache"}}
	})
	out, err := e.run(e.copyExamples(), "up", "-n", ns, "web-static")
	if err == nil {
		t.Fatalf("up succeeded:\n%s", out)
	}
	for _, want := range []string{`volume "fastdev-cache"`, `"fastdev-*"`, "rename it", "Deployment's manifest"} {
		if !strings.Contains(out, want) {
			t.Errorf("error does not mention %q:\n%s", want, out)
		}
	}
	after, err := e.cs.AppsV1().Deployments(ns).Get(context.Background(), "web-static", metav1.GetOptions{})
	if err != nil || after.Generation != before.Generation || after.Annotations[inject.AnnotationOriginal] != "" {
		t.Errorf("the Deployment changed: generation %d -> %d, %v", before.Generation, after.Generation, err)
	}
}
