// Package after checks, once `cluster.sh down` has run, that the local cluster left nothing behind.
// hack/test.sh runs it after tearing down a cluster it brought up.
package after

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestClusterLeftNothing(t *testing.T) {
	if os.Getenv("FASTDEV_AFTER_DOWN") == "" {
		t.Skip("runs after `hack/cluster/cluster.sh down` (hack/test.sh sets FASTDEV_AFTER_DOWN)")
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "../../../hack/cluster/cluster.sh")
	out, err := exec.Command(script, "env").Output()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			env[k] = v
		}
	}
	state := env["FASTDEV_CLUSTER_STATE"]

	// pgrep exits 1 when nothing matches, and ip prints nothing for a route that is gone: their output,
	// not their exit status, says whether something was left
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"} {
		if out, _ := exec.Command("pgrep", "-x", name).Output(); len(out) > 0 {
			t.Errorf("process %s still running: pids %s", name, strings.Fields(string(out)))
		}
	}
	if out, _ := exec.Command("pgrep", "-f", "containerd --config "+state).Output(); len(out) > 0 {
		t.Errorf("the harness's containerd still runs: %s", out)
	}
	if out, _ := exec.Command("pgrep", "-f", "containerd-shim-runc-v2 .*"+env["FASTDEV_CONTAINERD_SOCK"]).Output(); len(out) > 0 {
		t.Errorf("container shims still run: %s", out)
	}
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(l); len(f) > 1 && (strings.HasPrefix(f[1], state+"/") || strings.HasPrefix(f[1], "/run/netns/cni-")) {
			t.Errorf("mount left: %s", f[1])
		}
	}
	cg, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods") // Glob fails only on a malformed pattern
	if more, _ := filepath.Glob("/sys/fs/cgroup/kubepods*"); len(more) > 0 {
		cg = append(cg, more...)
	}
	if len(cg) > 0 {
		t.Errorf("cgroups left: %v", cg)
	}
	if n2cg, _ := filepath.Glob("/sys/fs/cgroup/*/" + env["FASTDEV_NODE2_CGROUP"]); len(n2cg) > 0 {
		t.Errorf("the second node's cgroups left: %v", n2cg)
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), env["FASTDEV_NODE2_NETNS"]) {
		t.Errorf("the second node's network namespace %s left", env["FASTDEV_NODE2_NETNS"])
	}
	for _, link := range []string{"cni0", env["FASTDEV_GUARD_BRIDGE"], env["FASTDEV_NODE2_LINK"]} {
		if exec.Command("ip", "link", "show", link).Run() == nil {
			t.Errorf("network link %s left", link)
		}
	}
	if out, _ := exec.Command("ip", "-4", "route", "show", env["FASTDEV_SVC_CIDR"]).Output(); len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("route left: %s", out)
	}
	for _, ipt := range []string{"iptables-save", "ip6tables-save"} {
		out, _ := exec.Command(ipt).Output() // kept as it was: a missing ip6tables-save leaves no rule to find
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "KUBE-") || strings.Contains(l, "CNI-") || strings.Contains(l, env["FASTDEV_GUARD_CHAIN"]) || strings.Contains(l, "cni0") {
				t.Errorf("%s rule left: %s", ipt, l)
			}
		}
	}
	if before := os.Getenv("FASTDEV_SYSCTL_BEFORE"); before != "" {
		want, err := os.ReadFile(before)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(want)), "\n") {
			k, v, _ := strings.Cut(l, " = ")
			got, err := exec.Command("sysctl", "-n", k).Output()
			if err != nil {
				t.Errorf("sysctl %s: %v", k, err)
				continue
			}
			if strings.TrimSpace(string(got)) != strings.TrimSpace(v) {
				t.Errorf("sysctl %s = %s, was %s before the cluster", k, strings.TrimSpace(string(got)), v)
			}
		}
	}
}
