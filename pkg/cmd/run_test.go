package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

func TestParseRunArgs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		dash    int
		dep     string
		argv    []string
		errWith string
	}{
		{"deployment and command", []string{"web", "go", "generate", "./..."}, 1, "web", []string{"go", "generate", "./..."}, ""},
		{"nothing", nil, -1, "", nil, "name the workload"},
		{"no dash", []string{"web", "ls"}, -1, "", nil, "put `--` before the command"},
		{"no command after the dash", []string{"web"}, 1, "", nil, "no command after `--`"},
		{"two deployments", []string{"web", "api", "ls"}, 2, "", nil, "exactly one workload"},
		{"dash first", []string{"ls"}, 0, "", nil, "exactly one workload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dep, argv, err := parseRunArgs(tc.args, tc.dash)
			if tc.errWith != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errWith) {
					t.Fatalf("got %v, want an error with %q", err, tc.errWith)
				}
				return
			}
			if err != nil || dep != tc.dep || !slices.Equal(argv, tc.argv) {
				t.Errorf("got %q %q %v", dep, argv, err)
			}
		})
	}
}

// runDeployment is a Deployment as `up` leaves it, with the given rules (none: no annotation).
func runDeployment(t *testing.T, rulesText string, annotations map[string]string) *appsv1.Deployment {
	t.Helper()
	orig := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}, {Name: "proxy"}}}}
	b, err := json.Marshal(orig)
	if err != nil {
		t.Fatal(err)
	}
	a := map[string]string{inject.AnnotationOriginal: string(b), inject.AnnotationKeys: "ed25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= dev@laptop", inject.AnnotationPort: "17220"}
	if rulesText != "" {
		a[rules.AnnotationKey] = rulesText
	}
	for k, v := range annotations {
		if v == "" {
			delete(a, k)
		} else {
			a[k] = v
		}
	}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Annotations: a}}
}

func TestReadRunTarget(t *testing.T) {
	proxyRules := "container: proxy\nsync:\n  - from: .\n    to: /app\n"
	listRules := "containers:\n  - container: api\n    sync: [{from: ./api, to: /app}]\n  - container: worker\n    sync: [{from: ./worker, to: /app}]\n"
	for _, tc := range []struct {
		name    string
		d       *appsv1.Deployment
		want    runTarget
		errWith string
	}{
		{"first container by default", runDeployment(t, "", nil), runTarget{keys: "ed25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= dev@laptop", port: 17220, containers: []string{"app"}}, ""},
		{"the rules' container", runDeployment(t, proxyRules, nil), runTarget{keys: "ed25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= dev@laptop", port: 17220, containers: []string{"proxy"}}, ""},
		{"the list form's containers", runDeployment(t, listRules, nil), runTarget{keys: "ed25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= dev@laptop", port: 17220, containers: []string{"api", "worker"}}, ""},
		{"not injected", runDeployment(t, "", map[string]string{inject.AnnotationOriginal: "", inject.AnnotationKeys: ""}), runTarget{}, "kubectl fastdev up web"},
		{"bad port", runDeployment(t, "", map[string]string{inject.AnnotationPort: "x"}), runTarget{}, "not a port"},
		{"bad rules", runDeployment(t, "nope: 1\n", nil), runTarget{}, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readRunTarget(workload.Of(tc.d))
			if tc.errWith != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errWith) {
					t.Fatalf("got %v, want an error with %q", err, tc.errWith)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v %v, want %+v", got, err, tc.want)
			}
		})
	}
	if _, err := readRunTarget(workload.Of(runDeployment(t, "", map[string]string{inject.AnnotationOriginal: "", inject.AnnotationKeys: ""}))); !errors.Is(err, inject.ErrNotInjected) {
		t.Errorf("a Deployment that is not injected: %v, want inject.ErrNotInjected", err)
	}
}

