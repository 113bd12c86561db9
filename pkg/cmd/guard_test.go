package cmd

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/guard"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// said collects what the guard says.
type said struct {
	mu    sync.Mutex
	lines []string
}

func (s *said) say(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, line)
}

func (s *said) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		all := strings.Join(s.lines, "\n")
		s.mu.Unlock()
		if strings.Contains(all, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not said within 5s: %q; said:\n%s", want, all)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// revert writes the Deployment back as its manifest says (what `kubectl replace -f` does), as manager.
func revert(t *testing.T, cs *fake.Clientset, manifest *appsv1.Deployment, manager string, gen int64) {
	t.Helper()
	d := manifest.DeepCopy()
	d.Generation = gen
	d.ResourceVersion = fmt.Sprint(gen) // the fake keeps what it is given, and a patch tests it
	d.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate,
		Time: &metav1.Time{Time: time.Now()}, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:template":{}}}`)}}}
	if _, err := cs.AppsV1().Deployments("dev").Update(context.Background(), d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestGuardReinjects runs up's guard against a fake cluster: a `kubectl replace` of the manifest is
// reported with the field manager, re-injected with the same keys and the replaced template recorded
// as the original; the third revert within a minute is not answered.
func TestGuardReinjects(t *testing.T) {
	d := injectedDeployment(t)
	d.Generation = 2
	manifest := deployment("web", map[string]string{rules.AnnotationKey: webRules})
	manifest.Spec.Template = *mustOriginal(t, d)
	manifest.Spec.Template.Labels["version"] = "2" // what the GitOps tool wants now
	cs := fake.NewSimpleClientset(d)
	r, err := rules.Parse(webRules)
	if err != nil {
		t.Fatal(err)
	}
	in := guard.Injection{Rules: r, Options: inject.Options{SyncletImage: "synclet:1", Port: 7777, Keys: "ed25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= dev@laptop"}}
	s := &said{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runGuard(ctx, kube.NewForClientset(cs, "dev"), map[workload.Ref]guard.Injection{{Kind: workload.Deployment, Name: "web"}: in}, s.say)
	}()

	time.Sleep(100 * time.Millisecond) // the informer lists the injected Deployment: nothing to say
	revert(t, cs, manifest, "kubectl-replace", 3)
	s.waitFor(t, `web: field manager "kubectl-replace" (kubectl replace) removed the injection: re-injecting`)
	s.waitFor(t, "web: re-injected, rolling out")
	got, err := cs.AppsV1().Deployments("dev").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if k, err := guard.Check(workload.Of(got), in); k != guard.Intact || err != nil {
		t.Errorf("after the re-injection: %s, %v", k, err)
	}
	if o := mustOriginal(t, got); !equality.Semantic.DeepEqual(o, &manifest.Spec.Template) {
		t.Errorf("recorded original is not the replaced template:\n%+v", o)
	}

	revert(t, cs, manifest, "argocd-controller", 5)
	s.waitFor(t, `web: field manager "argocd-controller" (Argo CD) removed the injection: re-injecting`)
	time.Sleep(100 * time.Millisecond)
	revert(t, cs, manifest, "argocd-controller", 7)
	s.waitFor(t, "3 times within a minute: up stops re-injecting web")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, err = cs.AppsV1().Deployments("dev").Get(context.Background(), "web", metav1.GetOptions{}); err != nil || inject.Carries(&got.Spec.Template) {
		t.Errorf("re-injected after giving up (%v)", err)
	}
	if n := strings.Count(strings.Join(s.lines, "\n"), "re-injected, rolling out"); n != 2 {
		t.Errorf("%d re-injections, want 2:\n%s", n, strings.Join(s.lines, "\n"))
	}
}

func mustOriginal(t *testing.T, d *appsv1.Deployment) *corev1.PodTemplateSpec {
	t.Helper()
	o, err := inject.Original(d.Annotations)
	if err != nil || o == nil {
		t.Fatalf("no recorded original: %v", err)
	}
	return o
}

// staleFirst delivers a state from before up's injection ahead of the real ones, as an informer's
// first list, served from the API server's watch cache, can.
type staleFirst struct {
	*kube.Client
	stale *appsv1.Deployment
}

func (s staleFirst) WatchWorkloads(ctx context.Context, refs []workload.Ref, on func(workload.Workload, bool), onErr func(error)) error {
	on(workload.Of(s.stale), false)
	return s.Client.WatchWorkloads(ctx, refs, on, onErr)
}

// TestGuardIgnoresStateOlderThanInjection: a template older than the injection up just made is no
// revert (once seen in CI: it was counted, and the give-up rule then came one revert early).
func TestGuardIgnoresStateOlderThanInjection(t *testing.T) {
	d := injectedDeployment(t)
	d.Generation = 2
	before := deployment("web", map[string]string{rules.AnnotationKey: webRules})
	before.Spec.Template = *mustOriginal(t, d)
	before.Generation = 1
	before.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "e2e.test", Operation: metav1.ManagedFieldsOperationUpdate,
		Time: &metav1.Time{Time: time.Now()}, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:template":{}}}`)}}}
	cs := fake.NewSimpleClientset(d)
	r, err := rules.Parse(webRules)
	if err != nil {
		t.Fatal(err)
	}
	in := guard.Injection{Rules: r, Options: inject.Options{SyncletImage: "synclet:1", Port: 7777, Keys: "ed25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= dev@laptop"}}
	s := &said{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runGuard(ctx, staleFirst{Client: kube.NewForClientset(cs, "dev"), stale: before}, map[workload.Ref]guard.Injection{{Kind: workload.Deployment, Name: "web"}: in}, s.say)
	}()
	time.Sleep(200 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(s.lines) != 0 {
		t.Errorf("a state from before the injection was taken for a revert:\n%s", strings.Join(s.lines, "\n"))
	}
}
