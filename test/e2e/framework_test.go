// Package e2e runs the real kubectl-fastdev binary against the project's real local cluster
// (hack/cluster/cluster.sh; `make test` brings it up). `go test -short` skips the suite.
//
// Every test starts with e := newEnv(t), as krew's integration tests do: the env skips the test under
// -short, connects to the cluster (once per run, on first use, so a run that selects no test never
// reaches for it), and carries the helpers a test needs: namespaces, the sample apps, the binary under
// test (start, run), kubectl, and waiting (eventually, serves).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
)

// cluster is what every test shares: the local cluster's clients and the binaries under test.
type cluster struct {
	repoRoot   string
	kubeconfig string
	restConfig *rest.Config
	cs         kubernetes.Interface
	binary     string // the kubectl-fastdev binary under test
	kubectlBin string
}

// connect finds the local cluster and the binary under test, once per run: the first test to need
// them pays for it, and a failure is every test's (with the command that fixes it).
var connect = sync.OnceValues(func() (*cluster, error) {
	_, file, _, _ := runtime.Caller(0)
	c := &cluster{repoRoot: filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))}
	c.kubeconfig = os.Getenv("FASTDEV_KUBECONFIG")
	if c.kubeconfig == "" {
		out, err := exec.Command(filepath.Join(c.repoRoot, "hack/cluster/cluster.sh"), "kubeconfig").Output()
		if err != nil {
			return nil, fmt.Errorf("e2e: cannot find the cluster's kubeconfig: %w", err)
		}
		c.kubeconfig = strings.TrimSpace(string(out))
	}
	var err error
	if c.restConfig, err = clientcmd.BuildConfigFromFlags("", c.kubeconfig); err != nil {
		return nil, fmt.Errorf("e2e: kubeconfig %s: %w (is the cluster up? `make cluster-up`)", c.kubeconfig, err)
	}
	c.restConfig.QPS, c.restConfig.Burst = 50, 100
	if c.cs, err = kubernetes.NewForConfig(c.restConfig); err != nil {
		return nil, fmt.Errorf("e2e: a client for %s: %w", c.kubeconfig, err)
	}
	if _, err := c.cs.Discovery().ServerVersion(); err != nil {
		return nil, fmt.Errorf("e2e: the cluster does not answer (%w): run `make cluster-up` or `make test`", err)
	}
	c.binary = envOr("FASTDEV_BIN", filepath.Join(c.repoRoot, "bin/kubectl-fastdev"))
	if _, err := os.Stat(c.binary); err != nil {
		return nil, fmt.Errorf("e2e: %s missing: run `make build`", c.binary)
	}
	c.kubectlBin = envOr("FASTDEV_KUBECTL", "kubectl")
	return c, nil
})

// env is one test's handle on the cluster: its helpers fail the test they were made for.
type env struct {
	t *testing.T
	*cluster
}

// newEnv skips the test under -short, and otherwise connects to the local cluster or fails the test.
func newEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: needs the local cluster (run without -short)")
	}
	c, err := connect()
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, cluster: c}
}

