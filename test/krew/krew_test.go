// Package krew tests the release the way a krew user meets it: `make dist` builds the archives and the
// manifest, krew's own validator accepts the manifest, krew installs the plugin offline from the
// archive, and kubectl finds the installed plugin, runs it and completes its arguments from the cluster.
// krew is built from the Go module proxy into the cache (outside the repository) once and reused.
// `go test -short` skips it; the first run builds krew and every platform's binary (allow 30 minutes:
// `go test -timeout 30m ./test/krew/`).
package krew

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// krewModule is the krew release the test builds; the Go module proxy serves it.
const krewModule = "sigs.k8s.io/krew@v0.4.3"

// manifest is the part of krew's v1alpha2 Plugin the test reads.
type manifest struct {
	Spec struct {
		Version   string `json:"version"`
		Caveats   string `json:"caveats"`
		Platforms []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			Sha256 string `json:"sha256"`
		} `json:"platforms"`
	} `json:"spec"`
}

func TestKrewInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds krew and every release archive; run without -short")
	}
	root := repoRoot(t)
	tools := krewTools(t)
	kubectl := clusterKubectl(t, root)
	version := strings.TrimSpace(string(readFile(t, filepath.Join(root, "VERSION"))))
	commit := "unknown"
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
	}

	work := t.TempDir()
	dist := filepath.Join(work, "dist")
	built := filepath.Join(work, "krew.yaml")
	run(t, root, nil, "make", "dist", "DIST="+dist, "KREW_MANIFEST="+built)
	var m manifest
	if err := yaml.Unmarshal(readFile(t, built), &m); err != nil {
		t.Fatalf("make dist wrote an unreadable manifest: %v", err)
	}

	t.Run("manifest sums are the archives' sums", func(t *testing.T) {
		sums := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(readFile(t, filepath.Join(dist, "SHA256SUMS")))), "\n") {
			sum, name, _ := strings.Cut(line, "  ")
			sums[name] = sum
			got := sha256.Sum256(readFile(t, filepath.Join(dist, name)))
			if hex.EncodeToString(got[:]) != sum {
				t.Errorf("SHA256SUMS says %s for %s, the file has %x", sum, name, got)
			}
		}
		if len(m.Spec.Platforms) != 6 {
			t.Errorf("%d platforms in the manifest, want linux, darwin, windows x amd64, arm64", len(m.Spec.Platforms))
		}
		for _, p := range m.Spec.Platforms {
			name := filepath.Base(p.URI)
			want := "https://github.com/kubectl-fastdev/kubectl-fastdev/releases/download/" + version + "/" + name
			if p.URI != want || sums[name] == "" || p.Sha256 != sums[name] {
				t.Errorf("%v: uri %s sha256 %s; want uri %s with the sha256 of an archive in SHA256SUMS (%s)",
					p.Selector.MatchLabels, p.URI, p.Sha256, want, sums[name])
			}
		}
	})

	t.Run("committed krew.yaml is current", func(t *testing.T) {
		// sums change with every commit (the commit is stamped into the binary); everything else in the
		// committed manifest must be what the template and VERSION give today
		sum := regexp.MustCompile(`sha256: "[0-9a-f]{64}"`)
		committed := sum.ReplaceAll(readFile(t, filepath.Join(root, "krew.yaml")), []byte(`sha256: "..."`))
		fresh := sum.ReplaceAll(readFile(t, built), []byte(`sha256: "..."`))
		if !bytes.Equal(committed, fresh) {
			t.Errorf("krew.yaml differs from what `make dist` generates (run `make dist` and commit krew.yaml):\n%s", lineDiff(string(committed), string(fresh)))
		}
	})

	t.Run("krew validates the manifests", func(t *testing.T) {
		// krew's validator takes the plugin name from the file name
		for what, path := range map[string]string{"generated": built, "committed": filepath.Join(root, "krew.yaml")} {
			dir := filepath.Join(work, "validate", what)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			named := filepath.Join(dir, "fastdev.yaml")
			if err := os.WriteFile(named, readFile(t, path), 0o644); err != nil {
				t.Fatal(err)
			}
			// -skip-install: its install step downloads every uri, which exist only once released
			cmd := exec.Command(filepath.Join(tools, "validate-krew-manifest"), "-manifest", named, "-skip-install")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("krew rejects the %s manifest: %v\n%s", what, err, out)
			}
		}
	})

	archive := ""
	for _, p := range m.Spec.Platforms {
		if p.Selector.MatchLabels["os"] == runtime.GOOS && p.Selector.MatchLabels["arch"] == runtime.GOARCH {
			archive = filepath.Join(dist, filepath.Base(p.URI))
		}
	}
	if archive == "" {
		t.Fatalf("no archive for %s/%s in the manifest", runtime.GOOS, runtime.GOARCH)
	}
	krewRoot := filepath.Join(work, "krew-root")
	env := []string{
		"KREW_ROOT=" + krewRoot,
		"KREW_NO_UPGRADE_CHECK=1",
		"HOME=" + filepath.Join(work, "home"),
		// krew's tools, the plugins krew links, the cluster's kubectl (the completion helper calls
		// `kubectl`), and the system's sh; nothing that could hold another kubectl-fastdev
		"PATH=" + strings.Join([]string{tools, filepath.Join(krewRoot, "bin"), filepath.Dir(kubectl), "/usr/bin", "/bin"}, string(os.PathListSeparator)),
		"KUBECONFIG=" + clusterKubeconfig(t, root),
	}
	kc := func(t *testing.T, args ...string) string {
		t.Helper()
		return run(t, work, env, kubectl, args...)
	}

	if !t.Run("kubectl krew install --manifest --archive", func(t *testing.T) {
		out := runCombined(t, work, env, kubectl, "krew", "install", "--manifest="+built, "--archive="+archive)
		if !strings.Contains(out, "Installed plugin: fastdev") {
			t.Errorf("krew install did not report the plugin installed:\n%s", out)
		}
		store := filepath.Join(krewRoot, "store", "fastdev", version)
		for _, f := range []string{"kubectl-fastdev", "LICENSE", "kubectl_complete-fastdev"} {
			st, err := os.Stat(filepath.Join(store, f))
			if err != nil {
				t.Errorf("installed plugin lacks %s: %v", f, err)
			} else if f != "LICENSE" && st.Mode().Perm()&0o111 == 0 {
				t.Errorf("installed %s is not executable (%v)", f, st.Mode())
			}
		}
		if out := kc(t, "plugin", "list"); !strings.Contains(out, filepath.Join(krewRoot, "bin", "kubectl-fastdev")) {
			t.Errorf("kubectl plugin list does not show the krew-installed plugin:\n%s", out)
		}
	}) {
		t.FailNow()
	}

	t.Run("kubectl fastdev version", func(t *testing.T) {
		out := kc(t, "fastdev", "version", "--client")
		// a release names the synclet image by the digest of the one `make images` built
		cache := os.Getenv("FASTDEV_CACHE")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				t.Fatal(err)
			}
			cache = filepath.Join(home, ".cache", "kubectl-fastdev")
		}
		digest := strings.TrimSpace(string(readFile(t, filepath.Join(cache, "images", "synclet.tar.digest"))))
		for _, want := range []string{"Client Version: " + version, "Commit: " + commit,
			"Synclet Image: kubectl-fastdev/synclet:" + version + "@" + digest, "Synclet Digest: " + digest} {
			if !slices.Contains(strings.Split(out, "\n"), want) {
				t.Errorf("`kubectl fastdev version --client` lacks %q:\n%s", want, out)
			}
		}
		var v struct{ ClientVersion, Commit, SyncletImage, ServerVersion string }
		if err := json.Unmarshal([]byte(kc(t, "fastdev", "version", "-o", "json")), &v); err != nil {
			t.Fatal(err)
		}
		if v.ClientVersion != version || v.ServerVersion == "" {
			t.Errorf("`kubectl fastdev version -o json`: %+v, want client %s and the cluster's version", v, version)
		}
	})

	t.Run("kubectl fastdev completion", func(t *testing.T) {
		for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
			// the script calls back into the plugin's __complete for everything dynamic
			if out := kc(t, "fastdev", "completion", shell); !strings.Contains(out, "kubectl-fastdev") || !strings.Contains(out, "__complete") {
				t.Errorf("`kubectl fastdev completion %s` printed no completion script:\n%.300s", shell, out)
			}
		}
	})

	t.Run("deployment names complete from the cluster", func(t *testing.T) {
		suffix := make([]byte, 3)
		if _, err := rand.Read(suffix); err != nil {
			t.Fatal(err)
		}
		ns := "fastdev-krew-" + hex.EncodeToString(suffix)
		kc(t, "create", "namespace", ns)
		t.Cleanup(func() { run(t, work, env, kubectl, "delete", "namespace", ns, "--timeout=2m") })
		for _, d := range []string{"web", "api"} {
			// no replicas: only the Deployment object matters, no pod is started
			kc(t, "-n", ns, "create", "deployment", d, "--image=registry.invalid/none:1", "--replicas=0")
		}
		// the plugin's own completion command, found through plugin discovery
		if got := completions(kc(t, "fastdev", "__complete", "-n", ns, "up", "")); !slices.Equal(got, []string{"api", "web", ":4"}) {
			t.Errorf("`kubectl fastdev __complete up \"\"` gave %q, want api, web and :4 (no file completion)", got)
		}
		// the whole chain a shell uses: kubectl's completion runs kubectl_complete-fastdev, put on PATH
		// as the manifest's caveats tell the user, which calls the plugin
		var cp string
		for _, line := range strings.Split(m.Spec.Caveats, "\n") {
			if line = strings.TrimSpace(line); strings.HasPrefix(line, "cp ") && strings.Contains(line, "kubectl_complete-fastdev") {
				cp = line
			}
		}
		if cp == "" {
			t.Fatalf("the caveats do not say how to put kubectl_complete-fastdev on PATH:\n%s", m.Spec.Caveats)
		}
		run(t, work, env, "sh", "-c", cp)
		if got := completions(kc(t, "__complete", "fastdev", "-n", ns, "down", "web", "")); !slices.Equal(got, []string{"api", ":4"}) {
			t.Errorf("`kubectl __complete fastdev down web \"\"` gave %q, want api and :4", got)
		}
	})
}

