package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// logItem is one line of `kubectl fastdev logs -o json`.
type logItem struct {
	Pod       string   `json:"pod"`
	Container string   `json:"container"`
	Kind      string   `json:"kind"`
	Time      string   `json:"time"`
	Text      string   `json:"text"`
	Type      string   `json:"type"`
	ExitCode  int      `json:"exitCode"`
	Count     int      `json:"count"`
	Pods      []string `json:"pods"`
	Locations []struct {
		Remote string `json:"remote"`
		Local  string `json:"local"`
	} `json:"locations"`
}

// jsonItems parses the output of `logs -o json`: every line must be one object with the fields the
// contract names.
func (e *env) jsonItems(out string) []logItem {
	t := e.t
	t.Helper()
	var items []logItem
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatalf("a line of -o json does not parse: %v\n%s", err, sc.Text())
		}
		for _, k := range []string{"pod", "container", "kind", "time", "text"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("-o json line lacks %q: %s", k, sc.Text())
			}
		}
		var it logItem
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			t.Fatal(err)
		}
		if _, err := time.Parse(time.RFC3339Nano, it.Time); err != nil {
			t.Errorf("time %q: %v", it.Time, err)
		}
		items = append(items, it)
	}
	return items
}

// position returns the 1-based line and column of the first occurrence of s in text.
func position(text, s string) (int, int) {
	i := strings.Index(text, s)
	if i < 0 {
		return 0, 0
	}
	line := strings.Count(text[:i], "\n") + 1
	return line, i - strings.LastIndex(text[:i], "\n")
}

// TestLogsCompileError: a compile error introduced into web-go reaches `logs --errors`, followed and
// read afterwards, with the compiler's message and the local file, line and column; -o json parses.
func TestLogsCompileError(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-go", nil)
	dir := e.copyExamples()
	main := filepath.Join(dir, "web-go/src/main.go")
	up := e.upAndConnect(ns, "web-go", dir, 1)
	follow := e.start(dir, "logs", "-n", ns, "--errors")
	time.Sleep(3 * time.Second) // the follower opens its streams

	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(src), "fmt.Fprintln(w, message)", "fmt.Fprintln(w, messagee)", 1)
	line, col := position(broken, "messagee")
	e.writeFile(main, broken, 0o644)
	up.waitOutput("FAILED", 90*time.Second)

	local := fmt.Sprintf("web-go/src/main.go:%d:%d", line, col)
	for _, want := range []string{"failed step in web-go-", "step failed: go build -o /app/bin/server . (exit code 1)",
		fmt.Sprintf("./main.go:%d:%d: undefined: messagee  → %s", line, col, local)} {
		follow.waitOutput(want, 30*time.Second)
	}
	if strings.Contains(follow.Output(), "listening on") {
		t.Errorf("--errors printed plain lines:\n%s", follow.Output())
	}

	out, err := e.runJSON(dir, "logs", "-n", ns, "--errors", "-f=false", "-o", "json")
	if err != nil {
		t.Fatalf("logs -o json: %v\n%s", err, out)
	}
	var found bool
	for _, it := range e.jsonItems(out) {
		if it.Kind == "log" {
			t.Errorf("--errors gave a plain line: %+v", it)
		}
		if it.Kind == "error" && it.Type == "step" && it.Container == "fastdev-synclet" && strings.Contains(it.Text, "undefined: messagee") {
			found = len(it.Locations) == 1 && it.Locations[0].Local == local
		}
	}
	if !found {
		t.Errorf("no step failure with local path %s in:\n%s", local, out)
	}
	// without --errors the plain lines are there too
	out, err = e.run(dir, "logs", "-n", ns, "-f=false", "--no-color")
	if err != nil || !strings.Contains(out, "| ") || !strings.Contains(out, "web-go listening on :8080") {
		t.Errorf("logs: %v\n%s", err, out)
	}
}

// panicSource adds GET /panic to web-go: it panics on a new goroutine, so the process dies as a
// real crash does (a panic in the handler itself would be recovered by net/http).
func (e *env) panicSource(src string) string {
	t := e.t
	t.Helper()
	out := strings.Replace(src, `	mux.HandleFunc("GET /healthz"`, `	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) {
		go crash()
	})
	mux.HandleFunc("GET /healthz"`, 1)
	out = strings.Replace(out, "hello from web-go v1", "hello from web-go v2", 1)
	out += "\nfunc crash() { panic(errors.New(\"fastdev e2e: boom\")) }\n"
	if out == src || !strings.Contains(out, "GET /panic") {
		t.Fatal("web-go's source changed: cannot add the panic handler")
	}
	return out
}

