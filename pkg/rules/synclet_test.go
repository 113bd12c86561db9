package rules

import (
	"errors"
	"strings"
	"testing"
)

// TestSyncletResources: the rules' synclet.resources are read as quantities per resource.
func TestSyncletResources(t *testing.T) {
	r, err := Parse(sync0 + "synclet:\n  resources:\n    requests: {cpu: 50m, memory: 32Mi}\n    limits:\n      cpu: 1\n      memory: 1Gi\n      ephemeral-storage: 2Gi\n")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for n, q := range r.Synclet.Requests {
		got["requests."+n] = q.String()
	}
	for n, q := range r.Synclet.Limits {
		got["limits."+n] = q.String()
	}
	want := map[string]string{"requests.cpu": "50m", "requests.memory": "32Mi", "limits.cpu": "1", "limits.memory": "1Gi", "limits.ephemeral-storage": "2Gi"}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if r, err := Parse(sync0); err != nil || r.Synclet.Requests != nil || r.Synclet.Limits != nil {
		t.Errorf("no synclet key: %+v, %v", r.Synclet, err)
	}
}

// TestSyncletErrors: mistakes under synclet name their line and key and what to write.
func TestSyncletErrors(t *testing.T) {
	cases := []struct {
		name, text string
		line       int
		key, fix   string
	}{
		{"not a mapping", sync0 + "synclet: big\n", 2, "synclet", "must be a mapping with keys resources"},
		{"unknown key", sync0 + "synclet:\n  resource: {}\n", 3, "synclet.resource", `did you mean "resources"?`},
		{"resources at the top", sync0 + "resources: {}\n", 2, "resources", "belongs inside synclet (synclet.resources)"},
		{"unknown kind", sync0 + "synclet:\n  resources:\n    request: {cpu: 1}\n", 4, "synclet.resources.request", `did you mean "requests"?`},
		{"unknown resource", sync0 + "synclet:\n  resources:\n    limits: {nvidia.com/gpu: 1}\n", 4, "synclet.resources.limits.nvidia.com/gpu", "cpu, memory, ephemeral-storage"},
		{"not a quantity", sync0 + "synclet:\n  resources:\n    limits:\n      memory: lots\n", 5, "synclet.resources.limits.memory", `"lots" is not a quantity: write one such as 64Mi or 1Gi`},
		{"a list", sync0 + "synclet:\n  resources:\n    requests:\n      cpu: [1]\n", 5, "synclet.resources.requests.cpu", "must be a quantity such as 100m or 1, not a list"},
		{"zero", sync0 + "synclet:\n  resources:\n    requests: {cpu: 0}\n", 4, "synclet.resources.requests.cpu", "must be more than zero"},
		{"request over limit", sync0 + "synclet:\n  resources:\n    requests: {memory: 1Gi}\n    limits: {memory: 64Mi}\n", 4, "synclet.resources.requests.memory",
			"1Gi is more than limits.memory 64Mi: a container cannot request more than its limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.text)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want a *rules.Error", err)
			}
			if e.Line != c.line || e.Key != c.key || !strings.Contains(e.Msg, c.fix) {
				t.Errorf("got line %d key %q msg %q; want line %d key %q msg containing %q", e.Line, e.Key, e.Msg, c.line, c.key, c.fix)
			}
		})
	}
}
