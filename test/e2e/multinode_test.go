package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// node2Taint is the taint hack/cluster/node2.sh registers the second node with (NODE2_TAINT=1, the
// default): only pods that tolerate it run there, so the rest of the suite runs as on one node.
const node2Taint = "fastdev.dev/node2"

// node2 returns the second node's name. `make test` brings the cluster up with two nodes; a cluster
// brought up with one (`make cluster-up`) skips these tests, saying how to get the second node.
func (e *env) node2() string {
	e.t.Helper()
	name := e.clusterEnv()["FASTDEV_NODE2"]
	if name == "" {
		e.t.Skip("needs the second node: NODES=2 make cluster-up (make test brings the cluster up with it)")
	}
	return name
}

// onBothNodes lets a Deployment's pods run on the second node too and spreads them evenly over both
// (at most one more on either node, per rollout revision), as a team's cluster spreads replicas.
func onBothNodes(d *appsv1.Deployment) {
	spec := &d.Spec.Template.Spec
	spec.Tolerations = append(spec.Tolerations, corev1.Toleration{Key: node2Taint, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	spec.TopologySpreadConstraints = append(spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
		MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: d.Spec.Selector,
		// counted per ReplicaSet: the old pods of a rollout (up's injection) would skew the new ones
		MatchLabelKeys: []string{"pod-template-hash"}})
}

// podsByNode returns the running pods of app, by node name.
func (e *env) podsByNode(ns, app string) map[string][]string {
	by := map[string][]string{}
	for _, p := range e.pods(ns, app) {
		by[p.Spec.NodeName] = append(by[p.Spec.NodeName], p.Name)
	}
	for _, names := range by {
		sort.Strings(names)
	}
	return by
}

// TestTwoNodes: a Deployment's 4 replicas, 2 on each node: an edit reaches every replica, the node-2
// pods' replacements are converged, and `logs` groups the same panic from both nodes into one block.
func TestTwoNodes(t *testing.T) {
	e := newEnv(t)
	node2 := e.node2()
	ns := e.namespace(nil)
	e.applyExample(ns, "web-go", func(d *appsv1.Deployment) {
		four := int32(4)
		d.Spec.Replicas = &four
		onBothNodes(d)
	})
	dir := e.copyExamples()
	e.upAndConnect(ns, "web-go", dir, 4)
	var before map[string][]string
	e.eventually(rollout, "2 injected pods on each node", func() error {
		before = e.podsByNode(ns, "web-go")
		if len(before) != 2 || len(before[node2]) != 2 {
			return fmt.Errorf("pods by node: %v", before)
		}
		return nil
	})

	main := filepath.Join(dir, "web-go/src/main.go")
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	edited := e.panicSource(string(src))
	e.writeFile(main, edited, 0o644)
	e.serves(ns, "web-go", "/", "hello from web-go v2", 4, 2*rollout)

	// the node-2 pods go; their replacements start with the image's code and must be converged
	for _, name := range before[node2] {
		if err := e.cs.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.eventually(rollout, "2 new pods on node 2", func() error {
		now := e.podsByNode(ns, "web-go")[node2]
		if len(now) != 2 || now[0] == before[node2][0] || now[0] == before[node2][1] || now[1] == before[node2][0] || now[1] == before[node2][1] {
			return fmt.Errorf("node 2 runs %v (before: %v)", now, before[node2])
		}
		return nil
	})
	e.serves(ns, "web-go", "/", "hello from web-go v2", 4, 2*rollout)

	e.samePanicFromBothNodes(ns, dir, edited, node2)
}

// samePanicFromBothNodes crashes every replica of web-go (through the /panic handler panicSource
// adds) and checks `logs` shows the panic once, ×4, naming pods of both nodes.
func (e *env) samePanicFromBothNodes(ns, dir, src, node2 string) {
	line, _ := position(src, "func crash()")
	follow := e.start(dir, "logs", "-n", ns, "--errors", "--no-color", "--group-window", "5s")
	time.Sleep(3 * time.Second) // the follower opens its streams
	byNode := e.podsByNode(ns, "web-go")
	var wg sync.WaitGroup
	for _, p := range e.pods(ns, "web-go") {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _ = e.get(p.Name, ns, "/panic") // the process may die before it answers
		}()
	}
	wg.Wait()
	follow.waitOutput("Go panic ×4 in web-go-", 90*time.Second)
	follow.waitOutput(fmt.Sprintf("→ web-go/src/main.go:%d", line), 5*time.Second)

	e.eventually(60*time.Second, "one panic item naming the pods of both nodes", func() error {
		out, err := e.runJSON(dir, "logs", "-n", ns, "--errors", "-f=false", "-o", "json")
		if err != nil {
			return err
		}
		for _, it := range e.jsonItems(out) {
			if it.Kind != "error" || it.Type != "go-panic" || !strings.Contains(it.Text, "fastdev e2e: boom") {
				continue
			}
			pods := strings.Join(it.Pods, " ")
			for node, names := range byNode {
				for _, name := range names {
					if !strings.Contains(pods, name) {
						return fmt.Errorf("the panic's pods %v lack %s (node %s)", it.Pods, name, node)
					}
				}
			}
			if it.Count != 4 {
				return fmt.Errorf("panic ×%d, want ×4 (pods %v)", it.Count, it.Pods)
			}
			return nil
		}
		return fmt.Errorf("no panic item yet")
	})
}

// TestChaosTwoNodes is TestChaos's CI form with the pods spread over both nodes; at the end two
// replicas, one on each node, must hold the local tree.
func TestChaosTwoNodes(t *testing.T) {
	e := newEnv(t)
	node2 := e.node2()
	r := newChaosRun(e, onBothNodes)
	r.run()
	r.replicas = 2
	e.scale(r.ns, "web-static", 2)
	r.converged()
	if by := e.podsByNode(r.ns, "web-static"); len(by[node2]) != 1 || len(by) != 2 {
		t.Errorf("want one replica on each node, have %v", by)
	}
}

// TestDaemonSetTwoNodes: a DaemonSet that tolerates the second node's taint has one pod on each node;
// both take every edit, and the node-2 pod's replacement is converged.
func TestDaemonSetTwoNodes(t *testing.T) {
	e := newEnv(t)
	node2 := e.node2()
	ns := e.namespace(nil)
	ds := e.daemonSet("web-static", "agent")
	ds.Spec.Template.Spec.Tolerations = append(ds.Spec.Template.Spec.Tolerations,
		corev1.Toleration{Key: node2Taint, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	if _, err := e.cs.AppsV1().DaemonSets(ns).Create(context.Background(), ds, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating daemonset: %v", err)
	}
	dir := e.copyExamples()
	up := e.start(dir, "up", "-n", ns, "ds/agent", "--plain")
	up.waitOutput("daemonset/agent: one pod per node", rollout)
	pods := e.waitInjected(ns, "agent", 2)
	for _, p := range pods {
		up.waitOutput("daemonset/agent/"+p.Name+": connected", rollout)
	}
	if by := e.podsByNode(ns, "agent"); len(by) != 2 || len(by[node2]) != 1 {
		t.Fatalf("want one pod on each node, have %v", by)
	}
	e.writeFile(filepath.Join(dir, "web-static/www/index.html"), "daemonset edit on two nodes\n", 0o644)
	e.serves(ns, "agent", "/", "daemonset edit on two nodes", 2, 60*time.Second)

	old := e.podsByNode(ns, "agent")[node2][0]
	if err := e.cs.CoreV1().Pods(ns).Delete(context.Background(), old, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(rollout, "a new node-2 pod", func() error {
		if now := e.podsByNode(ns, "agent")[node2]; len(now) != 1 || now[0] == old {
			return fmt.Errorf("node 2 runs %v", now)
		}
		return nil
	})
	e.serves(ns, "agent", "/", "daemonset edit on two nodes", 2, rollout)
}
