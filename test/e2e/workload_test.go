package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
)

// exampleDeployment reads a sample app's Deployment (rules, selector, template) without creating it,
// for the tests that run the same app as another kind.
func (e *env) exampleDeployment(app string) *appsv1.Deployment {
	t := e.t
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(e.repoRoot, "manifests/examples", app, "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range e.documents(raw) {
		if doc.kind == "Deployment" {
			var d appsv1.Deployment
			if err := yaml.UnmarshalStrict(doc.raw, &d); err != nil {
				t.Fatal(err)
			}
			return &d
		}
	}
	t.Fatalf("no Deployment in the %s example", app)
	return nil
}

// createStatefulSet runs the sample app as a StatefulSet called name with a headless Service.
func (e *env) createStatefulSet(ns, app, name string, replicas int32, mutate func(*appsv1.StatefulSet)) {
	e.t.Helper()
	d := e.exampleDeployment(app)
	labels := map[string]string{"app": name}
	d.Spec.Template.Labels = labels
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: d.Annotations},
		Spec: appsv1.StatefulSetSpec{Replicas: &replicas, ServiceName: name, Template: d.Spec.Template,
			Selector: &metav1.LabelSelector{MatchLabels: labels}},
	}
	if mutate != nil {
		mutate(s)
	}
	ctx := context.Background()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone,
		Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}}}
	if _, err := e.cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		e.t.Fatalf("creating the headless service: %v", err)
	}
	if _, err := e.cs.AppsV1().StatefulSets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		e.t.Fatalf("creating statefulset: %v", err)
	}
}

// daemonSet is the sample app as a DaemonSet called name, as its manifest would have it.
func (e *env) daemonSet(app, name string) *appsv1.DaemonSet {
	e.t.Helper()
	d := e.exampleDeployment(app)
	labels := map[string]string{"app": name}
	d.Spec.Template.Labels = labels
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: d.Annotations},
		Spec:       appsv1.DaemonSetSpec{Template: d.Spec.Template, Selector: &metav1.LabelSelector{MatchLabels: labels}},
	}
}

