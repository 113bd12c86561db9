package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// noticed is how soon `up` must name who reverted the injection: "within a few seconds", with slack for
// a machine shared with other tests.
const noticed = 10 * time.Second

// manifestFile writes web-static's Deployment as its manifest says, after mutate (may be nil), to a
// file for kubectl: what a GitOps tool or `kubectl replace -f` writes back.
func (e *env) manifestFile(mutate func(*appsv1.Deployment)) string {
	t := e.t
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(e.repoRoot, "manifests/examples/web-static/deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range e.documents(raw) {
		if doc.kind != "Deployment" {
			continue
		}
		var d appsv1.Deployment
		if err := yaml.UnmarshalStrict(doc.raw, &d); err != nil {
			t.Fatal(err)
		}
		if mutate != nil {
			mutate(&d)
		}
		// as a manifest has it: no status, no creationTimestamp
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&d)
		if err != nil {
			t.Fatal(err)
		}
		delete(obj, "status")
		unstructured.RemoveNestedField(obj, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(obj, "spec", "template", "metadata", "creationTimestamp")
		out, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "deployment.yaml")
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	t.Fatal("no Deployment in the web-static manifest")
	return ""
}

// reverted runs a revert (a kubectl command), checks that `up` names manager and its tool within a few
// seconds, and waits for the n-th re-injection.
func (e *env) reverted(up *proc, manager, tool string, n int, kubectl ...string) {
	t := e.t
	t.Helper()
	start := time.Now()
	e.kubectl(kubectl...)
	who := `web-static: field manager "` + manager + `" (` + tool + `)`
	up.waitOutput(who, noticed)
	t.Logf("%s named %s after %s", strings.Join(kubectl[2:4], " "), manager, time.Since(start).Round(time.Millisecond))
	e.eventually(noticed, "re-injection", func() error {
		if c := strings.Count(up.Output(), "web-static: re-injected, rolling out"); c < n {
			return errorf("%d re-injections", c)
		}
		return nil
	})
}

