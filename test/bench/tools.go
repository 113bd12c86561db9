package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// peerTool is a peer tool built from its published Go module into the cache, never into the repo.
// Both modules' version lists are refused by the module proxy (so `go install pkg@version` fails),
// and both carry replace directives that only apply to a main module: so each is copied out of the
// module cache and built as its own main module with -mod=mod.
type peerTool struct {
	name    string // binary name
	module  string // module path
	version string
	pkg     string   // main package, relative to the module root
	env     []string // extra build environment
	ldflags string
	// prepare fixes up the writable copy of the module before the build.
	prepare func(src string) error
}

// peers are the two tools measured against; their versions are the ones issue 7 names.
var peers = []peerTool{
	{
		name: "tilt", module: "github.com/tilt-dev/tilt", version: "v0.33.21", pkg: "./cmd/tilt",
		// Tilt links cgo code; its module lacks the built web UI, without which `tilt up` stops with
		// "Could not find Tilt web static files": a placeholder index.html is enough for a headless run.
		env:     []string{"CGO_ENABLED=1"},
		ldflags: "-X main.version=0.33.21",
		prepare: func(src string) error {
			dir := filepath.Join(src, "pkg", "assets", "build")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "index.html"), []byte("<!doctype html><title>tilt</title>\n"), 0o644)
		},
	},
	{
		name: "skaffold", module: "github.com/GoogleContainerTools/skaffold/v2", version: "v2.13.2", pkg: "./cmd/skaffold",
		// a dependency of Skaffold v2.13.2 does not compile with newer Go releases
		env:     []string{"GOTOOLCHAIN=go1.22.12", "CGO_ENABLED=0"},
		ldflags: "-X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.version=v2.13.2",
	},
}

// path is where the built binary lives.
func (t peerTool) path(cache string) string {
	return filepath.Join(cache, "tools", t.name+"-"+t.version, t.name)
}

// ensure builds the tool unless the cache has it, at the lowest priority and one package at a time,
// since the 2-core machine is shared. Build output goes to log.
func (t peerTool) ensure(ctx context.Context, cache string, log io.Writer) (string, error) {
	bin := t.path(cache)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	// one build at a time, also across processes: a second bench waits for the first one's build
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(bin+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	start := time.Now()
	fmt.Fprintf(log, "building %s %s into %s (first run only; tens of minutes at low priority)\n", t.name, t.version, filepath.Dir(bin))
	dl := exec.CommandContext(ctx, "go", "mod", "download", "-json", t.module+"@"+t.version)
	dl.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := dl.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", t.module, t.version, err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %s %v", t.module, t.version, mod.Error, err)
	}
	src := filepath.Join(filepath.Dir(bin), "src")
	if err := os.RemoveAll(src); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		return "", err
	}
	// the module cache is read-only: copy it, then make the copy writable
	if err := runLogged(ctx, "", log, "cp", "-r", mod.Dir, src); err != nil {
		return "", err
	}
	if err := runLogged(ctx, "", log, "chmod", "-R", "u+w", src); err != nil {
		return "", err
	}
	if t.prepare != nil {
		if err := t.prepare(src); err != nil {
			return "", err
		}
	}
	build := exec.CommandContext(ctx, "nice", "-n", "19", "go", "build", "-p", "1", "-mod=mod", "-trimpath",
		"-ldflags", "-s -w "+t.ldflags, "-o", bin+".tmp", t.pkg)
	build.Dir = src
	build.Env = append(os.Environ(), append([]string{"GOFLAGS=-buildvcs=false", "GOTOOLCHAIN=local"}, t.env...)...)
	build.Stdout, build.Stderr = log, log
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building %s %s in %s: %w", t.name, t.version, src, err)
	}
	if err := os.Rename(bin+".tmp", bin); err != nil {
		return "", err
	}
	_ = os.RemoveAll(src) // the module cache keeps the source; the copy is only needed for the build
	fmt.Fprintf(log, "built %s %s in %s\n", t.name, t.version, time.Since(start).Round(time.Second))
	return bin, nil
}

// runLogged runs a command, its output going to log.
func runLogged(ctx context.Context, dir string, log io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

// tools builds (or finds) every peer tool and returns the version each reports; a tool that fails
// to build is left out (its series are skipped) and its error returned with the others. With
// -no-build, only tools already in the cache are used.
func (e *env) tools(ctx context.Context) (map[string]string, error) {
	versions := map[string]string{}
	var errs []error
	for _, t := range peers {
		bin := t.path(e.cache)
		if _, err := os.Stat(bin); err != nil && e.o.noBuild {
			errs = append(errs, fmt.Errorf("%s is not built yet and -no-build is set: run `bin/bench tools`", t.name))
			continue
		}
		bin, err := t.ensure(ctx, e.cache, e.log)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e.toolBin[t.name] = bin
		v := firstLine(output(ctx, bin, "version"))
		versions[t.name] = fmt.Sprintf("%s (built from %s@%s with %s)", v, t.module, t.version, buildGo(t))
	}
	return versions, errors.Join(errs...)
}

// buildGo names the Go release a tool was built with.
func buildGo(t peerTool) string {
	for _, kv := range t.env {
		if v, ok := strings.CutPrefix(kv, "GOTOOLCHAIN="); ok {
			return v
		}
	}
	return runtime.Version()
}
