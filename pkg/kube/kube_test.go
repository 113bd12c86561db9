package kube

import (
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/httpstream"
)

// TestForbidden: a refused port-forward upgrade is recognised by its type, as each dialer reports it,
// and not by words in a message.
func TestForbidden(t *testing.T) {
	status := apierrors.NewForbidden(schema.GroupResource{Resource: "pods/portforward"}, "web-a", errors.New("RBAC: access denied"))
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"spdy status", status, true},
		{"websocket upgrade failure", &httpstream.UpgradeFailureError{Cause: status}, true},
		{"wrapped", fmt.Errorf("dialing: %w", status), true},
		{"other status", apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "web-a"), false},
		{"upgrade failure for another reason", &httpstream.UpgradeFailureError{Cause: errors.New("bad handshake (403 Forbidden)")}, false},
		{"text only", errors.New("forbidden"), false},
		{"none", nil, false},
	} {
		if got := forbidden(c.err); got != c.want {
			t.Errorf("%s: forbidden(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
