// Package e2e runs the real kubectl-fastdev binary against the project's real local cluster
// (hack/cluster/cluster.sh; `make test` brings it up). `go test -short` skips the suite.
package e2e

import (
	"bufio"
	"bytes"
	"context"
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

var (
	repoRoot   string
	kubeconfig string
	restConfig *rest.Config
	cs         kubernetes.Interface
	binary     string // the kubectl-fastdev binary under test
	kubectlBin string
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	for _, a := range os.Args {
		if a == "-test.short=true" || a == "-test.short" {
			os.Exit(m.Run()) // every test skips itself
		}
	}
	kubeconfig = os.Getenv("FASTDEV_KUBECONFIG")
	if kubeconfig == "" {
		out, err := exec.Command(filepath.Join(repoRoot, "hack/cluster/cluster.sh"), "kubeconfig").Output()
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e: cannot find the cluster's kubeconfig:", err)
			os.Exit(1)
		}
		kubeconfig = strings.TrimSpace(string(out))
	}
	var err error
	if restConfig, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: kubeconfig %s: %v (is the cluster up? `make cluster-up`)\n", kubeconfig, err)
		os.Exit(1)
	}
	restConfig.QPS, restConfig.Burst = 50, 100
	cs = kubernetes.NewForConfigOrDie(restConfig)
	if _, err := cs.Discovery().ServerVersion(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: the cluster does not answer (%v): run `make cluster-up` or `make test`\n", err)
		os.Exit(1)
	}
	binary = envOr("FASTDEV_BIN", filepath.Join(repoRoot, "bin/kubectl-fastdev"))
	if _, err := os.Stat(binary); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %s missing: run `make build`\n", binary)
		os.Exit(1)
	}
	kubectlBin = envOr("FASTDEV_KUBECTL", "kubectl")
	os.Exit(m.Run())
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func needCluster(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: needs the local cluster (run without -short)")
	}
}

// namespace creates a fresh namespace for a test and deletes it afterwards.
func namespace(t *testing.T, labels map[string]string) string {
	t.Helper()
	name := fmt.Sprintf("e2e-%s-%d", strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), time.Now().UnixNano()%100000)
	if len(name) > 60 {
		name = name[:60]
	}
	name = strings.Trim(strings.ReplaceAll(name, "_", "-"), "-")
	_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	// the service account controller must create "default" before pods can be created
	eventually(t, 30*time.Second, "default service account", func() error {
		_, err := cs.CoreV1().ServiceAccounts(name).Get(context.Background(), "default", metav1.GetOptions{})
		return err
	})
	return name
}

// applyExample creates the Deployment (and Service) of manifests/examples/<app>/deployment.yaml in ns,
// after mutate (may be nil) changed the Deployment.
func applyExample(t *testing.T, ns, app string, mutate func(*appsv1.Deployment)) *appsv1.Deployment {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "manifests/examples", app, "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var dep *appsv1.Deployment
	for _, d := range documents(t, raw) {
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
			if dep, err = cs.AppsV1().Deployments(ns).Create(context.Background(), &d, metav1.CreateOptions{}); err != nil {
				t.Fatalf("creating deployment: %v", err)
			}
		case "Service":
			var s corev1.Service
			if err := yaml.UnmarshalStrict(doc, &s); err != nil {
				t.Fatal(err)
			}
			if _, err := cs.CoreV1().Services(ns).Create(context.Background(), &s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
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
func documents(t *testing.T, raw []byte) []document {
	t.Helper()
	var out []document
	dec := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for {
		doc, err := dec.Read()
		if err == io.EOF {
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
func copyExamples(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	out, err := exec.Command("cp", "-a", filepath.Join(repoRoot, "manifests/examples")+"/.", dst).CombinedOutput()
	if err != nil {
		t.Fatalf("copying examples: %v: %s", err, out)
	}
	return dst
}

// waitAvailable waits until the Deployment's rollout is complete: all replicas updated and available.
func waitAvailable(t *testing.T, ns, name string, timeout time.Duration) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	eventually(t, timeout, "deployment "+name+" rolled out", func() error {
		var err error
		d, err = cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
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
func pods(t *testing.T, ns, app string) []corev1.Pod {
	t.Helper()
	l, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			out = append(out, p)
		}
	}
	return out
}

// get fetches path from port 8080 of a pod through a client-go port-forward.
func get(pod, ns, path string) (int, string, error) {
	c, err := kube.New(restConfig, ns)
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
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+f.Addr+path, nil)
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// eventually retries f until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// serves waits until every running pod of app answers path with a body containing want.
func serves(t *testing.T, ns, app, path, want string, replicas int, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%d pod(s) of %s serving %q at %s", replicas, app, want, path), func() error {
		ps := pods(t, ns, app)
		if len(ps) != replicas {
			return fmt.Errorf("%d running pods", len(ps))
		}
		for _, p := range ps {
			code, body, err := get(p.Name, ns, path)
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

// proc is a running kubectl-fastdev command whose output the test can wait on.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// Output returns everything the command printed so far (stdout and stderr interleaved).
func (p *proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// start runs kubectl-fastdev with args in dir, stopping it (SIGINT) when the test ends.
func start(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	return startWith(t, dir, kubeconfig, args...)
}

// startWith is start with another kubeconfig.
func startWith(t *testing.T, dir, config string, args ...string) *proc {
	t.Helper()
	p := &proc{done: make(chan struct{})}
	p.cmd = exec.Command(binary, append([]string{"--kubeconfig", config}, args...)...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("output of kubectl-fastdev %s:\n%s", strings.Join(args, " "), p.Output())
		}
	})
	return p
}

func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// waitOutput waits until the output contains want.
func (p *proc) waitOutput(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("output %q", want), func() error {
		if strings.Contains(p.Output(), want) {
			return nil
		}
		select {
		case <-p.done:
			t.Fatalf("kubectl-fastdev exited (%v) before printing %q:\n%s", p.err, want, p.Output())
		default:
		}
		return fmt.Errorf("not yet")
	})
}

// run runs kubectl-fastdev to completion and returns its combined output.
func run(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	return runWith(dir, kubeconfig, args...)
}

// runWith is run with another kubeconfig.
func runWith(dir, config string, args ...string) (string, error) {
	cmd := exec.Command(binary, append([]string{"--kubeconfig", config}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kubectl runs the cluster's kubectl.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(kubectlBin, append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
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
