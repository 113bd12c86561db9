package inject

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestCarries: an injected template carries the injection, the original does not, and each single
// piece left behind (as a partial revert leaves it) still counts.
func TestCarries(t *testing.T) {
	d := deployment()
	injected, err := Template(&d.Spec.Template, mustRules(t, webRules), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !Carries(injected) {
		t.Error("the injected template does not carry the injection")
	}
	if Carries(&d.Spec.Template) {
		t.Error("the original template carries the injection")
	}
	for name, leave := range map[string]func(t *corev1.PodTemplateSpec){
		"annotation": func(t *corev1.PodTemplateSpec) { t.Annotations = map[string]string{AnnotationInjected: "img"} },
		"sidecar": func(t *corev1.PodTemplateSpec) {
			t.Spec.Containers = append(t.Spec.Containers, corev1.Container{Name: SyncletContainer})
		},
		"init": func(t *corev1.PodTemplateSpec) { t.Spec.InitContainers = []corev1.Container{{Name: InstallContainer}} },
		"tools volume": func(t *corev1.PodTemplateSpec) {
			t.Spec.Volumes = append(t.Spec.Volumes, corev1.Volume{Name: ToolsVolume})
		},
		"sync volume": func(t *corev1.PodTemplateSpec) {
			t.Spec.Volumes = append(t.Spec.Volumes, corev1.Volume{Name: syncVolumePrefix + "0"})
		},
		"wrapped command": func(t *corev1.PodTemplateSpec) {
			t.Spec.Containers[0].Command = append([]string{syncletBin, "supervise", "--"}, t.Spec.Containers[0].Command...)
		},
	} {
		tpl := d.Spec.Template.DeepCopy()
		leave(tpl)
		if !Carries(tpl) {
			t.Errorf("%s left behind: not seen", name)
		}
	}
}
