package workload

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		arg, want, lease, err string
	}{
		{"web", "web", "web", ""},
		{"deploy/web", "web", "web", ""},
		{"deployments/web", "web", "web", ""},
		{"Deployment.apps/web", "web", "web", ""},
		{"sts/db", "statefulset/db", "sts-db", ""},
		{"statefulsets/db", "statefulset/db", "sts-db", ""},
		{"ds/agent", "daemonset/agent", "ds-agent", ""},
		{"DaemonSet/agent", "daemonset/agent", "ds-agent", ""},
		{"replicaset/web", "", "", `unknown kind "replicaset": give NAME (a Deployment), deployment/NAME (deploy), statefulset/NAME (sts) or daemonset/NAME (ds)`},
		{"sts/", "", "", `target "sts/": give NAME`},
		{"sts/a/b", "", "", `target "sts/a/b"`},
		{"", "", "", `target "": give NAME`},
	} {
		t.Run(tc.arg, func(t *testing.T) {
			r, err := ParseRef(tc.arg)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, %v; want an error with %q", r, err, tc.err)
				}
				return
			}
			if err != nil || r.String() != tc.want || r.LeaseKey() != tc.lease {
				t.Errorf("got %q (lease %q), %v; want %q (lease %q)", r, r.LeaseKey(), err, tc.want, tc.lease)
			}
		})
	}
}

func TestParseRefsOnceEach(t *testing.T) {
	refs, err := ParseRefs([]string{"web", "deploy/web", "sts/web"})
	if err != nil || len(refs) != 2 || refs[1] != (Ref{StatefulSet, "web"}) {
		t.Errorf("got %v, %v", refs, err)
	}
}

func TestRollout(t *testing.T) {
	two, three := int32(2), int32(3)
	sts := func(u appsv1.StatefulSetUpdateStrategy) Workload {
		return Of(&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: appsv1.StatefulSetSpec{Replicas: &three, UpdateStrategy: u}})
	}
	part := func(p *int32) appsv1.StatefulSetUpdateStrategy {
		return appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: p}}
	}
	for _, tc := range []struct {
		name string
		w    Workload
		want string
	}{
		{"deployment", Of(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web"}}), ""},
		{"sts rolling", sts(appsv1.StatefulSetUpdateStrategy{}), "statefulset/db: its pods are replaced one at a time, highest ordinal first"},
		{"sts on delete", sts(appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}),
			"statefulset/db: waiting for its pods to be deleted: its updateStrategy is OnDelete, so injected pods appear only as the old ones go (`kubectl delete pod -l app=db`)"},
		{"sts partition", sts(part(&two)), "only pods db-2 and above get the injection"},
		{"sts partition past replicas", sts(part(&three)), "waiting for pods that will not come: its rollingUpdate partition is 3 and it has 3 replicas"},
		{"ds", Of(&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent"}}), "daemonset/agent: one pod per node"},
		{"ds on delete", Of(&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent"},
			Spec: appsv1.DaemonSetSpec{UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}}}), "daemonset/agent: waiting for its pods to be deleted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Rollout(tc.w, "app="+tc.w.Ref().Name)
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCopyIsDeep(t *testing.T) {
	s := Of(&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Annotations: map[string]string{"a": "1"}}})
	c := Copy(s)
	c.Meta().Annotations["a"] = "2"
	c.Template().Labels = map[string]string{"x": "y"}
	if s.Meta().Annotations["a"] != "1" || s.Template().Labels != nil || c.Ref() != s.Ref() {
		t.Errorf("the copy shares state with the original: %v %v", s.Meta().Annotations, s.Template().Labels)
	}
}
