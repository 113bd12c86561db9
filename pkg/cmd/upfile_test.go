package cmd

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/workload"
)

// apply runs patch on doc as the API server would (nil patch: unchanged).
func apply(t *testing.T, doc string, patch []byte) string {
	t.Helper()
	if patch == nil {
		return doc
	}
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply([]byte(doc))
	if err != nil {
		t.Fatalf("applying %s: %v", patch, err)
	}
	return string(out)
}

func annotations(t *testing.T, doc string) map[string]string {
	t.Helper()
	_, a, err := notes([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestRulesRoundTrip: what up -f writes, down's restore takes back, whatever the workload had:
// no annotations, others, or rules of its own; a second up -f keeps the first record.
func TestRulesRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		doc  string
	}{
		{"no annotations", `{"metadata":{"name":"web","resourceVersion":"7"}}`},
		{"other annotations", `{"metadata":{"name":"web","resourceVersion":"7","annotations":{"team":"a/b"}}}`},
		{"rules of its own", `{"metadata":{"name":"web","resourceVersion":"7","annotations":{"fastdev.dev/rules":"sync: []"}}}`},
		{"empty rules", `{"metadata":{"name":"web","resourceVersion":"7","annotations":{"fastdev.dev/rules":""}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := annotations(t, tt.doc)
			p, err := rulesPatch([]byte(tt.doc), "sync: [{from: ., to: /app}]\n", true)
			if err != nil {
				t.Fatal(err)
			}
			written := apply(t, tt.doc, p)
			if got := annotations(t, written)[rules.AnnotationKey]; got != "sync: [{from: ., to: /app}]\n" {
				t.Fatalf("rules written: %q", got)
			}
			again, err := rulesPatch([]byte(written), "sync: [{from: ., to: /srv}]\n", true)
			if err != nil {
				t.Fatal(err)
			}
			written = apply(t, written, again)
			r, err := rulesRestorePatch([]byte(written))
			if err != nil {
				t.Fatal(err)
			}
			after := annotations(t, apply(t, written, r))
			if len(after) != len(before) {
				t.Fatalf("after down: %q, before up -f: %q", after, before)
			}
			for k, v := range before {
				if after[k] != v {
					t.Errorf("annotation %s: %q after down, %q before", k, after[k], v)
				}
			}
		})
	}
}

// TestRulesPatchUnchanged: the same rules write nothing, and init (no record) records nothing;
// a workload up -f never wrote is not touched by the restore.
func TestRulesPatchUnchanged(t *testing.T) {
	doc := `{"metadata":{"resourceVersion":"7","annotations":{"fastdev.dev/rules":"x"}}}`
	if p, err := rulesPatch([]byte(doc), "x", true); p != nil || err != nil {
		t.Errorf("same rules: %s %v", p, err)
	}
	p, err := rulesPatch([]byte(doc), "y", false)
	if err != nil || strings.Contains(string(p), AnnotationRulesBefore) || !strings.Contains(string(p), `"test"`) {
		t.Errorf("init's patch: %s %v", p, err)
	}
	if p, err := rulesRestorePatch([]byte(doc)); p != nil || err != nil {
		t.Errorf("restore without a record: %s %v", p, err)
	}
	bad := `{"metadata":{"resourceVersion":"7","annotations":{"fastdev.dev/rules-before-file":"{"}}}`
	if _, err := rulesRestorePatch([]byte(bad)); err == nil || !strings.Contains(err.Error(), "remove "+AnnotationRulesBefore) {
		t.Errorf("bad record: %v", err)
	}
}

// TestPickEntries: the file's workloads, or those named; a name not in the file and a workload
// named twice are refused with the file and line.
func TestPickEntries(t *testing.T) {
	entries := []rules.FileEntry{{Target: "web", Line: 1}, {Target: "statefulset/db", Line: 5}}
	got, err := pickEntries("f.yaml", entries, nil)
	if err != nil || len(got) != 2 {
		t.Fatalf("all: %v %v", got, err)
	}
	got, err = pickEntries("f.yaml", entries, []string{"sts/db"})
	if err != nil || len(got) != 1 || got[0].Target != "statefulset/db" {
		t.Errorf("named: %v %v", got, err)
	}
	if _, err := pickEntries("f.yaml", entries, []string{"api"}); err == nil || !strings.Contains(err.Error(), "api is not in f.yaml") {
		t.Errorf("not in the file: %v", err)
	}
	dup := append(entries, rules.FileEntry{Target: "deployment/web", Line: 9})
	if _, err := pickEntries("f.yaml", dup, nil); err == nil || !strings.HasPrefix(err.Error(), "f.yaml, line 9, deployment/web: names the same workload as web on line 1") {
		t.Errorf("twice: %v", err)
	}
	bad := []rules.FileEntry{{Target: "job/x", Line: 3}}
	if _, err := pickEntries("f.yaml", bad, nil); err == nil || !strings.HasPrefix(err.Error(), "f.yaml, line 3, job/x:") {
		t.Errorf("bad kind: %v", err)
	}
}

// TestShowRulesChange: --dry-run shows a new annotation, a diff, or that nothing changes.
func TestShowRulesChange(t *testing.T) {
	ref := workload.Ref{Kind: workload.Deployment, Name: "web"}
	var b bytes.Buffer
	old := "sync:\n  - {from: ., to: /app}\n"
	showRulesChange(&b, ref, &old, "sync:\n  - {from: ., to: /srv}\n")
	showRulesChange(&b, ref, nil, "restart: none\n")
	showRulesChange(&b, ref, &old, old)
	want := []string{"web: would change annotation fastdev.dev/rules:", "-  - {from: ., to: /app}", "+  - {from: ., to: /srv}",
		"web: would add annotation fastdev.dev/rules:\n    restart: none\n", "web: annotation fastdev.dev/rules unchanged"}
	for _, w := range want {
		if !strings.Contains(b.String(), w) {
			t.Errorf("missing %q in\n%s", w, b.String())
		}
	}
}

// TestAnnotationPath: keys with "/" and "~" are escaped as JSON pointers.
func TestAnnotationPath(t *testing.T) {
	if got := annotationPath("fastdev.dev/rules~x"); got != "/metadata/annotations/fastdev.dev~1rules~0x" {
		t.Error(got)
	}
	var v priorRules
	if err := json.Unmarshal([]byte(`{"rules":null}`), &v); err != nil || v.Rules != nil {
		t.Error("a null record is no rules")
	}
}

// TestFindTargetsRefusals: --dry-run without -f, and -f with -l, are refused before the cluster is
// asked anything.
func TestFindTargetsRefusals(t *testing.T) {
	for _, tt := range []struct {
		o    *UpOptions
		want string
	}{
		{&UpOptions{file: fileOptions{DryRun: true}}, "--dry-run shows what -f would write: give a rules file with -f"},
		{&UpOptions{Selector: "app=web", file: fileOptions{Name: "f.yaml"}}, "give -f or --selector, not both"},
	} {
		if _, err := tt.o.findTargets(t.Context()); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("got %v, want %s", err, tt.want)
		}
	}
}
