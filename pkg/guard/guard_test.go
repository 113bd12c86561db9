package guard

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// step is one state fed to a guard and what it must decide.
type step struct {
	d        *appsv1.Deployment
	at       time.Duration // after t0
	reinject bool
	say      string // "" = says nothing
}

func run(t *testing.T, g *Guard, steps []step) {
	t.Helper()
	for i, s := range steps {
		dec := g.Observe(workload.Of(s.d), false, t0.Add(s.at))
		said := strings.Join(dec.Warnings, "\n")
		if dec.Reinject != s.reinject || (s.say == "") != (said == "") || !strings.Contains(said, s.say) {
			t.Fatalf("step %d: reinject %v, said %q; want reinject %v, saying %q", i, dec.Reinject, said, s.reinject, s.say)
		}
	}
}

// revertedBy is the injected Deployment d replaced by manager at time at (a new generation).
func revertedBy(d *appsv1.Deployment, manager string, at time.Duration) *appsv1.Deployment {
	r := replaced(d)
	wrote(r, manager, metav1.ManagedFieldsOperationUpdate, t0.Add(at))
	return r
}

// reinjected is d after up re-injected it (a new generation).
func reinjected(t *testing.T, d *appsv1.Deployment, in Injection, at time.Duration) *appsv1.Deployment {
	t.Helper()
	n := reinjectedBy(t, d, in)
	n.ManagedFields = d.ManagedFields
	wrote(n, self, metav1.ManagedFieldsOperationUpdate, t0.Add(at))
	return n
}

// TestGuardStopsFighting: two reverts within a minute are answered with a re-injection each, the
// third is not, and the guard then stays quiet about the template.
func TestGuardStopsFighting(t *testing.T) {
	in := injection(t, devKey)
	g := New(web, in, self)
	d0 := injected(t, original(), in)
	r1 := revertedBy(d0, "kubectl-replace", time.Second)
	status := r1.DeepCopy()
	status.ResourceVersion += "s" // the controller's status update: the same generation
	d1 := reinjected(t, r1, in, 2*time.Second)
	r2 := revertedBy(d1, "argocd-controller", 20*time.Second)
	d2 := reinjected(t, r2, in, 21*time.Second)
	r3 := revertedBy(d2, "argocd-controller", 40*time.Second)
	run(t, g, []step{
		{d: d0},
		{d: r1, at: time.Second, reinject: true, say: `field manager "kubectl-replace" (kubectl replace) removed the injection: re-injecting; a one-off kubectl command`},
		{d: status, at: time.Second},
		{d: d1, at: 2 * time.Second},
		{d: r2, at: 20 * time.Second, reinject: true, say: "argocd app set APP --sync-policy none"},
		{d: d2, at: 21 * time.Second},
		{d: r3, at: 40 * time.Second, say: `web: field manager "argocd-controller" (Argo CD) removed the injection, 3 times within a minute: up stops re-injecting web (other workloads are still served)`},
		{d: revertedBy(r3, "kubectl-replace", 50*time.Second), at: 50 * time.Second},
	})
	if g.Stopped() == "" {
		t.Error("the guard did not stop")
	}
}

// TestGuardSlowReverts: reverts more than a minute apart are each answered.
func TestGuardSlowReverts(t *testing.T) {
	in := injection(t, devKey)
	g := New(web, in, self)
	d := injected(t, original(), in)
	var steps []step
	for i := 1; i <= 5; i++ {
		at := time.Duration(i) * 35 * time.Second
		r := revertedBy(d, "helm", at)
		steps = append(steps, step{d: r, at: at, reinject: true, say: "Helm"})
		d = reinjected(t, r, in, at+time.Second)
		steps = append(steps, step{d: d, at: at + time.Second})
	}
	run(t, g, steps)
}

// TestGuardLeavesOtherKinds: a change by kubectl-fastdev itself (`down`) is not fought, an edit around
// the injection is re-recorded without counting as a revert, a broken injection is re-injected, and a
// template the rules no longer fit is reported and left alone.
func TestGuardLeavesOtherKinds(t *testing.T) {
	in := injection(t, devKey)
	d := injected(t, original(), in)
	down := revertedBy(d, self, time.Second)
	run(t, New(web, in, self), []step{{d: down, at: time.Second, say: "another kubectl fastdev command"}, {d: revertedBy(down, "helm", 5*time.Second), at: 5 * time.Second}})

	edited := d.DeepCopy()
	edited.Generation++
	edited.Spec.Template.Labels["version"] = "2"
	wrote(edited, "kubectl-rollout", metav1.ManagedFieldsOperationUpdate, t0.Add(time.Second))
	broken := d.DeepCopy()
	broken.Generation += 2
	broken.Spec.Template.Spec.Containers[0].Command = []string{"/bin/httpd", "-f", "-p", "8080"}
	wrote(broken, "kustomize-controller", metav1.ManagedFieldsOperationApply, t0.Add(2*time.Second))
	run(t, New(web, in, self), []step{
		{d: edited, at: time.Second, reinject: true, say: `field manager "kubectl-rollout" (kubectl) changed the pod template around the injection`},
		{d: broken, at: 2 * time.Second, reinject: true, say: "changed the pod template and broke the injection: re-injecting; to pause Flux"},
	})

	renamed := revertedBy(d, "kubectl-replace", time.Second)
	renamed.Spec.Template.Spec.Containers[0].Name = "app"
	run(t, New(web, in, self), []step{{d: renamed, at: time.Second, say: `no container "web"`}})
}

