package kube

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestEvents(t *testing.T) {
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e1", Namespace: "dev"}, Type: "Warning", Reason: "BackOff"}
	cs := fake.NewSimpleClientset(ev)
	var selectors []string
	cs.PrependReactor("list", "events", func(a k8stesting.Action) (bool, runtime.Object, error) {
		selectors = append(selectors, "list "+a.(k8stesting.ListAction).GetListRestrictions().Fields.String())
		return false, nil, nil
	})
	cs.PrependWatchReactor("events", func(a k8stesting.Action) (bool, watch.Interface, error) {
		r := a.(k8stesting.WatchAction).GetWatchRestrictions()
		selectors = append(selectors, "watch "+r.Fields.String()+" from "+r.ResourceVersion)
		return false, nil, nil
	})
	c := NewForClientset(cs, "dev")
	list, _, err := c.ListEvents(context.Background(), "type=Warning")
	if err != nil || len(list) != 1 || list[0].Reason != "BackOff" {
		t.Fatalf("ListEvents: %v, %+v", err, list)
	}
	w, err := c.WatchEvents(context.Background(), "type=Warning", "42")
	if err != nil {
		t.Fatal(err)
	}
	w.Stop()
	if strings.Join(selectors, "; ") != "list type=Warning; watch type=Warning from 42" {
		t.Errorf("requests: %q", selectors)
	}

	cs.PrependReactor("list", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "", errors.New("no"))
	})
	if _, _, err := c.ListEvents(context.Background(), ""); err == nil || !strings.Contains(err.Error(), `Role granting verb "list" on "events"`) {
		t.Errorf("forbidden list: %v", err)
	}
}

func TestStreamLogs(t *testing.T) {
	cs := fake.NewSimpleClientset(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "dev"}})
	rc, err := NewForClientset(cs, "dev").StreamLogs(context.Background(), "web-1", &corev1.PodLogOptions{Container: "web", Timestamps: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil || string(b) != "fake logs" { // what client-go's fake serves for any pod's log
		t.Errorf("log: %q, %v", b, err)
	}
}
