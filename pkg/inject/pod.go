package inject

import corev1 "k8s.io/api/core/v1"

// SyncletRunning reports whether an injected pod's synclet container runs, as a native sidecar (an init
// container) or as a plain container on servers without native sidecars.
func SyncletRunning(pod *corev1.Pod) bool {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, s := range list {
			if s.Name == SyncletContainer {
				return s.State.Running != nil
			}
		}
	}
	return false
}
