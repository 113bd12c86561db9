package kube

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// futureDeployment carries fields no k8s.io/api type knows, as a newer API server sends them.
const futureDeployment = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"dev","resourceVersion":"7"},` +
	`"spec":{"template":{"spec":{"futureField":{"a":1},"containers":[{"name":"web","image":"web:1","futureSetting":true}]}}}}`

// apiServer answers GET and PATCH of deployment web; the first `stale` patches fail as a failed
// resourceVersion test does (422, reason Invalid).
type apiServer struct {
	mu      sync.Mutex
	stale   int
	gets    []string // Accept headers
	patches []string
}

func (s *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path != "/apis/apps/v1/namespaces/dev/deployments/web" && r.URL.Path != "/apis/apps/v1/namespaces/dev/statefulsets/web" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.Method {
	case http.MethodGet:
		s.gets = append(s.gets, r.Header.Get("Accept"))
		_, _ = io.WriteString(w, futureDeployment)
	case http.MethodPatch:
		b, _ := io.ReadAll(r.Body)
		s.patches = append(s.patches, r.URL.Query().Get("fieldManager")+" "+r.Header.Get("Content-Type")+" "+string(b))
		if len(s.patches) <= s.stale {
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Invalid","code":422,"message":"the server rejected our request due to an error in our request"}`)
			return
		}
		_, _ = io.WriteString(w, futureDeployment)
	}
}

// TestGetWorkloadRaw: the bytes are the server's, fields unknown to the client's types included,
// asked for as JSON, at the path of the workload's kind.
func TestGetWorkloadRaw(t *testing.T) {
	s := &apiServer{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, err := New(&rest.Config{Host: srv.URL, ContentConfig: rest.ContentConfig{ContentType: "application/vnd.kubernetes.protobuf"}}, "dev")
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []workload.Ref{{Kind: workload.Deployment, Name: "web"}, {Kind: workload.StatefulSet, Name: "web"}} {
		raw, err := c.GetWorkloadRaw(context.Background(), ref)
		if err != nil {
			t.Fatal(err)
		}
		if string(raw) != futureDeployment {
			t.Errorf("got %s, want the server's bytes", raw)
		}
	}
	if len(s.gets) != 2 || s.gets[0] != "application/json" {
		t.Errorf("Accept headers %q, want application/json", s.gets)
	}
	if _, err := c.GetWorkloadRaw(context.Background(), workload.Ref{Kind: workload.DaemonSet, Name: "web"}); !apierrors.IsNotFound(err) {
		t.Errorf("missing daemonset: %v", err)
	}
}

// TestPatchWorkloadRaw: the plan sees the server's JSON; a stale patch is planned again on a fresh
// read; the patch goes as a JSON patch under kubectl-fastdev's field manager; a plan with nothing to
// do patches nothing.
func TestPatchWorkloadRaw(t *testing.T) {
	s := &apiServer{stale: 1}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, err := New(&rest.Config{Host: srv.URL}, "dev")
	if err != nil {
		t.Fatal(err)
	}
	planned := 0
	web := workload.Ref{Kind: workload.Deployment, Name: "web"}
	err = c.PatchWorkloadRaw(context.Background(), web, "patching", func(raw []byte) ([]byte, error) {
		planned++
		var d map[string]any
		if err := json.Unmarshal(raw, &d); err != nil || !strings.Contains(string(raw), "futureField") {
			t.Errorf("plan got %s (%v)", raw, err)
		}
		return []byte(`[{"op":"test","path":"/metadata/resourceVersion","value":"7"}]`), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if planned != 2 || len(s.gets) != 2 || len(s.patches) != 2 {
		t.Errorf("planned %d times, %d reads, %d patches; want 2 each", planned, len(s.gets), len(s.patches))
	}
	if want := "kubectl-fastdev application/json-patch+json ["; !strings.HasPrefix(s.patches[1], want) {
		t.Errorf("patch sent as %q, want prefix %q", s.patches[1], want)
	}
	s.patches = nil
	if err := c.PatchWorkloadRaw(context.Background(), web, "patching", func([]byte) ([]byte, error) { return nil, nil }); err != nil || len(s.patches) != 0 {
		t.Errorf("nothing to do: %v, %d patches", err, len(s.patches))
	}
	s.stale = 100
	if err := c.PatchWorkloadRaw(context.Background(), web, "restoring", func([]byte) ([]byte, error) { return []byte(`[]`), nil }); err == nil ||
		!strings.HasPrefix(err.Error(), `restoring deployment "web": `) || len(s.patches) != 1+staleRetries {
		t.Errorf("always stale: %v after %d patches", err, len(s.patches))
	}
}
