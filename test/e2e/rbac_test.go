package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
)

// TestRBAC runs up (with an edit that syncs), status, logs and down as a user bound only to the Role of
// manifests/rbac.yaml, in a namespace enforcing the restricted Pod Security Standard, and checks the
// injected pod's containers run as the app's non-root user with no capabilities, the synclet with a
// read-only root file system.
func TestRBAC(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	user, kc := e.newUser()
	e.bindRole(ns, user, e.developerRole())
	e.canExactly(kc, ns)

	e.applyExample(ns, "web-static", nonRoot)
	e.waitAvailable(ns, "web-static", rollout)
	dir := e.copyExamples()
	up := e.startAs(kc, dir, "up", "-n", ns, "web-static")
	e.waitConnected(up, ns, "web-static", 1)
	e.writeFile(filepath.Join(dir, "web-static/www/index.html"), "edit by a developer with the fastdev Role\n", 0o644)
	e.serves(ns, "web-static", "/", "edit by a developer", 1, 20*time.Second)

	pod := e.pods(ns, "web-static")[0]
	e.checkPodSecurity(ns, &pod)

	out, err := e.runAs(kc, dir, "status", "-n", ns, "-o", "json")
	if err != nil || !strings.Contains(out, `"name": "web-static"`) || !strings.Contains(out, `"injected": true`) || !strings.Contains(out, pod.Name) {
		t.Errorf("status as the developer: %v\n%s", err, out)
	}
	if out, err := e.runAs(kc, dir, "logs", "-n", ns, "web-static", "-f=false"); err != nil || strings.Contains(out, "forbidden") {
		t.Errorf("logs as the developer: %v\n%s", err, out)
	}
	up.stop()
	// up gives its dev lease back on exit, so another `up` need not wait for it to expire
	if _, err := e.cs.CoordinationV1().Leases(ns).Get(context.Background(), kube.LeaseName("web-static"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the dev lease outlived up: %v", err)
	}
	out, err = e.runAs(kc, dir, "down", "-n", ns)
	if err != nil || !strings.Contains(out, "web-static: restored") {
		t.Fatalf("down as the developer: %v\n%s", err, out)
	}
	d, err := e.cs.AppsV1().Deployments(ns).Get(context.Background(), "web-static", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Annotations[inject.AnnotationOriginal]; ok {
		t.Error("down as the developer left the injection in place")
	}
	// the commands above ran as the developer, not as the admin: elsewhere the same user is refused
	if out, err := e.runAs(kc, dir, "status", "-n", "default"); err == nil || !strings.Contains(out, "forbidden") {
		t.Errorf("status in a namespace without the Role succeeded: the test is not running as the developer:\n%s", out)
	}
}

// TestRBACMissingPermission: with one rule of the Role taken away, the command that needs it fails
// (or, for a long-running `up`, reports) with a message naming the verb and the resource to grant.
func TestRBACMissingPermission(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	dir := e.copyExamples()
	cases := []struct {
		name            string
		group, resource string
		verb            string
		args            []string // after -n NS; DEP stands for the case's Deployment
		// how the command meets the refusal: exits non-zero (fails), warns and reads what else it may
		// (logs shows what it can read), or keeps running and reports it (up retries every pod)
		fails, running bool
	}{
		{"up without patch", "apps", "deployments", "patch", []string{"up", "DEP"}, true, false},
		{"up without get", "apps", "deployments", "get", []string{"up", "DEP"}, true, false},
		{"up without get leases", "coordination.k8s.io", "leases", "get", []string{"up", "DEP"}, true, false},
		{"up without create leases", "coordination.k8s.io", "leases", "create", []string{"up", "DEP"}, true, false},
		{"down without list deployments", "apps", "deployments", "list", []string{"down"}, true, false},
		{"status without list deployments", "apps", "deployments", "list", []string{"status"}, true, false},
		{"status without list pods", "", "pods", "list", []string{"status", "DEP"}, true, false},
		{"logs without list pods", "", "pods", "list", []string{"logs", "DEP", "-f=false"}, false, false},
		{"logs without pods/log", "", "pods/log", "get", []string{"logs", "DEP", "-f=false"}, false, false},
		{"logs without events", "", "events", "list", []string{"logs", "DEP", "-f=false"}, false, false},
		{"up without pods/portforward", "", "pods/portforward", "create", []string{"up", "DEP"}, false, true},
		{"up without watch pods", "", "pods", "watch", []string{"up", "DEP"}, false, true},
		{"up without watch deployments", "apps", "deployments", "watch", []string{"up", "DEP"}, false, true},
		{"up without update leases", "coordination.k8s.io", "leases", "update", []string{"up", "DEP"}, false, true}, // renewal, after 10s
		{"logs without watch events", "", "events", "watch", []string{"logs", "DEP"}, false, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.sub(t)
			name := fmt.Sprintf("rbac-%d", i)
			d := e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
				d.Name = name // its own pods: a rollout of one case must not touch another's
				d.Spec.Selector.MatchLabels["app"] = name
				d.Spec.Template.Labels["app"] = name
			})
			if c.running || c.resource == "pods/log" {
				e.waitAvailable(ns, name, rollout)
			}
			user, kc := e.newUser()
			e.bindRole(ns, user, e.without(e.developerRole(), c.group, c.resource, c.verb))
			args := []string{"-n", ns}
			for _, a := range c.args {
				args = append(args, strings.ReplaceAll(a, "DEP", name))
			}
			want := []string{fmt.Sprintf("verb %q on %q", c.verb, c.resource)}
			if c.resource == "pods/portforward" {
				// client-go returns this refusal as text, so it carries the API server's own wording,
				// which names the verb and resource as well
				want = []string{fmt.Sprintf("cannot %s resource %q", c.verb, c.resource)}
			}
			var out string
			if c.running {
				p := e.startAs(kc, dir, args...)
				for _, w := range want {
					p.waitOutput(w, rollout)
				}
				p.stop()
				out = p.Output()
			} else {
				var err error
				if out, err = e.runAs(kc, dir, args...); c.fails && err == nil {
					t.Fatalf("succeeded without %s on %s:\n%s", c.verb, c.resource, out)
				}
			}
			t.Logf("without %s on %s, `%s` says:\n%s", c.verb, c.resource, strings.Join(c.args, " "), out)
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("output does not name %q:\n%s", w, out)
				}
			}
			if c.verb == "patch" {
				after, err := e.cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
				if err != nil || after.Generation != d.Generation {
					t.Errorf("deployment changed without the patch permission: %v", err)
				}
			}
		})
	}
}

