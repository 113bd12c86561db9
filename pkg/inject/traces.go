package inject

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Carries reports whether t holds any part of an injection: the injected annotation, a container or
// volume of kubectl-fastdev's, or an app command wrapped by the supervisor. A template reverted by
// another tool carries none; one that a server-side apply reset only in part still carries some.
func Carries(t *corev1.PodTemplateSpec) bool {
	if _, ok := t.Annotations[AnnotationInjected]; ok {
		return true
	}
	for _, list := range [][]corev1.Container{t.Spec.InitContainers, t.Spec.Containers} {
		for _, c := range list {
			if strings.HasPrefix(c.Name, "fastdev-") || (len(c.Command) > 0 && c.Command[0] == syncletBin) {
				return true
			}
		}
	}
	for _, v := range t.Spec.Volumes {
		if v.Name == ToolsVolume || strings.HasPrefix(v.Name, syncVolumePrefix) {
			return true
		}
	}
	return false
}
