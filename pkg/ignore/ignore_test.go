package ignore

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// writeTree creates files (slash paths relative to root) with the given contents.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, body := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMatch(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		".gitignore":     "# build output\n*.log\n!important.log\n/build\ntmp/\nout/\n!out/keep.txt\nvendor/\r\n",
		"sub/.gitignore": "*.txt\n!keep.txt\n/gen\n",
		// An ignored directory's .gitignore is not read, as git does not read it either.
		"build/.gitignore": "!*\n",
		".dockerignore":    "secrets\n*.md\n!README.md\ndocs\n!docs/public\n",
	})
	m, err := New(root, []string{"**/*.pyc", "cache/", "!vendor/"})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		rel   string
		isDir bool
		want  bool
	}{
		{"plain file", "main.go", false, false},
		{"root", ".", true, false},
		{".git dir", ".git", true, true},
		{"inside .git", ".git/config", false, true},
		{"nested .git", "sub/.git/HEAD", false, true},
		{"glob at root", "app.log", false, true},
		{"glob at depth", "sub/x/app.log", false, true},
		{"negated", "important.log", false, false},
		{"anchored dir", "build", true, true},
		{"inside anchored dir", "build/bin/server", false, true},
		{"anchored pattern elsewhere", "sub/build", true, false},
		{"dir-only pattern on dir", "tmp", true, true},
		{"dir-only pattern on file", "tmp", false, false},
		{"dir-only pattern at depth", "a/tmp", true, true},
		{"inside dir-only dir", "a/tmp/x.go", false, true},
		{"no re-include inside excluded dir", "out/keep.txt", false, true},
		{"nested gitignore applies in its dir", "sub/notes.txt", false, true},
		{"nested gitignore applies below its dir", "sub/deep/a.txt", false, true},
		{"nested negation", "sub/keep.txt", false, false},
		{"nested gitignore not above its dir", "notes.txt", false, false},
		{"nested anchored", "sub/gen", true, true},
		{"nested anchored not at root", "gen", true, false},
		{"nested anchored not deeper", "sub/x/gen", true, false},
		{"rule doublestar at root", "x.pyc", false, true},
		{"rule doublestar at depth", "a/b/c.pyc", false, true},
		{"rule dir-only", "cache/data.bin", false, true},
		{"rule negation beats gitignore", "vendor/lib.go", false, false},
		{"dockerignore dir", "secrets", true, true},
		{"inside dockerignore dir", "secrets/key.pem", false, true},
		{"dockerignore glob is root-only", "CHANGES.md", false, true},
		{"dockerignore glob below root", "sub/CHANGES.md", false, false},
		{"dockerignore exception", "README.md", false, false},
		{"dockerignore dir with exception inside is walked", "docs", true, false},
		{"dockerignore inside excluded dir", "docs/internal.html", false, true},
		{"dockerignore exception inside excluded dir", "docs/public/index.html", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.Match(tt.rel, tt.isDir); got != tt.want {
				t.Errorf("Match(%q, isDir=%v) = %v, want %v", tt.rel, tt.isDir, got, tt.want)
			}
		})
	}
}

func TestReload(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a/.gitignore": "*.tmp\n"})
	m, err := New(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Match("a/x.tmp", false) || m.Match("a/x.bak", false) {
		t.Fatalf("before reload: want a/x.tmp ignored and a/x.bak kept")
	}
	writeTree(t, root, map[string]string{"a/.gitignore": "*.bak\n", ".dockerignore": "secret\n"})
	// Nothing changes until the caller asks for it.
	if m.Match("a/x.bak", false) {
		t.Fatalf("a/x.bak ignored before Reload")
	}
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	if m.Match("a/x.tmp", false) || !m.Match("a/x.bak", false) || !m.Match("secret", false) {
		t.Fatalf("after reload: want a/x.bak and secret ignored, a/x.tmp kept")
	}
}

func TestIsIgnoreFile(t *testing.T) {
	m, err := New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rel  string
		want bool
	}{
		{".gitignore", true},
		{"a/b/.gitignore", true},
		{".dockerignore", true},
		{"a/.dockerignore", false}, // only the root's is read
		{".git/.gitignore", false},
		{"gitignore", false},
		{"main.go", false},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			if got := m.IsIgnoreFile(tt.rel); got != tt.want {
				t.Errorf("IsIgnoreFile(%q) = %v, want %v", tt.rel, got, tt.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		patterns []string
		noRoot   bool
	}{
		{name: "bad glob in rules", patterns: []string{"src/[a-"}},
		{name: "bare negation in rules", patterns: []string{"!"}},
		{name: "bare slash in rules", patterns: []string{"/"}},
		{name: "bad dockerignore", files: map[string]string{".dockerignore": "!\n"}},
		{name: "missing root", noRoot: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tt.files)
			if tt.noRoot {
				root = filepath.Join(root, "missing")
			}
			if _, err := New(root, tt.patterns); err == nil {
				t.Fatalf("New succeeded, want an error")
			}
		})
	}
}

// TestConcurrentMatch lets the race detector check that Match and Reload can run together, as they do
// when the watcher reloads on a .gitignore change while the sync loop filters paths.
func TestConcurrentMatch(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{".gitignore": "*.log\n", ".dockerignore": "a*\n!ab\n"})
	m, err := New(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if !m.Match("x.log", false) || !m.Match("ac", false) || m.Match("ab", false) {
					t.Error("wrong answer during concurrent use")
					return
				}
			}
		}()
	}
	for range 20 {
		if err := m.Reload(); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}
