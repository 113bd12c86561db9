//go:build unix

package synclet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// TestPrivateDir: the run directory is made 0700, an existing one made private again; a file, a
// symlink or (as root) another user's directory in its place is refused.
func TestPrivateDir(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "run")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := privateDir(dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("run directory %v, %v: want 0700", fi, err)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{file, link} {
		if err := privateDir(p); err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Errorf("%s: %v", p, err)
		}
	}
	if os.Geteuid() == 0 {
		other := filepath.Join(base, "other")
		if err := os.Mkdir(other, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(other, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if err := privateDir(other); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Errorf("another user's run directory: %v", err)
		}
	}
}

// TestPendingNotPlantable: queued steps are written through a fresh temporary file (a link planted at
// the old fixed name is not followed), and the supervisor runs only a pending file of its own user
// that others cannot write: not a symlink, not a group-writable file, not (as root) another user's.
func TestPendingNotPlantable(t *testing.T) {
	dir := t.TempDir()
	pending := filepath.Join(dir, "pending.json")
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("untouched"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, pending+".tmp"); err != nil {
		t.Fatal(err)
	}
	meta := protocol.UpdateMeta{Restart: protocol.RestartProcess, Steps: []protocol.Step{{Argv: []string{"make"}, Display: "make"}}}
	if err := queuePending(pending, meta); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "untouched" {
		t.Fatalf("the planted link was followed: %q, %v", b, err)
	}
	if b, err := readOwned(pending); err != nil || !strings.Contains(string(b), `"make"`) {
		t.Fatalf("pending: %q, %v", b, err)
	}
	cases := map[string]func(p string) error{
		"symlink": func(p string) error { return os.Symlink(victim, p) },
		"group-writable": func(p string) error {
			if err := os.WriteFile(p, []byte("{}"), 0o600); err != nil {
				return err
			}
			return os.Chmod(p, 0o664)
		},
	}
	if os.Geteuid() == 0 {
		cases["another user's"] = func(p string) error {
			if err := os.WriteFile(p, []byte("{}"), 0o600); err != nil {
				return err
			}
			return os.Chown(p, 65534, 65534)
		}
	}
	for name, plant := range cases {
		p := filepath.Join(t.TempDir(), "pending.json")
		if err := plant(p); err != nil {
			t.Fatal(err)
		}
		if _, err := readOwned(p); err == nil {
			t.Errorf("%s pending file read", name)
		}
	}
}
