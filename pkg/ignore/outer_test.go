package ignore

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOuterIgnores: with `from` a subdirectory of a repository, what git ignores there from outside it
// stays out: the repository root's and the parent directories' .gitignore, .git/info/exclude, and the
// global excludes file (core.excludesFile, else $XDG_CONFIG_HOME/git/ignore); a .gitignore under the
// root can still bring a path back; a root git ignores itself is synced as named; outside a repository
// none of them apply.
func TestOuterIgnores(t *testing.T) {
	home, xdg := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", xdg)
	repo := t.TempDir()
	writeTree(t, repo, map[string]string{
		".git/info/exclude":       "*.key\n",
		".gitignore":              ".env*\nbuild/\n*.pem\n",
		"services/.gitignore":     "local.yaml\n",
		"services/web/.env":       "SECRET=1",
		"services/web/.gitignore": "!*.pem\n",
	})
	writeTree(t, xdg, map[string]string{"git/ignore": "id_*\n"})
	root := filepath.Join(repo, "services", "web")
	m, err := New(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		rel     string
		ignored bool
	}{
		{".env", true}, {".env.local", true}, {"config/.env", true}, // the repository root's .gitignore
		{"local.yaml", true}, // the parent directory's
		{"tls.key", true},    // .git/info/exclude
		{"id_ed25519", true}, // the global excludes file
		{"cert.pem", false},  // brought back by the root's own .gitignore
		{"main.go", false}, {"build", true},
	} {
		if got := m.Match(c.rel, c.rel == "build"); got != c.ignored {
			t.Errorf("Match(%q) = %v, want %v", c.rel, got, c.ignored)
		}
	}

	// core.excludesFile in ~/.gitconfig replaces the default file
	writeTree(t, home, map[string]string{".gitconfig": "[core]\n\texcludesFile = ~/my-excludes\n", "my-excludes": "*.secret\n"})
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	if !m.Match("a.secret", false) || m.Match("id_rsa", false) {
		t.Errorf("core.excludesFile: a.secret %v (want ignored), id_rsa %v (want synced)", m.Match("a.secret", false), m.Match("id_rsa", false))
	}

	build := filepath.Join(repo, "build")
	writeTree(t, build, map[string]string{"app.js": "x"})
	if mb, err := New(build, nil); err != nil || mb.Match("app.js", false) {
		t.Errorf("a root git ignores, named as from: app.js ignored (%v)", err)
	}
	if err := os.RemoveAll(filepath.Join(repo, ".git")); err != nil {
		t.Fatal(err)
	}
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	if m.Match(".env", false) || m.Match("a.secret", false) {
		t.Error("outside a repository, ignore files above the root applied")
	}
}