// sub is the env of a subtest (t.Run): failures and cleanups belong to the subtest.
func (e *env) sub(t *testing.T) *env {
	return &env{t: t, cluster: e.cluster}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// namespace creates a fresh namespace for a test and deletes it afterwards.
func (e *env) namespace(labels map[string]string) string {
	t := e.t
	t.Helper()
	name := fmt.Sprintf("e2e-%s-%d", strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), time.Now().UnixNano()%100000)
	if len(name) > 60 {
		name = name[:60]
	}
	name = strings.Trim(strings.ReplaceAll(name, "_", "-"), "-")
	_, err := e.cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() {
		// best effort: a namespace left behind is removed with the cluster, and must not fail the test
		_ = e.cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	// the service account controller must create "default" before pods can be created
	e.eventually(30*time.Second, "default service account", func() error {
		_, err := e.cs.CoreV1().ServiceAccounts(name).Get(context.Background(), "default", metav1.GetOptions{})
		return err
	})
	return name
}

// applyExample creates the Deployment (and Service) of manifests/examples/<app>/deployment.yaml in ns,
// after mutate (may be nil) changed the Deployment.
func (e *env) applyExample(ns, app string, mutate func(*appsv1.Deployment)) *appsv1.Deployment {
	t := e.t
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(e.repoRoot, "manifests/examples", app, "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var dep *appsv1.Deployment
	for _, d := range e.documents(raw) {
		doc := d.raw
		switch d.kind {
		case "Deployment":
			var d appsv1.Deployment
			if err := yaml.UnmarshalStrict(doc, &d); err != nil {
				t.Fatal(err)
			}
			if mutate != nil {
				mutate(&d)
			}
			if dep, err = e.cs.AppsV1().Deployments(ns).Create(context.Background(), &d, metav1.CreateOptions{}); err != nil {
				t.Fatalf("creating deployment: %v", err)
			}
		case "Service":
			var s corev1.Service
			if err := yaml.UnmarshalStrict(doc, &s); err != nil {
				t.Fatal(err)
			}
			if _, err := e.cs.CoreV1().Services(ns).Create(context.Background(), &s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatalf("creating service: %v", err)
			}
		}
	}
	if dep == nil {
		t.Fatalf("no Deployment in %s", app)
	}
	return dep
}

// document is one YAML document of a multi-document manifest, with its kind.
type document struct {
	kind string
	raw  []byte
}

// documents splits a multi-document YAML manifest.
func (e *env) documents(raw []byte) []document {
	t := e.t
	t.Helper()
	var out []document
	dec := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for {
		doc, err := dec.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		out = append(out, document{kind: meta.Kind, raw: doc})
	}
}

// copyExamples copies manifests/examples into a temp dir the test may edit; the rules' `from`
// paths (./web-go/src, ./web-static/www) are relative to it.
func (e *env) copyExamples() string {
	t := e.t
	t.Helper()
	dst := t.TempDir()
	out, err := exec.Command("cp", "-a", filepath.Join(e.repoRoot, "manifests/examples")+"/.", dst).CombinedOutput()
	if err != nil {
		t.Fatalf("copying examples: %v: %s", err, out)
	}
	return dst
}

// waitAvailable waits until the Deployment's rollout is complete: all replicas updated and available.
func (e *env) waitAvailable(ns, name string, timeout time.Duration) *appsv1.Deployment {
	e.t.Helper()
	var d *appsv1.Deployment
	e.eventually(timeout, "deployment "+name+" rolled out", func() error {
		var err error
		d, err = e.cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		s := d.Status
		if s.ObservedGeneration < d.Generation || s.UpdatedReplicas != want || s.AvailableReplicas != want || s.Replicas != want {
			return fmt.Errorf("generation %d/%d, updated %d, available %d, total %d, want %d", s.ObservedGeneration, d.Generation, s.UpdatedReplicas, s.AvailableReplicas, s.Replicas, want)
		}
		return nil
	})
	return d
}

// pods returns the running, non-terminating pods of a Deployment.
func (e *env) pods(ns, app string) []corev1.Pod {
	e.t.Helper()
	l, err := e.cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			out = append(out, p)
		}
	}
	return out
}

// get fetches path from port 8080 of a pod through a client-go port-forward. It does not fail the
// test, so it may run on any goroutine.
func (e *env) get(pod, ns, path string) (int, string, error) {
	c, err := kube.New(e.restConfig, ns)
	if err != nil {
		return 0, "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := c.PortForward(ctx, pod, 8080)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+f.Addr+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// eventually retries f until it returns nil or the timeout passes.
func (e *env) eventually(timeout time.Duration, what string, f func() error) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// serves waits until every running pod of app answers path with a body containing want.
func (e *env) serves(ns, app, path, want string, replicas int, timeout time.Duration) {
	e.t.Helper()
	e.eventually(timeout, fmt.Sprintf("%d pod(s) of %s serving %q at %s", replicas, app, want, path), func() error {
		ps := e.pods(ns, app)
		if len(ps) != replicas {
			return fmt.Errorf("%d running pods", len(ps))
		}
		for _, p := range ps {
			code, body, err := e.get(p.Name, ns, path)
			if err != nil {
				return fmt.Errorf("pod %s: %v", p.Name, err)
			}
			if !strings.Contains(body, want) {
				return fmt.Errorf("pod %s answered %d %q", p.Name, code, body)
			}
		}
		return nil
	})
}

// writeFile writes a local file with exactly mode (creating its directories), as an editor would.
func (e *env) writeFile(path, content string, mode os.FileMode) {
	t := e.t
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