// TestLogsPanicReplicas: the same panic in each of 3 replicas is shown once, ×3, with the local file;
// the crashed containers are reported with their exit code.
func TestLogsPanicReplicas(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-go", func(d *appsv1.Deployment) { three := int32(3); d.Spec.Replicas = &three })
	dir := e.copyExamples()
	main := filepath.Join(dir, "web-go/src/main.go")
	e.upAndConnect(ns, "web-go", dir, 3)
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	edited := e.panicSource(string(src))
	e.writeFile(main, edited, 0o644)
	e.serves(ns, "web-go", "/", "hello from web-go v2", 3, 120*time.Second)
	line, _ := position(edited, "func crash()")

	// a loaded machine may take a while to pass the three streams on: a wider window than the default
	follow := e.start(dir, "logs", "-n", ns, "--errors", "--no-color", "--group-window", "5s")
	time.Sleep(3 * time.Second) // the follower opens its streams
	var wg sync.WaitGroup
	for _, p := range e.pods(ns, "web-go") {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// the process may die before it answers: neither the answer nor an error tells anything
			_, _, _ = e.get(p.Name, ns, "/panic")
		}()
	}
	wg.Wait()
	follow.waitOutput("Go panic ×3 in web-go-", 60*time.Second)
	follow.waitOutput(fmt.Sprintf("→ web-go/src/main.go:%d", line), 5*time.Second)
	time.Sleep(3 * time.Second) // a late copy would show as a second block
	if n := strings.Count(follow.Output(), "panic: fastdev e2e: boom"); n != 1 {
		t.Errorf("the panic is shown %d times, want once:\n%s", n, follow.Output())
	}

	// read afterwards, the crashed instances are read as the containers' previous logs
	var items []logItem
	e.eventually(60*time.Second, "the panic ×3 and the exits in logs -f=false -o json", func() error {
		out, err := e.runJSON(dir, "logs", "-n", ns, "--errors", "-f=false", "-o", "json")
		if err != nil {
			return err
		}
		items = e.jsonItems(out)
		var panics, exited int
		for _, it := range items {
			switch {
			case it.Kind == "error" && it.Type == "go-panic" && strings.Contains(it.Text, "fastdev e2e: boom"):
				panics += it.Count
				if it.Count != 3 {
					return fmt.Errorf("panic with count %d (pods %v)", it.Count, it.Pods)
				}
			case it.Kind == "exit" && it.Container == "web" && it.ExitCode == 2:
				exited += it.Count
			}
		}
		if panics != 3 || exited != 3 {
			return fmt.Errorf("%d panics, %d exits with code 2 in %d items", panics, exited, len(items))
		}
		return nil
	})
}

// TestLogsOOMKilled: a container over its memory limit is reported as OOMKilled with exit code 137,
// in a pod that did not exist yet when `logs` started, and then as crash looping.
func TestLogsOOMKilled(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	labels := map[string]string{"app": "hog"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "hog"}, Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: new(int64),
			Containers: []corev1.Container{{Name: "hog", Image: "fastdev.local/web-static:dev", ImagePullPolicy: corev1.PullNever,
				// dd's 64 MiB block is written by the kernel as it reads /dev/zero: over the 16 MiB limit
				Command:   []string{"/bin/busybox", "sh", "-c", "echo allocating 64 MiB; exec /bin/busybox dd if=/dev/zero of=/dev/null bs=64M count=1"},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Mi")}}}}}}}}
	d.Spec.Replicas = new(int32) // no pod yet: `logs` must pick the pod up when it comes
	if _, err := e.cs.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	follow := e.start(dir, "logs", "-n", ns, "hog", "--errors", "--no-color")
	time.Sleep(2 * time.Second)
	e.scale(ns, "hog", 1)
	follow.waitOutput("OOMKilled, exit code 137", rollout)
	follow.waitOutput("CrashLoopBackOff", rollout)
	if !strings.Contains(follow.Output(), "container exited in hog-") {
		t.Errorf("the exit does not name the pod and container:\n%s", follow.Output())
	}

	// read at once, from the pod's status (which names the last two instances' ends) and its log
	e.eventually(30*time.Second, "the OOMKilled exit and the container's line in logs -f=false -o json", func() error {
		out, err := e.runJSON(dir, "logs", "-n", ns, "hog", "-f=false", "-o", "json")
		if err != nil {
			return err
		}
		var oom, line bool
		for _, it := range e.jsonItems(out) {
			oom = oom || (it.Kind == "exit" && it.Type == "OOMKilled" && it.ExitCode == 137 && it.Container == "hog")
			line = line || (it.Kind == "log" && it.Text == "allocating 64 MiB")
		}
		if !oom || !line {
			return fmt.Errorf("OOMKilled exit %v, the container's own line %v, in:\n%s", oom, line, out)
		}
		return nil
	})
}
