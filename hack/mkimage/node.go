package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/hack/mkimage/image"
)

// npmExtras are packages the web-node image's offline npm cache carries beyond the sample's
// lockfile, so that adding one of them to package.json installs in the pod, where no registry is
// reachable: test/e2e/node_test.go adds escape-html and uses it in the same edit.
var npmExtras = []string{"escape-html@1.0.3"}

// The web-node image's paths: the npm cache is world-writable (npm records index entries and logs
// there even offline), the source directory is the one the rules sync.
const (
	nodeSrc   = "/app/src"
	nodeCache = "/app/.npm"
	npmDir    = "/usr/lib/node_modules/npm"
)

// webNodeImage is the sample Node.js service: the host's node binary with its shared libraries, the
// npm bundled with it, the sample's node_modules installed with `npm ci` from its lockfile, and an
// offline npm cache holding those packages and npmExtras, so `npm install --offline` in the pod
// installs an added dependency without a registry. Busybox gives /usr/bin/env (npm's shebang) and a
// shell for kubectl exec. The host's npm downloads into -cache DIR/npm once; later builds reuse it.
func webNodeImage(ctx context.Context, o options, tmp string) (string, v1.Image, error) {
	if o.cache == "" {
		return "", nil, errors.New("-cache is required: the directory keeping npm's downloads between builds")
	}
	node, npm, err := hostNode(ctx, o.cache)
	if err != nil {
		return "", nil, err
	}
	base, err := busyboxLayer(ctx, o.busybox)
	if err != nil {
		return "", nil, err
	}
	base.Symlink("/usr/bin/env", "/bin/busybox")
	runtime := image.NewLayer().
		HostFile("/usr/bin/node", 0o755, node).
		Tree(npmDir, npm, image.TreeOptions{Skip: func(rel string, _ fs.DirEntry) bool { return rel == "docs" || rel == "man" }}).
		Symlink("/usr/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js").
		Symlink("/usr/bin/npx", "../lib/node_modules/npm/bin/npx-cli.js")
	if err := addSharedLibs(ctx, runtime, node); err != nil {
		return "", nil, err
	}

	src := filepath.Join(tmp, "src")
	if err := copyTree(filepath.Join(o.examples, "web-node", "src"), src); err != nil {
		return "", nil, err
	}
	cache := filepath.Join(o.cache, "npm")
	if err := hostNPM(ctx, node, npm, src, cache, "ci"); err != nil {
		return "", nil, err
	}
	if err := hostNPM(ctx, node, npm, src, cache, append([]string{"cache", "add"}, npmExtras...)...); err != nil {
		return "", nil, err
	}
	app := image.NewLayer().
		Dir("/app", 0o755).
		Tree(nodeSrc, src, image.TreeOptions{}).
		// not sticky: npm compacts an index bucket by renaming a new file over the image's (root's) one,
		// and counts a refused rename as a cache miss, so an added package would not install
		Tree(nodeCache, cache, image.TreeOptions{
			DirMode: 0o777, FileMode: 0o666,
			Skip: func(rel string, _ fs.DirEntry) bool {
				return rel == "_logs" || strings.HasPrefix(rel, "_update-notifier")
			},
		})
	img, err := image.Build(image.Config{
		Entrypoint: []string{"/usr/bin/node", "server.js"},
		Env: []string{
			"PATH=/usr/bin:/bin",
			"HOME=/tmp",
			// the pod never asks a registry: every npm command reads the image's cache only
			"npm_config_cache=" + nodeCache,
			"npm_config_offline=true",
			"npm_config_audit=false",
			"npm_config_fund=false",
			"npm_config_update_notifier=false",
		},
		WorkingDir: nodeSrc,
		User:       appUser,
	}, base, runtime, app)
	return "fastdev.local/web-node:dev", img, err
}

