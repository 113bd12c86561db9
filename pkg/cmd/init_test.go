package cmd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// initFixture is a Go module in a temp dir and a fake cluster holding web, whose container runs
// what the module builds; workingDir "" leaves init nothing to tell where the code lives.
func initFixture(t *testing.T, workingDir string, notes map[string]string) (*InitOptions, *fake.Clientset) {
	t.Helper()
	dir := t.TempDir()
	for name, text := range map[string]string{"go.mod": "module web\n", "main.go": "package main\n\nfunc main() {}\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d := deployment("web", notes)
	d.ResourceVersion = "1"
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Command: []string{"/app/bin/server"}, WorkingDir: workingDir}}
	cs := fake.NewSimpleClientset(d)
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	o := &InitOptions{IOStreams: streams, Dir: dir, from: "./web", client: kube.NewForClientset(cs, "dev"),
		ref: workload.Ref{Kind: workload.Deployment, Name: "web"}, Target: "web"}
	t.Cleanup(func() { t.Logf("out:\n%s\nerr:\n%s", out, errOut) })
	return o, cs
}

func rulesOf(t *testing.T, cs *fake.Clientset) (string, bool) {
	t.Helper()
	d, err := cs.AppsV1().Deployments("dev").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	text, ok := d.Annotations[rules.AnnotationKey]
	return text, ok
}

func outOf(o *InitOptions) string { return o.Out.(interface{ String() string }).String() }

// TestInitPrintsAndApplies: init prints the proposal and changes nothing; --apply writes it, and a
// second --apply finds it there; over other rules it shows the diff first.
func TestInitPrintsAndApplies(t *testing.T) {
	o, cs := initFixture(t, "/app/src", nil)
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(outOf(o), "    to: /app/src") || !strings.Contains(outOf(o), "go build -o /app/bin/server .") {
		t.Errorf("proposal:\n%s", outOf(o))
	}
	if _, ok := rulesOf(t, cs); ok {
		t.Fatal("init without --apply wrote the annotation")
	}
	o.Apply = true
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	text, ok := rulesOf(t, cs)
	if r, err := rules.Parse(text); !ok || err != nil || r.Sync[0].From != "web" {
		t.Fatalf("annotation after --apply: %v\n%s", err, text)
	}
	if err := o.Run(context.Background()); err != nil || !strings.Contains(o.ErrOut.(interface{ String() string }).String(), "unchanged") {
		t.Errorf("second --apply: %v", err)
	}

	o, cs = initFixture(t, "/app/src", map[string]string{rules.AnnotationKey: "sync: [{from: ./web, to: /srv}]\n"})
	o.Apply = true
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--- annotation (in the cluster)", "+++ proposed", "-sync: [{from: ./web, to: /srv}]", "+    to: /app/src"} {
		if !strings.Contains(outOf(o), want) {
			t.Errorf("diff lacks %q:\n%s", want, outOf(o))
		}
	}
	if text, _ := rulesOf(t, cs); !strings.Contains(text, "to: /app/src") {
		t.Errorf("annotation not replaced:\n%s", text)
	}
}

// TestInitApplyRefusesPlaceholders: with a value init could not guess, --apply writes nothing and
// says what to fill in.
func TestInitApplyRefusesPlaceholders(t *testing.T) {
	o, cs := initFixture(t, "", nil)
	o.Apply = true
	err := o.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "nothing was written: init could not guess the absolute directory the image keeps this code in") {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(outOf(o), `to: "<the absolute directory`) {
		t.Errorf("proposal not printed:\n%s", outOf(o))
	}
	if _, ok := rulesOf(t, cs); ok {
		t.Error("--apply wrote a placeholder")
	}
}

// TestFromOf: sync.from is --dir relative to the current directory; outside it is refused.
func TestFromOf(t *testing.T) {
	if got, err := fromOf("."); err != nil || got != "." {
		t.Errorf("fromOf(.) = %q, %v", got, err)
	}
	if _, err := fromOf(t.TempDir()); err == nil || !strings.Contains(err.Error(), "outside the current directory") {
		t.Errorf("outside: %v", err)
	}
	if _, err := fromOf("no-such-dir"); err == nil || !strings.Contains(err.Error(), "--dir no-such-dir") {
		t.Errorf("missing: %v", err)
	}
}