// completions splits cobra's __complete output into its lines.
func completions(out string) []string { return strings.Split(strings.TrimSpace(out), "\n") }

// krewTools returns a directory holding kubectl-krew and validate-krew-manifest, building them the
// first time: krew's module from the Go module proxy, copied into the cache and built as its own main
// module with its own go.sum, so nothing of krew enters this repository or its module graph.
func krewTools(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("FASTDEV_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(home, ".cache", "kubectl-fastdev")
	}
	_, ver, _ := strings.Cut(krewModule, "@")
	dir := filepath.Join(cache, "tools", "krew", ver)
	bin := filepath.Join(dir, "bin")
	tools := map[string]string{"kubectl-krew": "./cmd/krew", "validate-krew-manifest": "./cmd/validate-krew-manifest"}
	missing := false
	for name := range tools {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			missing = true
		}
	}
	if !missing {
		return bin
	}
	t.Logf("building %s into %s (once; later runs reuse it)", krewModule, dir)
	env := []string{"GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false", "GOTOOLCHAIN=local", "CGO_ENABLED=0"}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal([]byte(run(t, os.TempDir(), env, "go", "mod", "download", "-json", krewModule)), &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download %s: %v %s", krewModule, err, mod.Error)
	}
	src := filepath.Join(dir, "src")
	if err := os.RemoveAll(src); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(src, os.DirFS(mod.Dir)); err != nil {
		t.Fatal(err)
	}
	for name, pkg := range tools {
		tmp := filepath.Join(bin, "."+name+".tmp")
		// the machine is shared: one package at a time, at low priority
		args := []string{"build", "-p", "1", "-trimpath", "-o", tmp, pkg}
		if _, err := exec.LookPath("nice"); err == nil {
			run(t, src, env, "nice", append([]string{"-n", "10", "go"}, args...)...)
		} else {
			run(t, src, env, "go", args...)
		}
		if err := os.Rename(tmp, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

// clusterKubectl is the local cluster's kubectl (FASTDEV_KUBECTL from `hack/cluster/cluster.sh env`).
func clusterKubectl(t *testing.T, root string) string {
	t.Helper()
	k := os.Getenv("FASTDEV_KUBECTL")
	if k == "" {
		out := run(t, root, nil, filepath.Join(root, "hack/cluster/cluster.sh"), "env")
		for _, line := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(line, "FASTDEV_KUBECTL="); ok {
				k = v
			}
		}
	}
	if _, err := os.Stat(k); err != nil {
		t.Fatalf("the cluster's kubectl %q: %v (build the cluster once: `make cluster-up`)", k, err)
	}
	return k
}

// clusterKubeconfig is the local cluster's kubeconfig; the cluster must be running.
func clusterKubeconfig(t *testing.T, root string) string {
	t.Helper()
	k := os.Getenv("FASTDEV_KUBECONFIG")
	if k == "" {
		k = strings.TrimSpace(run(t, root, nil, filepath.Join(root, "hack/cluster/cluster.sh"), "kubeconfig"))
	}
	if _, err := os.Stat(k); err != nil {
		t.Fatalf("kubeconfig %q: %v (is the cluster up? `make cluster-up`)", k, err)
	}
	return k
}

// run runs name in dir with env added to this process's environment and returns its stdout; it fails
// the test, showing stderr, if the command fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	stdout, _ := runBoth(t, dir, env, name, args...)
	return stdout
}

// runCombined is run for commands that report on stderr: it returns stdout and stderr together.
func runCombined(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	stdout, stderr := runBoth(t, dir, env, name, args...)
	return stdout + stderr
}

func runBoth(t *testing.T, dir string, env []string, name string, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test's source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// lineDiff lists the lines that differ between a and b, by position.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, fmt.Sprintf("line %d:\n  committed: %s\n  generated: %s", i+1, x, y))
		}
	}
	return strings.Join(out, "\n")
}