// hostNode returns the host's node binary and the directory of a self-contained npm (one holding
// npm's package.json and all of its dependencies under node_modules), both with symlinks resolved:
// the npm bundled with node (NodeSource's and nodejs.org's builds), or else npmRelease.
func hostNode(ctx context.Context, cache string) (node, npm string, err error) {
	const fix = "install Node.js and npm (make deps: apt-get install nodejs npm)"
	if node, err = exec.LookPath("node"); err == nil {
		node, err = filepath.EvalSymlinks(node)
	}
	if err != nil {
		return "", "", fmt.Errorf("finding node on PATH: %w (%s)", err, fix)
	}
	cli, err := exec.LookPath("npm")
	if err == nil {
		cli, err = filepath.EvalSymlinks(cli) // .../npm/bin/npm-cli.js
	}
	if err != nil {
		return "", "", fmt.Errorf("finding npm on PATH: %w (%s)", err, fix)
	}
	if npm = filepath.Dir(filepath.Dir(cli)); selfContained(npm) {
		return node, npm, nil
	}
	npm, err = fetchNPM(ctx, node, cli, cache)
	return node, npm, err
}

// npmRelease is the npm the web-node image carries when the host's is not self-contained (Debian's
// npm package spreads its dependencies over /usr/share/nodejs, outside what the image copies). Its
// registry tarball bundles every dependency; npm 10 runs on the Node.js 18.20 of Debian 12.
const npmRelease = "npm@10.9.2"

func selfContained(npm string) bool {
	for _, p := range []string{"package.json", "bin/npm-cli.js", "node_modules"} {
		if _, err := os.Stat(filepath.Join(npm, p)); err != nil {
			return false
		}
	}
	return true
}

// fetchNPM unpacks npmRelease, downloaded once with the host's npm (`npm pack`), into
// cache/npm-release and returns its directory.
func fetchNPM(ctx context.Context, node, cli, cache string) (string, error) {
	dir := filepath.Join(cache, "npm-release", npmRelease)
	if selfContained(dir) {
		return dir, nil
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", err
	}
	pack := exec.CommandContext(ctx, node, cli, "pack", npmRelease, "--pack-destination", tmp, "--cache", filepath.Join(cache, "npm"))
	pack.Dir = tmp
	if b, err := pack.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm pack %s (the host's npm is not self-contained; the npm registry must be reachable once): %w\n%s", npmRelease, err, b)
	}
	tgz, err := filepath.Glob(filepath.Join(tmp, "npm-*.tgz"))
	if err != nil || len(tgz) != 1 {
		return "", fmt.Errorf("npm pack %s wrote %v into %s, want one npm-*.tgz", npmRelease, tgz, tmp)
	}
	if b, err := exec.CommandContext(ctx, "tar", "-xzf", tgz[0], "-C", tmp).CombinedOutput(); err != nil {
		return "", fmt.Errorf("unpacking %s: %w\n%s", tgz[0], err, b)
	}
	if !selfContained(filepath.Join(tmp, "package")) {
		return "", fmt.Errorf("%s from the registry has no bundled node_modules", npmRelease)
	}
	if err := os.Rename(filepath.Join(tmp, "package"), dir); err != nil {
		return "", err
	}
	return dir, os.RemoveAll(tmp)
}

// hostNPM runs the host's npm in dir with the given cache: downloads happen only for what the cache
// lacks (--prefer-offline), so a second build reads no registry.
func hostNPM(ctx context.Context, node, npm, dir, cache string, args ...string) error {
	argv := append([]string{filepath.Join(npm, "bin", "npm-cli.js")}, args...)
	argv = append(argv, "--prefer-offline", "--cache", cache, "--no-audit", "--no-fund", "--update-notifier=false")
	cmd := exec.CommandContext(ctx, node, argv...)
	cmd.Dir = dir
	// the host's environment (a proxy, a registry mirror in npm_config_registry) minus the settings
	// this build makes on the command line
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.EqualFold(k, "npm_config_cache") && !strings.EqualFold(k, "npm_config_offline") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm %s (the npm registry must be reachable from this host on the first build): %w\n%s",
			strings.Join(args, " "), err, out.Bytes())
	}
	return nil
}
