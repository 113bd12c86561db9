package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestNetworkGuard proves, from routes and iptables rules (never by sending traffic), that nothing the
// cluster sends can leave the machine: the service range is routed to a port-less local bridge, and
// forwarded pod traffic to the uplink is rejected.
func TestNetworkGuard(t *testing.T) {
	e := newEnv(t)
	vars := e.clusterEnv()
	route, err := exec.Command("ip", "-4", "route", "show", vars["FASTDEV_SVC_CIDR"]).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(route), "dev "+vars["FASTDEV_GUARD_BRIDGE"]) {
		t.Errorf("service range %s is not routed to the guard bridge %s: %q", vars["FASTDEV_SVC_CIDR"], vars["FASTDEV_GUARD_BRIDGE"], route)
	}
	link, err := exec.Command("ip", "-d", "link", "show", vars["FASTDEV_GUARD_BRIDGE"]).Output()
	if err != nil || !strings.Contains(string(link), "bridge") {
		t.Errorf("guard bridge %s missing: %v %s", vars["FASTDEV_GUARD_BRIDGE"], err, link)
	}
	if ports, err := exec.Command("ip", "link", "show", "master", vars["FASTDEV_GUARD_BRIDGE"]).Output(); err != nil {
		t.Errorf("listing the guard bridge's ports: %v", err)
	} else if strings.TrimSpace(string(ports)) != "" {
		t.Errorf("guard bridge has ports, so service traffic could leave through them: %s", ports)
	}
	chain := vars["FASTDEV_GUARD_CHAIN"]
	for _, c := range []struct{ table, verdict string }{{"mangle", "DROP"}, {"filter", "REJECT"}} {
		if err := exec.Command("iptables", "-t", c.table, "-C", "FORWARD", "-s", "10.244.0.0/16", "-j", chain).Run(); err != nil {
			t.Errorf("%s FORWARD does not send pod traffic to %s: %v", c.table, chain, err)
		}
		if err := exec.Command("iptables", "-t", c.table, "-C", chain, "-o", vars["FASTDEV_UPLINK"], "-j", c.verdict).Run(); err != nil {
			t.Errorf("%s %s does not %s pod traffic leaving via the uplink %s: %v", c.table, chain, c.verdict, vars["FASTDEV_UPLINK"], err)
		}
	}
	// in mangle (which runs before filter, where kube-proxy prepends ACCEPT rules) the guard comes first
	rules, err := exec.Command("iptables", "-t", "mangle", "-S", "FORWARD").Output()
	if err != nil {
		t.Errorf("listing mangle FORWARD: %v", err)
	}
	for _, line := range strings.Split(string(rules), "\n") {
		if strings.HasPrefix(line, "-A FORWARD") {
			if !strings.Contains(line, chain) {
				t.Errorf("first mangle FORWARD rule is %q, not the guard", line)
			}
			break
		}
	}
	// pods must not get the host's resolver
	resolv, err := os.ReadFile(vars["FASTDEV_CLUSTER_STATE"] + "/conf/resolv.conf")
	if err != nil {
		t.Errorf("the pods' resolv.conf: %v", err)
	} else if strings.TrimSpace(string(resolv)) != "nameserver 127.0.0.1" {
		t.Errorf("pods' resolv.conf is %q, want only nameserver 127.0.0.1", resolv)
	}
}

// clusterEnv is what `hack/cluster/cluster.sh env` says about the local cluster (its state directory,
// network names, PKI, containerd socket).
func (e *env) clusterEnv() map[string]string {
	e.t.Helper()
	out, err := exec.Command(e.repoRoot+"/hack/cluster/cluster.sh", "env").Output()
	if err != nil {
		e.t.Fatal(err)
	}
	vars := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			vars[k] = v
		}
	}
	return vars
}

// TestClusterSmoke shows the local cluster does what the product needs: Deployments from locally
// imported images, logs, exec, port-forward, a sidecar sharing an emptyDir, and pod replacement.
func TestClusterSmoke(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", nil)
	e.applyExample(ns, "web-go", nil)
	e.waitAvailable(ns, "web-static", 120*time.Second)
	e.waitAvailable(ns, "web-go", 120*time.Second)

	pod := e.pods(ns, "web-go")[0].Name
	e.serves(ns, "web-go", "/", "hello from web-go v1", 1, 30*time.Second)
	e.serves(ns, "web-static", "/", "hello from web-static v1", 1, 30*time.Second)
	e.eventually(20*time.Second, "kubectl logs", func() error {
		if out := e.kubectl("-n", ns, "logs", pod); !strings.Contains(out, "listening") {
			return errorf("logs: %q", out)
		}
		return nil
	})
	if out := e.kubectl("-n", ns, "exec", pod, "--", "go", "version"); !strings.Contains(out, "go version") {
		t.Errorf("kubectl exec: %q", out)
	}

	// a sidecar sharing an emptyDir rolls out
	patch := `{"spec":{"template":{"spec":{"volumes":[{"name":"shared","emptyDir":{}}],"containers":[` +
		`{"name":"web","volumeMounts":[{"name":"shared","mountPath":"/www/shared"}]},` +
		`{"name":"sidecar","image":"fastdev.local/web-static:dev","imagePullPolicy":"Never",` +
		`"command":["/bin/sh","-c","while true; do date > /shared/now.txt; sleep 1; done"],` +
		`"volumeMounts":[{"name":"shared","mountPath":"/shared"}]}]}}}}`
	if _, err := e.cs.AppsV1().Deployments(ns).Patch(context.Background(), "web-static", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitAvailable(ns, "web-static", 120*time.Second)
	e.serves(ns, "web-static", "/shared/now.txt", "UTC", 1, 30*time.Second)

	// a deleted pod is replaced
	old := e.pods(ns, "web-static")[0].Name
	if err := e.cs.CoreV1().Pods(ns).Delete(context.Background(), old, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually(60*time.Second, "replacement pod", func() error {
		for _, p := range e.pods(ns, "web-static") {
			if p.Name != old && ready(&p) {
				return nil
			}
		}
		return errorf("no ready replacement yet")
	})
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
