package workload

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Rollout says what w's controller does with a changed pod template before the injected pods run,
// when that is more than "replaces them" (a Deployment's rollout): a StatefulSet or DaemonSet with
// `updateStrategy: OnDelete` waits until each pod is deleted, a partitioned StatefulSet replaces
// only ordinals from the partition up, a DaemonSet runs one pod per node. "" for a Deployment.
// selector is the pods' label selector, for the command the message suggests.
func Rollout(w Workload, selector string) string {
	switch t := w.Object().(type) {
	case *appsv1.StatefulSet:
		return statefulSetRollout(t, selector)
	case *appsv1.DaemonSet:
		if t.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
			return onDelete(w.Ref(), selector)
		}
		return fmt.Sprintf("%s: one pod per node, replaced node by node; up follows each injected pod as it starts", w.Ref())
	}
	return ""
}

func statefulSetRollout(s *appsv1.StatefulSet, selector string) string {
	ref := Ref{StatefulSet, s.Name}
	u := s.Spec.UpdateStrategy
	if u.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return onDelete(ref, selector)
	}
	replicas := int32(1)
	if s.Spec.Replicas != nil {
		replicas = *s.Spec.Replicas
	}
	if u.RollingUpdate != nil && u.RollingUpdate.Partition != nil && *u.RollingUpdate.Partition > 0 {
		p := *u.RollingUpdate.Partition
		if p >= replicas {
			return fmt.Sprintf("%s: waiting for pods that will not come: its rollingUpdate partition is %d and it has %d replicas, so no pod gets the injection; "+
				"lower the partition (`kubectl patch statefulset %s -p '{\"spec\":{\"updateStrategy\":{\"rollingUpdate\":{\"partition\":0}}}}'`) or delete a pod to recreate it",
				ref, p, replicas, s.Name)
		}
		return fmt.Sprintf("%s: its rollingUpdate partition is %d: only pods %s-%d and above get the injection (the others keep their template and are not synced); up follows them as they are replaced",
			ref, p, s.Name, p)
	}
	return fmt.Sprintf("%s: its pods are replaced one at a time, highest ordinal first; up follows each injected pod as it starts", ref)
}

func onDelete(ref Ref, selector string) string {
	return fmt.Sprintf("%s: waiting for its pods to be deleted: its updateStrategy is OnDelete, so injected pods appear only as the old ones go "+
		"(`kubectl delete pod -l %s`); up follows them as they appear", ref, selector)
}

// Condition is a status condition of a workload that says its rollout cannot progress.
type Condition struct {
	Type, Reason, Message string
}

// Stuck returns the conditions of w that say its rollout cannot progress: a Deployment's
// ReplicaFailure (quota, admission) or a passed progress deadline. StatefulSets and DaemonSets
// report such failures as events only.
func Stuck(w Workload) []Condition {
	d, ok := w.Object().(*appsv1.Deployment)
	if !ok {
		return nil
	}
	var out []Condition
	for _, c := range d.Status.Conditions {
		failed := (c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue) ||
			(c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded")
		if failed {
			out = append(out, Condition{Type: string(c.Type), Reason: c.Reason, Message: c.Message})
		}
	}
	return out
}
