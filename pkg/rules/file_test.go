package rules

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const twoWorkloads = `# rules for the two services of this repository
deployment/web:
  container: web
  sync:
    - from: ./web/src   # the Go module
      to: /app/src
  run:
    - cmd: go build -o /app/bin/server .
      trigger: ["**/*.go"]

api: {sync: [{from: ./api, to: /srv}], restart: none}
`

// TestParseFile: each workload's rules come back in file order, with the text the annotation gets
// (the file's lines, comments kept, dedented) and the line of its key.
func TestParseFile(t *testing.T) {
	got, err := ParseFile("fastdev.yaml", twoWorkloads)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d entries, want 2", len(got))
	}
	web, api := got[0], got[1]
	if web.Target != "deployment/web" || web.Line != 2 || api.Target != "api" || api.Line != 11 {
		t.Errorf("targets and lines: %q@%d %q@%d", web.Target, web.Line, api.Target, api.Line)
	}
	wantText := "container: web\nsync:\n  - from: ./web/src   # the Go module\n    to: /app/src\nrun:\n  - cmd: go build -o /app/bin/server .\n    trigger: [\"**/*.go\"]\n"
	if web.Text != wantText {
		t.Errorf("web text:\n%s\nwant:\n%s", web.Text, wantText)
	}
	if web.Rules.Container != "web" || web.Rules.Sync[0].To != "/app/src" || len(web.Rules.Run) != 1 {
		t.Errorf("web rules: %+v", web.Rules)
	}
	if api.Rules.Restart != "none" || api.Rules.Sync[0].From != "api" {
		t.Errorf("api rules: %+v", api.Rules)
	}
	// the text round-trips: parsed again it gives the same rules (what `up` reads back from the cluster)
	again, err := Parse(web.Text)
	if err != nil || again.Sync[0].Line != web.Rules.Sync[0].Line {
		t.Errorf("text does not parse back the same: %v %+v", err, again)
	}
}

// TestParseFileErrors: a mistake names the file, the line in the file and the key.
func TestParseFileErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       string
	}{
		{"bad key in the second workload", "web:\n  sync: [{from: ., to: /app}]\napi:\n  sync:\n    - from: .\n      too: /srv\n",
			`f.yaml, line 6, api, key "sync[0].too": unknown key "too"`},
		{"relative to in a flow entry", "web: {sync: [{from: ., to: app}]}\n",
			`f.yaml, line 1, web, key "sync[0].to": must be an absolute`},
		{"empty workload", "web:\nother:\n  sync: [{from: ., to: /a}]\n",
			`f.yaml, line 1, web, key "sync": is required`},
		{"empty file", "# nothing yet\n", `f.yaml, line 1: holds no workload`},
		{"rules at the top level", "sync:\n  - {from: ., to: /app}\n", `f.yaml, line 1, key "sync": is a rules key at the top level`},
		{"a list", "- web\n", `f.yaml, line 1: must be a mapping from workloads to their rules, not a list`},
		{"twice", "web:\n  sync: [{from: ., to: /a}]\nweb:\n  sync: [{from: ., to: /b}]\n",
			`f.yaml, line 3, web: is given twice (first on line 1)`},
		{"syntax", "web:\n  sync: [\n", `f.yaml, line 2: invalid YAML`},
		{"alias", "web: &r\n  sync: [{from: ., to: /a}]\napi: *r\n", `f.yaml, line 3, api: is an alias`},
		{"placeholder", "web:\n  sync:\n    - from: .\n      to: \"<where the image keeps the code>\"\n",
			`f.yaml, line 4, web, key "sync[0].to": is still the placeholder "<where the image keeps the code>"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile("f.yaml", tt.text)
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a *FileError", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got  %s\nwant %s...", err, tt.want)
			}
		})
	}
}

// TestLoadFile: a missing file names the flag to fix.
func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "-f") {
		t.Errorf("missing file: %v", err)
	}
	name := filepath.Join(dir, "fastdev.yaml")
	if err := os.WriteFile(name, []byte(twoWorkloads), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadFile(name)
	if err != nil || len(got) != 2 {
		t.Errorf("LoadFile: %v, %d entries", err, len(got))
	}
}

// TestPlaceholderInAnnotation: init's placeholder is refused by the annotation parser too, naming
// what to write.
func TestPlaceholderInAnnotation(t *testing.T) {
	_, err := Parse("sync:\n  - from: .\n    to: \"<the directory the image keeps the code in, such as /app>\"\n")
	want := `annotation fastdev.dev/rules, line 3, key "sync[0].to": is still the placeholder`
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "replace it with the directory the image keeps the code in") {
		t.Errorf("got %v", err)
	}
	if IsPlaceholder("<>") || IsPlaceholder("/app") || !IsPlaceholder("<x>") {
		t.Error("IsPlaceholder")
	}
}
