package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// initSample is one sample app as the init and up -f tests use it: the file an edit changes, and what
// GET / answers before and after it.
type initSample struct {
	app, file, v1, v2 string
}

var initSamples = []initSample{
	{app: "web-static", file: "web-static/www/index.html", v1: "hello from web-static v1", v2: "hello from web-static v2"},
	{app: "web-go", file: "web-go/src/main.go", v1: "hello from web-go v1", v2: "hello from web-go v2"},
	{app: "web-node", file: "web-node/src/server.js", v1: "hello from web-node v1", v2: "hello from web-node v2"},
	{app: "web-python", file: "web-python/src/server.py", v1: "hello from web-python v1", v2: "hello from web-python v2"},
}

// fileSamples are the two workloads of upFile.
var fileSamples = initSamples[:2]

// withoutRules deploys a sample with no rules annotation, as a newcomer's Deployment is.
func withoutRules(d *appsv1.Deployment) { delete(d.Annotations, rules.AnnotationKey) }

// edit replaces the sample's v1 with v2 in its file.
func (e *env) edit(dir string, s initSample) {
	e.t.Helper()
	p := filepath.Join(dir, s.file)
	src, err := os.ReadFile(p)
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.Contains(string(src), s.v1) {
		e.t.Fatalf("%s does not hold %q", p, s.v1)
	}
	e.writeFile(p, strings.Replace(string(src), s.v1, s.v2, 1), 0o644)
}

