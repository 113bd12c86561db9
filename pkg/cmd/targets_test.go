package cmd

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// TestFindWorkloads: targets in kubectl's form find their kind; the default set spans every kind
// (skipping one the user may not list), and unknown kinds or names say what a target looks like.
func TestFindWorkloads(t *testing.T) {
	notes := map[string]string{rules.AnnotationKey: "sync: []"}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "dev", Annotations: notes}
	}
	cs := fake.NewSimpleClientset(&appsv1.Deployment{ObjectMeta: meta("web")}, &appsv1.StatefulSet{ObjectMeta: meta("web")},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: "dev"}})
	cs.PrependReactor("list", "daemonsets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "daemonsets"}, "", errors.New("no"))
	})
	c := kube.NewForClientset(cs, "dev")
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		want string // the targets found, or the error
	}{
		{nil, "web statefulset/web"},
		{[]string{"sts/web", "web"}, "statefulset/web web"},
		{[]string{"statefulset/plain"}, "statefulset/plain"},
		{[]string{"rs/web"}, `unknown kind "rs"`},
		{[]string{"sts/nope"}, `statefulset "nope" in namespace "dev"`},
		{[]string{"ds/agent"}, `daemonset "agent" in namespace "dev"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			ws, err := FindAnnotated(ctx, c, tc.args, "")
			got := names(ws)
			if err != nil {
				got = err.Error()
				if !strings.Contains(got, "statefulset/NAME (sts)") && !strings.Contains(got, "Role") {
					t.Errorf("error %q does not name the valid forms", got)
				}
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