// TestRevertReinjects: `kubectl replace -f` of the manifest and a server-side apply by another field
// manager (as Argo CD syncs) each remove the injection while `up` runs; `up` names the manager and how to
// pause it, re-injects, and the next edit reaches the pod. `down` then restores the template the last
// apply wanted (re-applying it changes nothing), and `up` does not fight `down`.
func TestRevertReinjects(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", nil)
	dir := e.copyExamples()
	www := filepath.Join(dir, "web-static/www")
	up := e.upAndConnect(ns, "web-static", dir, 1, "--plain")
	e.serves(ns, "web-static", "/", "hello from web-static v1", 1, 30*time.Second)

	e.reverted(up, "kubectl-replace", "kubectl replace", 1, "-n", ns, "replace", "-f", e.manifestFile(nil))
	e.waitAvailable(ns, "web-static", rollout)
	e.waitConnected(up, ns, "web-static", 1)
	e.writeFile(filepath.Join(www, "index.html"), "edit after kubectl replace\n", 0o644)
	e.serves(ns, "web-static", "/", "edit after kubectl replace", 1, 20*time.Second)

	// the GitOps tool applies a new version of the manifest: that is what `down` must bring back
	v2 := e.manifestFile(func(d *appsv1.Deployment) { d.Spec.Template.Labels["version"] = "2" })
	apply := []string{"-n", ns, "apply", "--server-side", "--field-manager=argocd-controller", "--force-conflicts", "-f", v2}
	e.reverted(up, "argocd-controller", "Argo CD", 2, apply...)
	// a new template, so new pods: the edit must reach a pod started after the re-injection
	e.waitAvailable(ns, "web-static", rollout)
	e.waitConnected(up, ns, "web-static", 1)
	if ps := e.pods(ns, "web-static"); len(ps) != 1 || ps[0].Labels["version"] != "2" {
		t.Fatalf("want one pod of the synced template (label version=2) after the re-injection, got %d: %v", len(ps), ps)
	}
	if !strings.Contains(up.Output(), "argocd app set APP --sync-policy none") {
		t.Errorf("up did not say how to pause Argo CD:\n%s", up.Output())
	}
	e.writeFile(filepath.Join(www, "index.html"), "edit after the argocd sync\n", 0o644)
	e.serves(ns, "web-static", "/", "edit after the argocd sync", 1, 20*time.Second)

	// up still runs: down ends its session only when told to (--force)
	if out, err := e.run(dir, "down", "-n", ns, "web-static", "--force"); err != nil || !strings.Contains(out, "web-static: restored") {
		t.Fatalf("down: %v\n%s", err, out)
	}
	up.waitOutput("another kubectl fastdev command", noticed)
	restored := e.waitAvailable(ns, "web-static", rollout)
	if restored.Spec.Template.Labels["version"] != "2" {
		t.Errorf("down restored the template from before the sync: labels %v", restored.Spec.Template.Labels)
	}
	e.kubectl(apply...)
	after, err := e.cs.AppsV1().Deployments(ns).Get(context.Background(), "web-static", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Generation != restored.Generation {
		t.Errorf("re-applying the synced manifest after down changed the pod template (generation %d -> %d): down did not restore it exactly",
			restored.Generation, after.Generation)
	}
	e.serves(ns, "web-static", "/", "hello from web-static v1", 1, rollout)
	if strings.Count(up.Output(), "re-injected, rolling out") != 2 {
		t.Errorf("up re-injected after down:\n%s", up.Output())
	}
}

// TestRevertGivesUp: three reverts within a minute make `up` stop re-injecting that Deployment and say
// so, while edits keep reaching the other Deployment it serves.
func TestRevertGivesUp(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", nil)
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		d.Name = "other"
		d.Spec.Selector.MatchLabels["app"] = "other"
		d.Spec.Template.Labels["app"] = "other"
	})
	dir := e.copyExamples()
	up := e.start(dir, "up", "-n", ns, "web-static", "other", "--plain")
	e.waitConnected(up, ns, "web-static", 1)
	e.waitConnected(up, ns, "other", 1)
	manifest := e.manifestFile(nil)
	start := time.Now()
	for i := 1; i <= 2; i++ {
		e.reverted(up, "kubectl-replace", "kubectl replace", i, "-n", ns, "replace", "-f", manifest)
	}
	e.kubectl("-n", ns, "replace", "-f", manifest)
	up.waitOutput("3 times within a minute: up stops re-injecting web-static (other workloads are still served)", noticed)
	if took := time.Since(start); took > time.Minute {
		t.Logf("the three reverts took %s: the give-up rule counts reverts within a minute", took)
	}
	time.Sleep(3 * time.Second) // room for a re-injection that must not come
	d, err := e.cs.AppsV1().Deployments(ns).Get(context.Background(), "web-static", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Spec.Template.Spec.InitContainers) != 0 || strings.Count(up.Output(), "web-static: re-injected") != 2 {
		t.Errorf("up re-injected after giving up:\n%s", up.Output())
	}
	e.writeFile(filepath.Join(dir, "web-static/www/index.html"), "other is still served\n", 0o644)
	e.serves(ns, "other", "/", "other is still served", 1, 20*time.Second)
	e.serves(ns, "web-static", "/", "hello from web-static v1", 1, rollout)
}

// TestRolloutStuck: in a namespace whose ResourceQuota allows one pod, the injection's rollout cannot
// create its new pod, then passes its progress deadline; `up` says each once, with the condition's
// message.
func TestRolloutStuck(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "one-pod"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")}}}
	if _, err := e.cs.CoreV1().ResourceQuotas(ns).Create(context.Background(), quota, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.applyExample(ns, "web-static", nil)
	e.waitAvailable(ns, "web-static", rollout)
	// a short progress deadline, so that the stuck injection's rollout also passes it during the test
	e.kubectl("-n", ns, "patch", "deployment", "web-static", "--type=merge", "-p", `{"spec":{"progressDeadlineSeconds":3}}`)
	up := e.start(e.copyExamples(), "up", "-n", ns, "web-static", "--plain")
	for stuck, message := range map[string]string{
		"web-static: rollout stuck (ReplicaFailure, FailedCreate): ":          "exceeded quota: one-pod",
		"web-static: rollout stuck (Progressing, ProgressDeadlineExceeded): ": "has timed out progressing",
	} {
		up.waitOutput(stuck, rollout)
		line := up.Output()[strings.Index(up.Output(), stuck):]
		line = line[:strings.IndexByte(line, '\n')+1]
		if !strings.Contains(line, message) {
			t.Errorf("the stuck rollout's line does not carry the condition's message %q: %q", message, line)
		}
	}
	time.Sleep(5 * time.Second) // the controller retries the creation meanwhile
	if n := strings.Count(up.Output(), "rollout stuck"); n != 2 {
		t.Errorf("%d lines about the stuck rollout, want one per condition:\n%s", n, up.Output())
	}
}
