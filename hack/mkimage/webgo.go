package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/hack/mkimage/image"
)

// The web-go image's in-pod build step, as written in manifests/examples/web-go/deployment.yaml.
// The host build that warms the cache runs exactly this, with the image's environment, because the
// go command's cache keys cover the build flags, the environment that affects compilation
// (GOOS, GOARCH, GOAMD64, CGO_ENABLED, GOEXPERIMENT, ...) and the hash of every source file.
var (
	inPodBuild = []string{"build", "-o", "/app/bin/server", "."}
	appSrc     = "/app/src"
	appBin     = "/app/bin"
	appCache   = "/app/.gocache"
)

// goEnv is the web-go image's environment, given its GOROOT.
func goEnv(goroot string) []string {
	return []string{
		"PATH=" + goroot + "/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"GOCACHE=" + appCache,
		"GOTOOLCHAIN=local",
		"GOPROXY=off",
		"GOFLAGS=-buildvcs=false",
		"CGO_ENABLED=0",
		"HOME=/tmp",
	}
}

// goTools are the GOROOT/pkg/tool binaries kept in the image. `go build` of a cgo-free program
// runs compile, link and asm (asm also for its tool ID when nothing is rebuilt). cgo and vet are
// not needed by that build; they are kept so `go vet` works in the pod and a cgo build fails on
// the missing C compiler, not on a missing tool. buildid has not been shipped since Go 1.25 (the
// go command builds it on demand) and is copied only when present.
var goTools = map[string]bool{"compile": true, "link": true, "asm": true, "cgo": true, "vet": true, "buildid": true}

// webGoImage is the sample Go service with a Go toolchain and a build cache warmed by building it on
// the host, so the first in-pod `go build` after an edit compiles only the edited package and
// links. The toolchain sits at the host's GOROOT path and the source at /app/src, as in the pod.
// Unlike the other images it is not byte-for-byte reproducible: the go command timestamps cache entries.
func webGoImage(ctx context.Context, o options, tmp string) (string, v1.Image, error) {
	goroot, toolDir, err := hostGo(ctx)
	if err != nil {
		return "", nil, err
	}
	realGoroot, err := filepath.EvalSymlinks(goroot) // Tree copies a symlinked root as a symlink
	if err != nil {
		return "", nil, err
	}
	stage := filepath.Join(tmp, "stage")
	src := filepath.Join(stage, filepath.FromSlash(appSrc))
	if err := copyTree(filepath.Join(o.examples, "web-go", "src"), src); err != nil {
		return "", nil, err
	}
	if err := warmBuild(ctx, goroot, stage, filepath.Join(tmp, "home")); err != nil {
		return "", nil, err
	}

	toolchain := image.NewLayer().Tree(goroot, realGoroot, image.TreeOptions{Skip: gorootSkip(toolDir)})
	if err := toolchain.Err(); err != nil {
		return "", nil, err
	}
	for _, p := range []string{"bin/go", "go.env", "src/runtime/runtime.go", "compile", "link", "asm"} {
		if goTools[p] {
			p = path.Join(filepath.ToSlash(toolDir), p)
		} else {
			p = path.Join(goroot, p)
		}
		if !toolchain.Has(p) {
			return "", nil, fmt.Errorf("GOROOT %s has no %s: is it a complete Go installation?", goroot, p)
		}
	}
	// /app/bin is world-writable but not sticky: `go build -o` replaces the running binary by a rename,
	// which a sticky directory refuses a non-root user when the old binary is the image's (root's).
	// The cache keeps the sticky bit: it stops a non-root go command's daily trim from deleting the
	// image's entries, whose mtimes it is not allowed to refresh.
	app := image.NewLayer().
		Dir("/app", 0o755).
		Tree(appSrc, src, image.TreeOptions{}).
		Dir(appBin, 0o777).
		HostFile(appBin+"/server", 0o755, filepath.Join(stage, filepath.FromSlash(appBin), "server")).
		Tree(appCache, filepath.Join(stage, filepath.FromSlash(appCache)),
			image.TreeOptions{DirMode: image.ModeSticky | 0o777, FileMode: 0o666})
	img, err := image.Build(image.Config{
		Entrypoint: []string{appBin + "/server"},
		Env:        goEnv(goroot),
		WorkingDir: appSrc,
		User:       appUser,
	}, baseLayer(true), toolchain, app)
	return "fastdev.local/web-go:dev", img, err
}