func TestReadyInjected(t *testing.T) {
	pod := func(name string, injected bool, phase corev1.PodPhase, ready, deleting bool) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}}, Status: corev1.PodStatus{Phase: phase}}
		if injected {
			p.Annotations[inject.AnnotationInjected] = "img"
		}
		if ready {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}
		if deleting {
			p.DeletionTimestamp = &metav1.Time{}
		}
		return p
	}
	got := readyInjected([]corev1.Pod{
		pod("web-c", true, corev1.PodRunning, true, false),
		pod("web-a", true, corev1.PodRunning, true, false),
		pod("web-old", false, corev1.PodRunning, true, false),
		pod("web-starting", true, corev1.PodRunning, false, false),
		pod("web-pending", true, corev1.PodPending, false, false),
		pod("web-going", true, corev1.PodRunning, true, true),
	})
	if want := []string{"web-a", "web-c"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRunValidate(t *testing.T) {
	base := RunOptions{Name: "web", target: runTarget{containers: []string{"app"}}, pods: []string{"web-a"}}
	listed := func(o *RunOptions) { o.target.containers = []string{"api", "worker", "cron"} }
	for _, tc := range []struct {
		name    string
		change  func(*RunOptions)
		errWith string
		in      string // the container the synclet's run path names
	}{
		{"defaults", func(*RunOptions) {}, "", ""},
		{"the dev container named", func(o *RunOptions) { o.Container = "app" }, "", ""},
		{"another container", func(o *RunOptions) { o.Container = "proxy" }, "develops container app (the rules' container), and run reaches only those", ""},
		{"list form: the first by default", listed, "", ""},
		{"list form: the first named", func(o *RunOptions) { listed(o); o.Container = "api" }, "", ""},
		{"list form: another listed", func(o *RunOptions) { listed(o); o.Container = "worker" }, "", "worker"},
		{"list form: not listed", func(o *RunOptions) { listed(o); o.Container = "proxy" }, "develops containers api, worker, cron (the rules' containers: list)", ""},
		{"no ready pod", func(o *RunOptions) { o.pods = nil }, "no ready injected pod", ""},
		{"stdin to every pod", func(o *RunOptions) { o.All, o.Stdin = true, true }, "-i with --all", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.change(&o)
			err := o.Validate()
			if (err == nil) != (tc.errWith == "") || (err != nil && !strings.Contains(err.Error(), tc.errWith)) {
				t.Errorf("got %v, want an error with %q", err, tc.errWith)
			}
			if err == nil && o.target.in != tc.in {
				t.Errorf("runs in %q, want %q", o.target.in, tc.in)
			}
		})
	}
}

// TestRunFlags: -c completes (its completion function is registered).
func TestRunFlags(t *testing.T) {
	cmd := NewCmdRun(nil, genericiooptions.NewTestIOStreamsDiscard())
	if _, ok := cmd.GetFlagCompletionFunc("container"); !ok {
		t.Error("-c has no completion function")
	}
}

func TestRunOutcome(t *testing.T) {
	ok := func(code int, why string) podResult {
		return podResult{res: &protocol.Event{Type: protocol.EventResult, ExitCode: code, Error: why}}
	}
	pods, argv := []string{"web-a", "web-b"}, []string{"make", "gen"}
	for _, tc := range []struct {
		name    string
		results []podResult
		code    int // 0: no ExitError
		msgWith string
	}{
		{"all succeed", []podResult{ok(0, ""), ok(0, "")}, 0, ""},
		{"the first non-zero in pod order", []podResult{ok(0, ""), ok(3, "")}, 3, ""},
		{"first pod wins", []podResult{ok(2, ""), ok(3, "")}, 2, ""},
		{"not found explained", []podResult{ok(127, "")}, 127, "command not found"},
		{"not executable explained", []podResult{ok(126, "")}, 126, "not executable"},
		{"killed explained", []podResult{ok(137, "")}, 137, "memory limit"},
		{"could not start", []podResult{ok(127, "command [\"x\"] could not start: no such file")}, 127, "could not start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := runOutcome(pods[:len(tc.results)], argv, tc.results)
			var ee *ExitError
			switch {
			case tc.code == 0 && err != nil:
				t.Fatalf("got %v", err)
			case tc.code == 0:
				return
			case !errors.As(err, &ee) || ee.Code != tc.code || !strings.Contains(ee.Msg, tc.msgWith) || (tc.msgWith == "") != (ee.Msg == ""):
				t.Errorf("got %#v, want code %d with a message containing %q", err, tc.code, tc.msgWith)
			}
		})
	}
	err := runOutcome(pods, argv, []podResult{ok(0, ""), {err: errors.New("port-forward refused")}})
	var ee *ExitError
	if err == nil || errors.As(err, &ee) || !strings.Contains(err.Error(), "pod web-b: port-forward refused") {
		t.Errorf("a pod it could not run in: %v", err)
	}
}

func TestPrefixWriter(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	a, b := &prefixWriter{w: &out, mu: &mu, prefix: "[a] "}, &prefixWriter{w: &out, mu: &mu, prefix: "[b] "}
	for _, step := range []struct {
		w *prefixWriter
		s string
	}{{a, "one\ntw"}, {b, "x\n"}, {a, "o\nthree\n"}, {b, "partial"}} {
		if _, err := step.w.Write([]byte(step.s)); err != nil {
			t.Fatal(err)
		}
	}
	flushPrefixed(a, b, &out)
	if want := "[a] one\n[b] x\n[a] two\n[a] three\n[b] partial\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
