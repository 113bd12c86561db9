package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/kubectl-fastdev/kubectl-fastdev/hack/mkimage/image"
)

// delveInputs are the files of the Delve tools module (hack/tools/dlv) that decide the binary, with
// the go command's version.
var delveInputs = []string{"go.mod", "go.sum", "main.go"}

// addDelve puts a static Delve at /dlv in the synclet image's layer, built from the tools module at
// o.dlvModule (the synclet's install step copies it into the pod beside the synclet, for
// `up --debug`). An empty o.dlvModule leaves Delve out.
func addDelve(ctx context.Context, o options, l *image.Layer) error {
	if o.dlvModule == "" {
		return nil
	}
	bin, err := delveBinary(ctx, o.dlvModule, o.cache)
	if err != nil {
		return err
	}
	if err := checkStatic("-dlv-module", bin); err != nil {
		return err
	}
	l.HostFile("/dlv", 0o755, bin)
	return nil
}

// delveBinary returns Delve built from module (CGO_ENABLED=0: static, so it runs in any app image),
// reusing the one cached under cache/tools for the same module files and go version; a build takes
// a minute on a busy machine, the cached binary none. An empty cache means the user's cache directory.
func delveBinary(ctx context.Context, module, cache string) (string, error) {
	key, err := delveKey(ctx, module)
	if err != nil {
		return "", err
	}
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no -cache given and no user cache directory (%w): pass -cache", err)
		}
		cache = filepath.Join(dir, "kubectl-fastdev")
	}
	bin := filepath.Join(cache, "tools", "dlv-"+key, "dlv")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	tmp := bin + ".tmp"
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, ".")
	cmd.Dir = module
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly -buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building Delve in %s (go build needs the module proxy or a filled module cache): %w\n%s", module, err, out)
	}
	return bin, os.Rename(tmp, bin)
}

// delveKey hashes the module's files and the go command's version: a change of either builds anew.
func delveKey(ctx context.Context, module string) (string, error) {
	h := sha256.New()
	for _, f := range delveInputs {
		b, err := os.ReadFile(filepath.Join(module, f))
		if err != nil {
			return "", fmt.Errorf("-dlv-module %s: %w", module, err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	v, err := exec.CommandContext(ctx, "go", "version").Output()
	if err != nil {
		return "", fmt.Errorf("running go version (is go on PATH?): %w", err)
	}
	h.Write([]byte(strings.TrimSpace(string(v))))
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