// nonRoot makes the sample app run as uid 1000 with no privileges, as the restricted standard demands.
func nonRoot(d *appsv1.Deployment) {
	uid, no, yes := int64(1000), false, true
	d.Spec.Template.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid,
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	d.Spec.Template.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: &no,
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
}

// checkPodSecurity checks, in the spec and in the running containers, that the injected pod runs as
// uid 1000 with no capabilities and no privilege escalation, the synclet on a read-only root.
func (e *env) checkPodSecurity(ns string, pod *corev1.Pod) {
	t := e.t
	t.Helper()
	all := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	var synclet *corev1.Container
	for i, c := range all {
		if c.Name == inject.SyncletContainer {
			synclet = &all[i]
		}
		if !strings.HasPrefix(c.Name, "fastdev-") {
			continue
		}
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
			!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 || (sc.Privileged != nil && *sc.Privileged) {
			t.Errorf("container %s: security context %+v", c.Name, sc)
		}
	}
	if synclet == nil {
		t.Fatalf("no %s container in pod %s", inject.SyncletContainer, pod.Name)
	}
	if sc := synclet.SecurityContext; sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("synclet root file system is writable: %+v", sc)
	}
	for _, c := range []string{inject.SyncletContainer, "web"} {
		inPod := func(args ...string) (string, error) {
			cmd := exec.Command(e.kubectlBin, append([]string{"--kubeconfig", e.kubeconfig, "-n", ns, "exec", pod.Name, "-c", c, "--", "/bin/busybox"}, args...)...)
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		if out, err := inPod("id", "-u"); err != nil || strings.TrimSpace(out) != "1000" {
			t.Errorf("%s runs as uid %q (%v), want 1000", c, out, err)
		}
		out, err := inPod("grep", "-E", "^(CapPrm|CapEff|CapBnd|NoNewPrivs):", "/proc/self/status")
		if err != nil {
			t.Fatalf("%s: reading its capabilities: %v\n%s", c, err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimSpace(v)
			if (k == "NoNewPrivs" && v != "1") || (k != "NoNewPrivs" && strings.Trim(v, "0") != "") {
				t.Errorf("%s: %s is %s, want no capabilities and no new privileges", c, k, v)
			}
		}
		if c != inject.SyncletContainer {
			continue
		}
		if out, err := inPod("touch", "/fastdev-probe"); err == nil || !strings.Contains(out, "Read-only file system") {
			t.Errorf("synclet could write to its root file system: %v %s", err, out)
		}
	}
}
