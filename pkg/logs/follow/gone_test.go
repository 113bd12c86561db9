package follow

import (
	"context"
	"errors"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
)

// TestGonePodIsNoWarning: a pod that was replaced has no log to read; the API's NotFound for it is
// not a warning (the live view showed one per container of every replaced pod), while any other
// failure to read a log still is.
func TestGonePodIsNoWarning(t *testing.T) {
	gone := apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "web-1")
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"pod gone", gone, 0},
		{"other failure", errors.New("connection reset"), 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			api := &fakeAPI{pods: []corev1.Pod{pod("web-1", running("containerd://a"))}, errs: map[string]error{"web-1/web": c.err}}
			var mu sync.Mutex
			var warnings []string
			cfg := Config{Targets: []Target{target}, Dir: ".", Warn: func(m string) { mu.Lock(); warnings = append(warnings, m); mu.Unlock() }}
			if err := Run(context.Background(), api, cfg, func(logs.Item) {}); err != nil {
				t.Fatal(err)
			}
			if len(warnings) != c.want {
				t.Errorf("warnings: %q, want %d", warnings, c.want)
			}
		})
	}
}