// TestGuardStuckRollout: each condition that stops a rollout is said once, with its message, and
// again only after it cleared.
func TestGuardStuckRollout(t *testing.T) {
	in := injection(t, devKey)
	g := New(web, in, self)
	d := injected(t, original(), in)
	quota := corev1.ConditionTrue
	failing := d.DeepCopy()
	failing.Status.Conditions = []appsv1.DeploymentCondition{
		{Type: appsv1.DeploymentReplicaFailure, Status: quota, Reason: "FailedCreate", Message: `pods "web-1" is forbidden: exceeded quota: q`},
		{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "ReplicaSetUpdated"},
	}
	deadline := failing.DeepCopy()
	deadline.Status.Conditions[1] = appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
		Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-1" has timed out progressing.`}
	run(t, g, []step{
		{d: d},
		{d: failing, say: `web: rollout stuck (ReplicaFailure, FailedCreate): pods "web-1" is forbidden: exceeded quota: q`},
		{d: failing},
		{d: deadline, say: `web: rollout stuck (Progressing, ProgressDeadlineExceeded): ReplicaSet "web-1" has timed out progressing.`},
		{d: deadline},
		{d: d},
		{d: failing, say: "exceeded quota"},
	})
	if dec := g.Observe(workload.Of(d), true, t0); len(dec.Warnings) != 1 || !strings.Contains(dec.Warnings[0], "deleted") || dec.Reinject {
		t.Errorf("deleted Deployment: %+v", dec)
	}
}

// TestGuardRecreated: a Deployment deleted and created again from its manifest (a GitOps tool that
// recreates on an immutable field) is re-injected like any revert.
func TestGuardRecreated(t *testing.T) {
	in := injection(t, devKey)
	g := New(web, in, self)
	d := injected(t, original(), in)
	recreated := original() // generation 1 again
	wrote(recreated, "kustomize-controller", "Apply", t0.Add(time.Second))
	run(t, g, []step{{d: d}, {d: recreated, at: time.Second, reinject: true, say: "Flux"}})
	if dec := g.Observe(workload.Of(d), true, t0.Add(2*time.Second)); dec.Reinject {
		t.Error("re-injecting a deleted Deployment")
	}
	run(t, g, []step{{d: recreated, at: 3 * time.Second, reinject: true, say: "kustomize.toolkit.fluxcd.io/reconcile=disabled"}})
}

// TestGuardVerifiesIntactGenerations: a new generation another manager wrote whose template this
// client sees intact may differ in fields it does not know: the guard asks for a check on the
// server's JSON, once per generation, and never for its own writes or a status update.
func TestGuardVerifiesIntactGenerations(t *testing.T) {
	in := injection(t, devKey)
	g := New(web, in, self)
	d := injected(t, original(), in)
	wrote(d, self, metav1.ManagedFieldsOperationUpdate, t0)
	if dec := g.Observe(workload.Of(d), false, t0); dec.Verify != "" || dec.Reinject || len(dec.Warnings) != 0 {
		t.Errorf("up's own injection: %+v", dec)
	}
	applied := d.DeepCopy()
	applied.Generation++ // a server-side apply that changed only a field the typed structs drop
	wrote(applied, "argocd-controller", metav1.ManagedFieldsOperationApply, t0.Add(time.Second))
	dec := g.Observe(workload.Of(applied), false, t0.Add(time.Second))
	if dec.Verify != `field manager "argocd-controller" (Argo CD)` || dec.Reinject || len(dec.Warnings) != 0 {
		t.Errorf("an intact generation by another manager: %+v", dec)
	}
	status := applied.DeepCopy()
	status.ResourceVersion += "s"
	if dec := g.Observe(workload.Of(status), false, t0.Add(2*time.Second)); dec.Verify != "" {
		t.Errorf("the same generation verified twice: %+v", dec)
	}
}