// TestInit: for each initSample deployed without rules, `init --dir SAMPLE --apply` writes rules with
// which `up` serves an edit, the proposal untouched.
func TestInit(t *testing.T) {
	for _, s := range initSamples {
		t.Run(s.app, func(t *testing.T) {
			e := newEnv(t)
			ns := e.namespace(nil)
			e.applyExample(ns, s.app, withoutRules)
			dir := e.copyExamples()
			out, err := e.run(dir, "init", "-n", ns, s.app, "--dir", s.app, "--apply")
			if err != nil {
				t.Fatalf("init --apply: %v\n%s", err, out)
			}
			t.Logf("init proposed:\n%s", out)
			d, err := e.cs.AppsV1().Deployments(ns).Get(context.Background(), s.app, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			text := d.Annotations[rules.AnnotationKey]
			if _, err := rules.Parse(text); err != nil || !strings.Contains(text, "  # ") {
				t.Fatalf("annotation written by init: %v\n%s", err, text)
			}
			up := e.upAndConnect(ns, s.app, dir, 1)
			defer up.stop()
			e.serves(ns, s.app, "/", s.v1, 1, 30*time.Second)
			e.edit(dir, s)
			e.serves(ns, s.app, "/", s.v2, 1, 90*time.Second)

			// a second init finds the rules it wrote and changes nothing
			out, err = e.run(dir, "init", "-n", ns, s.app, "--dir", s.app, "--apply")
			if err != nil || !strings.Contains(out, "already holds these rules, unchanged") {
				t.Errorf("second init --apply: %v\n%s", err, out)
			}
		})
	}
}

// TestInitAsks: a workload whose pod spec does not tell where the code lives gets a placeholder
// naming what to write, and --apply writes nothing.
func TestInitAsks(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	d := e.applyExample(ns, "web-go", func(d *appsv1.Deployment) {
		withoutRules(d)
		d.Spec.Template.Spec.Containers[0].WorkingDir = ""
	})
	dir := e.copyExamples()
	out, err := e.run(dir, "init", "-n", ns, "deployment/web-go", "--dir", "web-go", "--apply")
	if err == nil {
		t.Fatalf("init --apply wrote rules with a placeholder:\n%s", out)
	}
	for _, want := range []string{`to: "<the absolute directory the image keeps this code in, such as /app>"`, "nothing was written: init could not guess the absolute directory"} {
		if !strings.Contains(out, want) {
			t.Errorf("init's output lacks %q:\n%s", want, out)
		}
	}
	after, err := e.cs.AppsV1().Deployments(ns).Get(context.Background(), "web-go", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := after.Annotations[rules.AnnotationKey]; ok || after.Generation != d.Generation {
		t.Errorf("init --apply changed the Deployment: generation %d -> %d, annotations %q", d.Generation, after.Generation, after.Annotations)
	}
}

// upFile is a rules file for web-static and web-go, as a team would keep it next to the code.
const upFile = `# the rules of both samples, kept in the repository instead of the manifests
web-static:
  container: web
  sync:
    - from: ./web-static/www
      to: /www

deployment/web-go:
  container: web
  sync:
    - from: ./web-go/src
      to: /app/src
  run:
    - cmd: go build -o /app/bin/server .
      trigger: ["**/*.go", "go.mod"]
`

// TestUpFile: `up -f` with two workloads writes their rules and serves edits to both; --dry-run
// changes nothing; a bad file names the file, line and key; `down` leaves both Deployments as they
// were before `up -f`.
func TestUpFile(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	before := map[string]*appsv1.Deployment{}
	for _, s := range fileSamples {
		before[s.app] = e.applyExample(ns, s.app, withoutRules)
	}
	dir := e.copyExamples()
	e.writeFile(filepath.Join(dir, "fastdev.yaml"), upFile, 0o644)
	bad := strings.Replace(upFile, "      to: /app/src", "      too: /app/src", 1)
	e.writeFile(filepath.Join(dir, "bad.yaml"), bad, 0o644)

	out, err := e.run(dir, "up", "-n", ns, "-f", "bad.yaml")
	if err == nil || !strings.Contains(out, `bad.yaml, line 12, deployment/web-go, key "sync[0].too": unknown key "too"`) {
		t.Errorf("up -f with a bad file: %v\n%s", err, out)
	}
	out, err = e.run(dir, "up", "-n", ns, "-f", "fastdev.yaml", "--dry-run")
	if err != nil || !strings.Contains(out, "web-go: would add annotation fastdev.dev/rules") || !strings.Contains(out, "nothing was changed") {
		t.Errorf("up -f --dry-run: %v\n%s", err, out)
	}
	e.unchanged(ns, before)

	up := e.start(dir, "up", "-n", ns, "-f", "fastdev.yaml", "--plain")
	for _, s := range fileSamples {
		e.waitConnected(up, ns, s.app, 1)
		e.serves(ns, s.app, "/", s.v1, 1, 30*time.Second)
		e.edit(dir, s)
	}
	for _, s := range fileSamples {
		e.serves(ns, s.app, "/", s.v2, 1, 90*time.Second)
	}
	status, err := e.run(dir, "status", "-n", ns)
	if err != nil || !strings.Contains(status, "web-go") || !strings.Contains(status, "web-static") {
		t.Errorf("status after up -f: %v\n%s", err, status)
	}
	up.stop()
	if out, err := e.run(dir, "down", "-n", ns); err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}
	e.unchanged(ns, before)
}

// unchanged fails the test unless each Deployment's annotations and pod template are as in before.
func (e *env) unchanged(ns string, before map[string]*appsv1.Deployment) {
	e.t.Helper()
	for name, d := range before {
		now, err := e.cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		if a, b := ownAnnotations(now), ownAnnotations(d); !equality.Semantic.DeepEqual(a, b) {
			e.t.Errorf("%s: annotations %q, before %q", name, a, b)
		}
		if !equality.Semantic.DeepEqual(now.Spec.Template, d.Spec.Template) {
			e.t.Errorf("%s: pod template changed", name)
		}
	}
}

// ownAnnotations are a Deployment's annotations but the revision its controller counts (each
// rollout, such as up's and down's, adds one).
func ownAnnotations(d *appsv1.Deployment) map[string]string {
	out := map[string]string{}
	for k, v := range d.Annotations {
		if k != "deployment.kubernetes.io/revision" {
			out[k] = v
		}
	}
	return out
}
