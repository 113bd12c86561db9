package rules

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMatchAny(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		rel      string
		want     bool
	}{
		{"base name at the root", []string{"requirements.txt"}, "requirements.txt", true},
		{"base name in a subdirectory", []string{"requirements.txt"}, "svc/api/requirements.txt", true},
		{"Dockerfile at any depth", []string{"Dockerfile"}, "docker/Dockerfile", true},
		{"base name is not a suffix match", []string{"requirements.txt"}, "dev-requirements.txt", false},
		{"extension glob at any depth", []string{"*.go"}, "cmd/server/main.go", true},
		{"doublestar", []string{"**/*.go"}, "cmd/server/main.go", true},
		{"doublestar at the root", []string{"**/*.go"}, "main.go", true},
		{"doublestar other extension", []string{"**/*.go"}, "cmd/server/main.py", false},
		{"anchored pattern at the root only", []string{"/go.mod"}, "sub/go.mod", false},
		{"anchored pattern matches at the root", []string{"/go.mod"}, "go.mod", true},
		{"path pattern is anchored", []string{"cmd/*.go"}, "x/cmd/main.go", false},
		{"dot-slash prefix is optional", []string{"./cmd/*.go"}, "cmd/main.go", true},
		{"directory pattern matches below it", []string{"migrations/"}, "db/migrations/001.sql", true},
		{"directory path matches below it", []string{"db/migrations"}, "db/migrations/001.sql", true},
		{"directory path does not match a sibling", []string{"db/migrations"}, "db/migrations2/001.sql", false},
		{"brace alternatives", []string{"go.{mod,sum}"}, "go.sum", true},
		{"second pattern matches", []string{"*.py", "go.mod"}, "go.mod", true},
		{"rel is cleaned", []string{"go.mod"}, "./go.mod", true},
		{"no patterns", nil, "go.mod", false},
		{"empty rel", []string{"**"}, "", false},
		{"invalid pattern matches nothing", []string{"[abc"}, "[abc", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchAny(tt.patterns, tt.rel); got != tt.want {
				t.Errorf("MatchAny(%q, %q) = %v, want %v", tt.patterns, tt.rel, got, tt.want)
			}
		})
	}
}

func TestTriggered(t *testing.T) {
	r, err := Parse(designExample)
	if err != nil {
		t.Fatal(err)
	}
	pip, build := r.Run[0], r.Run[1]
	always := Step{Cmd: "make", Argv: []string{"make"}}
	tests := []struct {
		name string
		step Step
		rel  string
		want bool
	}{
		{"pip on requirements", pip, "requirements.txt", true},
		{"pip on nested requirements", pip, "api/requirements.txt", true},
		{"pip not on source", pip, "app.py", false},
		{"build on go source", build, "internal/x/y.go", true},
		{"build on go.sum", build, "go.sum", true},
		{"build not on templates", build, "templates/index.html", false},
		{"no trigger runs on anything", always, "templates/index.html", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.step.Triggered(tt.rel); got != tt.want {
				t.Errorf("%q.Triggered(%q) = %v, want %v", tt.step.Cmd, tt.rel, got, tt.want)
			}
		})
	}
}

func TestCheckLocal(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "src", "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(dir, "elsewhere")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("src", filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		text string
		line int
		key  string
		fix  string // empty when CheckLocal must succeed
	}{
		{"directories exist", "sync:\n  - {from: ./src, to: /app}\n  - {from: src/web, to: /web}\n", 0, "", ""},
		{"the run directory itself", "sync: [{from: ., to: /app}]\n", 0, "", ""},
		{"missing directory", "sync:\n  - {from: src, to: /app}\n  - from: ./lib\n    to: /lib\n", 3, "sync[1].from", "does not exist"},
		{"file instead of directory", "sync:\n  - from: main.go\n    to: /app\n", 2, "sync[0].from", "is a file, not a directory"},
		{"a link out of the directory", "sync:\n  - from: ./elsewhere\n    to: /app\n", 2, "sync[0].from", "outside"},
		{"a link inside it", "sync:\n  - from: ./alias\n    to: /app\n", 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			err = r.CheckLocal(dir)
			if tt.fix == "" {
				if err != nil {
					t.Fatalf("CheckLocal: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("CheckLocal = %v, want *Error", err)
			}
			if e.Line != tt.line || e.Key != tt.key || !strings.Contains(e.Msg, tt.fix) {
				t.Errorf("CheckLocal = %v, want line %d key %q message containing %q", err, tt.line, tt.key, tt.fix)
			}
		})
	}
}
