package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestExecStream runs the in-pod program locally (awk, base64, tar and sh of this machine) and
// checks that updates land in order, nested files included, and that commands run after them.
func TestExecStream(t *testing.T) {
	for _, tool := range []string{"busybox", "base64", "tar", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	src, dest := t.TempDir(), t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// busybox awk, as in the pods (mawk waits for a full input buffer before it reads a line)
	s, err := startStream(exec.Command("busybox", streamArgs(dest)...))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	write("a.txt", "one\n")
	write("deep/er/b.txt", string(make([]byte, 100_000))) // many base64 lines
	rc, err := s.send(ctx, src, []string{"a.txt", "deep/er/b.txt"}, "")
	if err != nil || rc != 0 {
		t.Fatalf("send: rc %d, %v", rc, err)
	}
	if b, err := os.ReadFile(filepath.Join(dest, "deep/er/b.txt")); err != nil || len(b) != 100_000 {
		t.Fatalf("deep/er/b.txt: %d bytes, %v", len(b), err)
	}
	write("a.txt", "two\n")
	rc, err = s.send(ctx, src, []string{"a.txt"}, "cat "+filepath.Join(dest, "a.txt")+" > "+filepath.Join(dest, "copy.txt"))
	if err != nil || rc != 0 {
		t.Fatalf("send with a command: rc %d, %v", rc, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "copy.txt")); string(b) != "two\n" {
		t.Errorf("the command ran before the files landed: copy.txt = %q", b)
	}
	if rc, err := s.send(ctx, src, nil, "exit 3"); err != nil || rc != 3 {
		t.Errorf("a failing command: rc %d, %v; want 3", rc, err)
	}
}
