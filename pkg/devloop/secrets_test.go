package devloop

import (
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

func TestLooksSecret(t *testing.T) {
	for p, want := range map[string]bool{
		".env": true, "config/.env.local": true, "certs/tls.key": true, "ca.pem": true, "id_ed25519": true,
		"home/.kube/config": true, "kubeconfig": true, "prod.kubeconfig": true,
		"main.go": false, "config": false, "env.go": false, "keys.go": false, "docs/key.md": false, "my_id_rsa.pub": false,
	} {
		if got := looksSecret(p); got != want {
			t.Errorf("looksSecret(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestSecretsWarning: one line naming the synced files that look like secrets, at most five of them
// and how many more; directories and links are not files to warn about; nothing to say, no line.
func TestSecretsWarning(t *testing.T) {
	file := func(p string) tree.Entry { return tree.Entry{Path: p, Kind: tree.File} }
	m := tree.Manifest{".env": file(".env"), "main.go": file("main.go"), "id_rsa": file("id_rsa"),
		"x.key": {Path: "x.key", Kind: tree.Dir}, "link.pem": {Path: "link.pem", Kind: tree.Symlink, Target: "a"}}
	got := secretsWarning("web", []string{"./src"}, []tree.Manifest{m})
	want := "web: syncing files that look like secrets into the pods: src/.env, src/id_rsa; add them to the rules' ignore (or a .gitignore) to keep them on this machine"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	many := tree.Manifest{}
	for _, p := range []string{"a.pem", "b.pem", "c.pem", "d.pem", "e.pem", "f.pem", "g.pem"} {
		many[p] = file(p)
	}
	if got := secretsWarning("web", []string{"."}, []tree.Manifest{many}); !strings.Contains(got, "e.pem and 2 more;") || strings.Contains(got, "f.pem") {
		t.Errorf("seven: %q", got)
	}
	if got := secretsWarning("web", []string{"."}, []tree.Manifest{{"main.go": file("main.go")}}); got != "" {
		t.Errorf("nothing secret: %q", got)
	}
}