// hostGo returns the GOROOT and GOTOOLDIR of the go command on PATH.
func hostGo(ctx context.Context) (goroot, toolDir string, err error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOROOT", "GOTOOLDIR").Output()
	if err != nil {
		return "", "", fmt.Errorf("running go env GOROOT GOTOOLDIR (is go on PATH?): %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || !filepath.IsAbs(lines[0]) || !strings.HasPrefix(lines[1], lines[0]+"/pkg/tool/") {
		return "", "", fmt.Errorf("unexpected go env GOROOT GOTOOLDIR output %q", out)
	}
	return lines[0], lines[1], nil
}

// warmBuild runs the in-pod build on the host, with stage standing in for the image's root: the
// cache lands in stage/app/.gocache and the binary in stage/app/bin/server. Only the main package's
// directory differs from the pod (it is part of that package's cache key), and that package is the
// one an edit changes anyway.
func warmBuild(ctx context.Context, goroot, stage, home string) error {
	if err := os.MkdirAll(filepath.Join(stage, filepath.FromSlash(appBin)), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}
	args := append([]string(nil), inPodBuild...)
	args[2] = filepath.Join(stage, filepath.FromSlash(args[2]))
	cmd := exec.CommandContext(ctx, filepath.Join(goroot, "bin", "go"), args...)
	cmd.Dir = filepath.Join(stage, filepath.FromSlash(appSrc))
	// A fresh environment, not the host's: a GOAMD64, GOEXPERIMENT or go.work here would key the
	// cache differently from the pod. HOME points at an empty directory so no go env file applies.
	for _, kv := range goEnv(goroot) {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "GOCACHE":
			kv = "GOCACHE=" + filepath.Join(stage, filepath.FromSlash(appCache))
		case "HOME":
			kv = "HOME=" + home
		}
		cmd.Env = append(cmd.Env, kv)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("warming the build cache with go %s: %w\n%s", strings.Join(inPodBuild, " "), err, out.Bytes())
	}
	return nil
}

// gorootSkip returns the Tree filter that trims a GOROOT to what `go build` of a cgo-free,
// stdlib-only program needs: bin/go, the tools above, pkg/include, go.env, VERSION and src without
// tests, testdata, prebuilt race/boringcrypto objects (.syso, used only with cgo) and src/cmd (the
// go command's own source, never read by `go build` of other packages). All of the standard library
// stays, so an edit that imports another package still builds.
func gorootSkip(toolDir string) func(rel string, d fs.DirEntry) bool {
	tools := "pkg/tool/" + filepath.Base(toolDir) // hostGo checked that toolDir is GOROOT/pkg/tool/<dir>
	return func(rel string, d fs.DirEntry) bool {
		top, rest, _ := strings.Cut(rel, "/")
		switch top {
		case "go.env", "VERSION":
			return rest != ""
		case "bin":
			return rest != "" && rest != "go"
		case "pkg":
			switch {
			case rest == "" || rest == "tool" || rest == "include" || strings.HasPrefix(rest, "include/") || rel == tools:
				return false
			case strings.HasPrefix(rel, tools+"/"):
				return !goTools[path.Base(rel)]
			}
			return true
		case "src":
			if rel == "src/cmd" {
				return true
			}
			if d.IsDir() {
				return d.Name() == "testdata"
			}
			return strings.HasSuffix(rel, "_test.go") || strings.HasSuffix(rel, ".syso")
		}
		return true
	}
}

// copyTree copies the regular files and directories of src to dst, which must not exist.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, 0o644)
		}
		return fmt.Errorf("copying %s: only directories and regular files are supported", p)
	})
}
