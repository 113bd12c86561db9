package cmd

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// newerServer is an API server newer than this client: its Deployment web carries fields the
// client's types do not know, and it applies JSON patches to its JSON as a real one does.
type newerServer struct {
	mu      sync.Mutex
	doc     []byte
	patches int
}

const newerDeployment = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"dev","resourceVersion":"1",
 "annotations":{"fastdev.dev/rules":"container: web\nsync:\n  - from: ./web/src\n    to: /app/src\n"}},
 "spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
  "spec":{"futureField":{"on":true},"containers":[{"name":"web","image":"web:1","command":["/app/web"],"futureSetting":7}]}}}}`

func (s *newerServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/version":
		_, _ = io.WriteString(w, `{"major":"1","minor":"40","gitVersion":"v1.40.0"}`)
	case r.URL.Path != "/apis/apps/v1/namespaces/dev/deployments/web":
		http.NotFound(w, r)
	case r.Method == http.MethodGet:
		_, _ = w.Write(s.doc)
	case r.Method == http.MethodPatch:
		s.patches++
		body, _ := io.ReadAll(r.Body)
		p, err := jsonpatch.DecodePatch(body)
		var out []byte
		if err == nil {
			out, err = p.Apply(s.doc)
		}
		if err != nil {
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Invalid","code":422}`)
			return
		}
		var d map[string]any
		_ = json.Unmarshal(out, &d)
		d["metadata"].(map[string]any)["resourceVersion"] = "2"
		s.doc, _ = json.Marshal(d)
		_, _ = w.Write(s.doc)
	}
}

// template returns the server's spec.template as generic JSON.
func (s *newerServer) template(t *testing.T) any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var d struct {
		Spec struct {
			Template any `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(s.doc, &d); err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template
}

// TestUpAndDownOnANewerServer: up's check of every Deployment, its patch and a second up, then down,
// against a server whose template has fields this client's types do not know: the fields stay
// through up, a second up finds the injection unchanged (not "changed meanwhile": the check plans on
// the server's JSON too) and down gives the template back exactly.
func TestUpAndDownOnANewerServer(t *testing.T) {
	s := &newerServer{doc: []byte(newerDeployment)}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, err := kube.New(&rest.Config{Host: srv.URL}, "dev")
	if err != nil {
		t.Fatal(err)
	}
	before := s.template(t)
	var typed appsv1.Deployment
	if err := json.Unmarshal(s.doc, &typed); err != nil {
		t.Fatal(err)
	}
	r, err := rules.Parse(webRules)
	if err != nil {
		t.Fatal(err)
	}
	var errOut strings.Builder
	up := &UpOptions{IOStreams: genericiooptions.IOStreams{Out: io.Discard, ErrOut: &errOut}, SyncletImage: "synclet:1", SyncletPort: 7777,
		client: c, targets: []workload.Workload{workload.Of(&typed)}, rules: map[string]*rules.Rules{"web": r}}
	for round := 0; round < 2; round++ {
		// each `up` reads its targets afresh, through the client's types
		typed = appsv1.Deployment{}
		if err := json.Unmarshal(s.doc, &typed); err != nil {
			t.Fatal(err)
		}
		opts, err := up.plan(context.Background())
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if _, err := up.inject(context.Background(), workload.Of(&typed), opts); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	if errOut.String() != "web: injected, rolling out\nweb: already injected, unchanged\n" || s.patches != 1 {
		t.Errorf("two ups said %q with %d patches", errOut.String(), s.patches)
	}
	spec := s.template(t).(map[string]any)["spec"].(map[string]any)
	if !reflect.DeepEqual(spec["futureField"], map[string]any{"on": true}) || spec["containers"].([]any)[0].(map[string]any)["futureSetting"] != 7.0 {
		t.Errorf("unknown fields after up: %v", spec)
	}
	var out strings.Builder
	down := &DownOptions{IOStreams: genericiooptions.IOStreams{Out: &out, ErrOut: io.Discard}, client: c, targets: []workload.Workload{workload.Of(&typed)}}
	if err := down.Run(context.Background()); err != nil || out.String() != "web: restored\n" {
		t.Fatalf("down: %v, %q", err, out.String())
	}
	if after := s.template(t); !reflect.DeepEqual(after, before) {
		t.Errorf("template after down:\n%v\nwant\n%v", after, before)
	}
}
