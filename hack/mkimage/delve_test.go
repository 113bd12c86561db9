package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/hack/mkimage/image"
)

// TestDelveKey: the cached Delve is rebuilt when the tools module changes, and reused otherwise.
func TestDelveKey(t *testing.T) {
	dir := t.TempDir()
	for _, f := range delveInputs {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	k1, err := delveKey(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if k2, _ := delveKey(ctx, dir); k2 != k1 {
		t.Errorf("same module, keys %s and %s", k1, k2)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x // v1.27.3"), 0o644); err != nil {
		t.Fatal(err)
	}
	if k3, _ := delveKey(ctx, dir); k3 == k1 {
		t.Error("a changed go.mod keeps the cached Delve")
	}
	if err := os.Remove(filepath.Join(dir, "go.sum")); err != nil {
		t.Fatal(err)
	}
	if _, err := delveKey(ctx, dir); err == nil || !strings.Contains(err.Error(), "-dlv-module") {
		t.Errorf("a module without go.sum: %v, want an error naming -dlv-module", err)
	}
}

// TestAddDelveOff: without -dlv-module the synclet image carries no Delve and nothing is built.
func TestAddDelveOff(t *testing.T) {
	l := image.NewLayer()
	if err := addDelve(context.Background(), options{}, l); err != nil {
		t.Fatal(err)
	}
	if l.Has("/dlv") {
		t.Error("/dlv added without -dlv-module")
	}
}
