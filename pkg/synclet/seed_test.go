package synclet

import (
	"os"
	"path/filepath"
	"testing"
)

// imageTree makes a directory like an image's sync target: a file, a subdirectory and a symlink.
func imageTree(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "f"), []byte("from the image"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/f", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
}

// TestSeedRerunAfterHalfwayFailure: a seed cut short before its marker was written (files and links
// already in the volume) runs again cleanly instead of failing on what it left.
func TestSeedRerunAfterHalfwayFailure(t *testing.T) {
	src, dst, run := t.TempDir(), t.TempDir(), t.TempDir()
	imageTree(t, src)
	if err := copyTree(src, dst); err != nil { // the first run, killed before its marker
		t.Fatal(err)
	}
	marker := filepath.Join(run, "seeded-0")
	if err := Seed(src, dst, marker); err != nil {
		t.Fatalf("the rerun failed on what the first run left: %v", err)
	}
	if target, err := os.Readlink(filepath.Join(dst, "link")); err != nil || target != "sub/f" {
		t.Errorf("link %q (%v), want sub/f", target, err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("no marker after the rerun: %v", err)
	}
}

// TestSeedMainToWithEquals: a sync target whose path holds "=" seeds that directory, not a path cut
// at the "=".
func TestSeedMainToWithEquals(t *testing.T) {
	base, dst := t.TempDir(), t.TempDir()
	src := filepath.Join(base, "app=v2", "www")
	imageTree(t, src)
	if err := seedMain([]string{"--marker", filepath.Join(base, "seeded"), src + "=" + dst}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "sub", "f")); err != nil || string(b) != "from the image" {
		t.Errorf("seeded file %q (%v), want the image's", b, err)
	}
}