// rawTemplateOf is rawTemplate for any kind ("statefulset", "daemonset").
func (e *env) rawTemplateOf(ns, kind, name string) (any, string) {
	e.t.Helper()
	out := e.kubectl("-n", ns, "get", kind, name, "-o", "json")
	var w struct {
		Spec struct {
			Template json.RawMessage `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(out), &w); err != nil {
		e.t.Fatalf("kubectl get -o json: %v\n%s", err, out)
	}
	dec := json.NewDecoder(strings.NewReader(string(w.Spec.Template)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		e.t.Fatal(err)
	}
	return v, string(w.Spec.Template)
}

// waitInjected waits until app has n running pods, each ready and injected.
func (e *env) waitInjected(ns, app string, n int) []corev1.Pod {
	e.t.Helper()
	var pods []corev1.Pod
	e.eventually(rollout, fmt.Sprintf("%d injected ready pod(s) of %s", n, app), func() error {
		pods = nil
		for _, p := range e.pods(ns, app) {
			if _, ok := p.Annotations[inject.AnnotationInjected]; ok && podReady(&p) {
				pods = append(pods, p)
			}
		}
		if len(pods) != n {
			return fmt.Errorf("%d injected ready pods", len(pods))
		}
		return nil
	})
	return pods
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// downRestores runs down for target and checks the pod template is the one before up, field for field.
func (e *env) downRestores(dir, ns, kind, name, target string, before any, beforeJSON string) {
	e.t.Helper()
	if out, err := e.run(dir, "down", "-n", ns, target); err != nil || !strings.Contains(out, target+": restored") {
		e.t.Fatalf("down %s: %v\n%s", target, err, out)
	}
	if after, afterJSON := e.rawTemplateOf(ns, kind, name); !reflect.DeepEqual(after, before) {
		e.t.Errorf("%s's pod template after up and down:\n%s\nwant, as before up:\n%s", target, afterJSON, beforeJSON)
	}
}

// TestStatefulSet: a StatefulSet of 2 replicas with a headless Service, developed by a user bound
// only to the Role of manifests/rbac.yaml: an edit reaches both pods, a deleted pod-0 comes back
// converged, the dev lease is the StatefulSet's own, and down restores the template exactly.
func TestStatefulSet(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	user, kc := e.newUser()
	e.bindRole(ns, user, e.developerRole())
	e.createStatefulSet(ns, "web-static", "db", 2, nil)
	e.eventually(rollout, "2 pods of statefulset db", func() error {
		if n := len(e.pods(ns, "db")); n != 2 {
			return fmt.Errorf("%d running pods", n)
		}
		return nil
	})
	before, beforeJSON := e.rawTemplateOf(ns, "statefulset", "db")
	dir := e.copyExamples()
	up := e.startAs(kc, dir, "up", "-n", ns, "sts/db", "--plain")
	up.waitOutput("statefulset/db: injected, rolling out", rollout)
	up.waitOutput("highest ordinal first", rollout)
	e.waitInjected(ns, "db", 2)
	up.waitOutput("statefulset/db/db-0: connected", rollout)
	up.waitOutput("statefulset/db/db-1: connected", rollout)
	lease, err := e.cs.CoordinationV1().Leases(ns).Get(context.Background(), kube.LeaseName("sts-db"), metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil {
		t.Errorf("no dev lease fastdev-sts-db while up runs: %v", err)
	}
	e.writeFile(filepath.Join(dir, "web-static/www/index.html"), "statefulset edit\n", 0o644)
	e.serves(ns, "db", "/", "statefulset edit", 2, 30*time.Second)

	// a new pod-0 (same name, new pod) is converged: it gets the edit the image does not have
	old := e.pods(ns, "db")[0]
	if err := e.cs.CoreV1().Pods(ns).Delete(context.Background(), "db-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(rollout, "a new db-0 serving the edit", func() error {
		for _, p := range e.pods(ns, "db") {
			if p.Name == "db-0" && p.UID != old.UID {
				if _, body, err := e.get(p.Name, ns, "/"); err != nil || !strings.Contains(body, "statefulset edit") {
					return fmt.Errorf("new db-0 answers %q (%v)", body, err)
				}
				return nil
			}
		}
		return fmt.Errorf("no new db-0 running yet")
	})
	out, err := e.runAs(kc, dir, "status", "-n", ns, "statefulset/db", "-o", "json")
	if err != nil || !strings.Contains(out, `"name": "statefulset/db"`) || !strings.Contains(out, `"injected": true`) {
		t.Errorf("status statefulset/db: %v\n%s", err, out)
	}
	if out, err := e.runAs(kc, dir, "run", "-n", ns, "sts/db", "--all", "--", "/bin/busybox", "cat", "/www/index.html"); err != nil ||
		strings.Count(out, "statefulset edit") != 2 {
		t.Errorf("run sts/db --all: %v\n%s", err, out)
	}
	if out, err := e.runAs(kc, dir, "logs", "-n", ns, "sts/db", "-f=false"); err != nil || !strings.Contains(out, "db-1") {
		t.Errorf("logs sts/db: %v\n%s", err, out)
	}
	up.stop()
	e.downRestores(dir, ns, "statefulset", "db", "statefulset/db", before, beforeJSON)
}

// TestStatefulSetOnDelete: up says that an OnDelete StatefulSet waits for its pods to be deleted,
// and follows the injected pod that replaces a deleted one; of a partitioned one, that only the
// ordinals from the partition up get the injection.
func TestStatefulSetOnDelete(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.createStatefulSet(ns, "web-static", "queue", 1, func(s *appsv1.StatefulSet) {
		s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	})
	e.eventually(rollout, "the pod of statefulset queue", func() error {
		if n := len(e.pods(ns, "queue")); n != 1 {
			return fmt.Errorf("%d running pods", n)
		}
		return nil
	})
	dir := e.copyExamples()
	up := e.start(dir, "up", "-n", ns, "statefulset/queue", "--plain")
	up.waitOutput("statefulset/queue: waiting for its pods to be deleted: its updateStrategy is OnDelete", rollout)
	up.waitOutput("kubectl delete pod -l app=queue", 5*time.Second)
	time.Sleep(3 * time.Second) // the controller leaves the old pod alone
	if p := e.pods(ns, "queue"); len(p) != 1 {
		t.Fatalf("%d pods of the OnDelete StatefulSet", len(p))
	} else if _, injected := p[0].Annotations[inject.AnnotationInjected]; injected {
		t.Fatal("the OnDelete StatefulSet replaced its pod by itself")
	}
	e.kubectl("-n", ns, "delete", "pod", "-l", "app=queue", "--wait=false")
	e.waitInjected(ns, "queue", 1)
	up.waitOutput("statefulset/queue/queue-0: connected", rollout)
	e.writeFile(filepath.Join(dir, "web-static/www/index.html"), "on-delete edit\n", 0o644)
	e.serves(ns, "queue", "/", "on-delete edit", 1, 30*time.Second)
	up.stop()

	one := int32(1)
	e.createStatefulSet(ns, "web-static", "part", 2, func(s *appsv1.StatefulSet) {
		s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: &one}
	})
	e.eventually(rollout, "the pods of statefulset part", func() error {
		if n := len(e.pods(ns, "part")); n != 2 {
			return fmt.Errorf("%d running pods", n)
		}
		return nil
	})
	up = e.start(dir, "up", "-n", ns, "sts/part", "--plain")
	up.waitOutput("statefulset/part: its rollingUpdate partition is 1: only pods part-1 and above get the injection", rollout)
	up.waitOutput("statefulset/part/part-1: connected", rollout)
	e.writeFile(filepath.Join(dir, "web-static/www/index.html"), "partition edit\n", 0o644)
	e.eventually(30*time.Second, "part-1 serving the edit", func() error {
		if _, body, err := e.get("part-1", ns, "/"); err != nil || !strings.Contains(body, "partition edit") {
			return fmt.Errorf("part-1 answers %q (%v)", body, err)
		}
		return nil
	})
	if _, body, err := e.get("part-0", ns, "/"); err != nil || strings.Contains(body, "partition edit") {
		t.Errorf("part-0, below the partition, answers %q (%v): it should keep the image's files", body, err)
	}
	up.stop()
}

// TestDaemonSet: an edit reaches the DaemonSet's pod (one per node it runs on); `kubectl replace -f`
// of its manifest is noticed and re-injected, and the new pod converged; down restores its template
// exactly.
func TestDaemonSet(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	ds := e.daemonSet("web-static", "agent")
	if _, err := e.cs.AppsV1().DaemonSets(ns).Create(context.Background(), ds, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating daemonset: %v", err)
	}
	manifest := filepath.Join(t.TempDir(), "agent.json")
	raw, err := json.Marshal(ds)
	if err != nil {
		t.Fatal(err)
	}
	e.writeFile(manifest, string(raw), 0o644)
	var nodes int
	e.eventually(rollout, "the pods of daemonset agent", func() error {
		ds, err := e.cs.AppsV1().DaemonSets(ns).Get(context.Background(), "agent", metav1.GetOptions{})
		if err != nil {
			return err
		}
		nodes = int(ds.Status.DesiredNumberScheduled)
		if n := len(e.pods(ns, "agent")); nodes == 0 || n != nodes {
			return fmt.Errorf("%d running pods of %d", n, nodes)
		}
		return nil
	})
	before, beforeJSON := e.rawTemplateOf(ns, "daemonset", "agent")
	dir := e.copyExamples()
	up := e.start(dir, "up", "-n", ns, "ds/agent", "--plain")
	up.waitOutput("daemonset/agent: one pod per node", rollout)
	for _, p := range e.waitInjected(ns, "agent", nodes) {
		up.waitOutput("daemonset/agent/"+p.Name+": connected", rollout)
	}
	e.writeFile(filepath.Join(dir, "web-static/www/index.html"), "daemonset edit\n", 0o644)
	e.serves(ns, "agent", "/", "daemonset edit", nodes, 30*time.Second)

	// a revert by `kubectl replace -f` of the manifest: named, re-injected, the new pods converged
	old := e.pods(ns, "agent")
	e.kubectl("-n", ns, "replace", "-f", manifest)
	up.waitOutput(`daemonset/agent: field manager "kubectl-replace" (kubectl replace) removed the injection: re-injecting`, rollout)
	up.waitOutput("daemonset/agent: re-injected, rolling out", rollout)
	e.eventually(rollout, "new pods of agent serving the edit", func() error {
		for _, p := range e.waitInjected(ns, "agent", nodes) {
			for _, o := range old {
				if o.UID == p.UID {
					return fmt.Errorf("pod %s not replaced yet", p.Name)
				}
			}
			if _, body, err := e.get(p.Name, ns, "/"); err != nil || !strings.Contains(body, "daemonset edit") {
				return fmt.Errorf("pod %s answers %q (%v)", p.Name, body, err)
			}
		}
		return nil
	})
	up.stop()
	e.downRestores(dir, ns, "daemonset", "agent", "daemonset/agent", before, beforeJSON)
}

// TestMixedKindsOneSession: `up sts/x deploy/y` serves a StatefulSet and a Deployment in one session,
// a StatefulSet and a Deployment of the same name have leases of their own, and bad targets are
// refused naming the valid forms.
func TestMixedKindsOneSession(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	// the same name as the Deployment below, pods of its own
	e.createStatefulSet(ns, "web-static", "web-go", 1, func(s *appsv1.StatefulSet) {
		s.Spec.Selector.MatchLabels = map[string]string{"app": "web-go-sts"}
		s.Spec.Template.Labels = map[string]string{"app": "web-go-sts"}
	})
	e.applyExample(ns, "web-go", nil)
	e.waitAvailable(ns, "web-go", rollout)
	dir := e.copyExamples()
	for _, bad := range []struct{ arg, want string }{
		{"replicaset/web-go", `unknown kind "replicaset"`},
		{"sts/", `target "sts/"`},
		{"sts/nope", `statefulset "nope" in namespace`},
	} {
		out, err := e.run(dir, "up", "-n", ns, bad.arg)
		if err == nil || !strings.Contains(out, bad.want) || !strings.Contains(out, "statefulset/NAME (sts)") {
			t.Errorf("up %s: %v, want an error with %q naming the valid forms:\n%s", bad.arg, err, bad.want, out)
		}
	}
	up := e.start(dir, "up", "-n", ns, "sts/web-go", "deploy/web-go", "--plain", "--no-forward")
	up.waitOutput("statefulset/web-go: injected", rollout)
	up.waitOutput("\nweb-go: injected", rollout)
	for _, l := range []string{"sts-web-go", "web-go"} {
		if _, err := e.cs.CoordinationV1().Leases(ns).Get(context.Background(), kube.LeaseName(l), metav1.GetOptions{}); err != nil {
			t.Errorf("dev lease %s: %v", kube.LeaseName(l), err)
		}
	}
	e.eventually(rollout, "both workloads connected", func() error {
		out := up.Output()
		if !strings.Contains(out, "statefulset/web-go/web-go-0: connected") {
			return fmt.Errorf("the StatefulSet's pod is not connected")
		}
		for _, p := range e.pods(ns, "web-go") {
			if _, ok := p.Annotations[inject.AnnotationInjected]; ok && strings.Contains(out, "\nweb-go/"+p.Name+": connected") {
				return nil
			}
		}
		return fmt.Errorf("the Deployment's pod is not connected")
	})
	up.stop()
	out, err := e.run(dir, "down", "-n", ns)
	lines := strings.Split(out, "\n")
	if err != nil || !slices.Contains(lines, "statefulset/web-go: restored") || !slices.Contains(lines, "web-go: restored") {
		t.Errorf("down of every injected workload: %v\n%s", err, out)
	}
}
