package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
)

func dep(ns, name string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func TestDeploymentNames(t *testing.T) {
	cs := fake.NewClientset(dep("dev", "web"), dep("dev", "api"), dep("dev", "worker"), dep("other", "db"))
	c := kube.NewForClientset(cs, "dev")
	for _, tc := range []struct {
		name   string
		given  []string
		prefix string
		want   []string
	}{
		{"all in the namespace, sorted", nil, "", []string{"api", "web", "worker"}},
		{"by prefix", nil, "w", []string{"web", "worker"}},
		{"names already given are not offered again", []string{"web"}, "", []string{"api", "worker"}},
		{"no match", nil, "x", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := targetNames(context.Background(), c, tc.given, tc.prefix)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDeploymentNamesListError(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("list", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	if _, err := targetNames(context.Background(), kube.NewForClientset(cs, "dev"), nil, ""); err == nil {
		t.Fatal("no error when the API server fails the list")
	}
}

// TestCompleteThroughCobra runs cobra's hidden __complete command, which is what the shell (and the
// kubectl_complete-fastdev helper) call, against an API server that serves one namespace's Deployments:
// it checks the commands that take Deployment names are wired, and that -n and --kubeconfig typed on
// the command line choose the cluster and namespace.
func TestCompleteThroughCobra(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var list any
		switch r.URL.Path {
		case "/apis/apps/v1/namespaces/dev/deployments":
			list = appsv1.DeploymentList{
				TypeMeta: metav1.TypeMeta{Kind: "DeploymentList", APIVersion: "apps/v1"},
				Items:    []appsv1.Deployment{*dep("dev", "web"), *dep("dev", "api")},
			}
		case "/apis/apps/v1/namespaces/dev/statefulsets":
			list = appsv1.StatefulSetList{
				TypeMeta: metav1.TypeMeta{Kind: "StatefulSetList", APIVersion: "apps/v1"},
				Items:    []appsv1.StatefulSet{{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "dev"}}},
			}
		case "/apis/apps/v1/namespaces/dev/daemonsets":
			// a Role of an older release grants Deployments only: that kind is left out, not an error
			http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403}`, http.StatusForbidden)
			return
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list)
	}))
	defer srv.Close()
	kubeconfig := filepath.Join(t.TempDir(), "config")
	err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+srv.URL+`"}}]
users: [{name: u, user: {}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"up", ""}, []string{"api", "statefulset/db", "web"}},
		{[]string{"up", "sts/"}, []string{"sts/db"}},
		{[]string{"up", "statefulset/db", ""}, []string{"api", "web"}},
		{[]string{"down", "web", ""}, []string{"api", "statefulset/db"}},
		{[]string{"status", "a"}, []string{"api"}},
		{[]string{"run", ""}, []string{"api", "statefulset/db", "web"}},
		{[]string{"run", "web", ""}, nil},            // run takes one Deployment; the command after it runs in the pod
		{[]string{"-n", "elsewhere", "up", ""}, nil}, // the server knows no such namespace
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			streams, _, out, _ := genericiooptions.NewTestIOStreams()
			root := NewCmdRoot(streams)
			root.SetArgs(append([]string{"__complete", "--kubeconfig", kubeconfig, "-n", "dev"}, tc.args...))
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			// the last line is cobra's directive: 4 = ShellCompDirectiveNoFileComp (names, never files)
			if d := lines[len(lines)-1]; d != ":4" {
				t.Errorf("directive %q, want :4 (no file completion); output:\n%s", d, out)
			}
			if got := lines[:len(lines)-1]; !slices.Equal(got, tc.want) {
				t.Errorf("completions %q, want %q", got, tc.want)
			}
		})
	}
}

func TestShellCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		t.Run(shell, func(t *testing.T) {
			streams, _, out, _ := genericiooptions.NewTestIOStreams()
			root := NewCmdRoot(streams)
			root.SetArgs([]string{"completion", shell})
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			// the script must call back into this binary's __complete for the dynamic parts
			if !strings.Contains(out.String(), "kubectl-fastdev") || !strings.Contains(out.String(), "__complete") {
				t.Errorf("%s script does not complete kubectl-fastdev through __complete:\n%.400s", shell, out)
			}
		})
	}
}
