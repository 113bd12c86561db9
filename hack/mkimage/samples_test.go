package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sampleImage builds one of the web-node and web-python images (downloads land in the cache `make`
// uses, FASTDEV_CACHE, so a second run downloads nothing), unpacks it into a temp root whose
// /app/src belongs to the app user, as the seed leaves it in the pod, and returns the root and the
// image's environment.
func sampleImage(t *testing.T, name, ref string) (string, []string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the " + name + " image (the first run downloads its packages)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root, to chroot into the unpacked image")
	}
	for _, c := range []string{"unshare", "chroot", "mount"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("needs %s: %v", c, err)
		}
	}
	cache := os.Getenv("FASTDEV_CACHE")
	if cache == "" {
		cache = t.TempDir()
	}
	out := t.TempDir()
	var stdout bytes.Buffer
	o := options{out: out, only: []string{name}, examples: examples, busybox: "/bin/busybox", cache: cache}
	if err := run(context.Background(), o, &stdout); err != nil {
		t.Fatal(err)
	}
	t.Log(strings.TrimSpace(stdout.String()))
	root := t.TempDir()
	env := unpack(t, filepath.Join(out, name+".tar"), ref, root)
	if b, err := exec.Command("chown", "-R", "1000:1000", filepath.Join(root, "app", "src")).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, b)
	}
	return root, env
}

// inImage runs a shell script in the unpacked image as the app user (uid 1000), in /app/src, with
// the image's environment, and returns its combined output.
// The host's tools are named by their paths: the image's PATH (the environment) lacks /usr/sbin.
func inImage(root string, env []string, script string) (string, error) {
	chroot, err := exec.LookPath("chroot")
	if err != nil {
		return "", err
	}
	wrap := `mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" &&
		exec "$3" --userspec=1000:1000 "$1" /bin/sh -c "cd /app/src && $2"`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "/bin/sh", "-c", wrap, "sh", root, script, chroot)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// editFile replaces old by new in a file of the unpacked image.
func editFile(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWebNodeOfflineInstall: in the web-node image, as the app user, a dependency added to
// package.json installs with `npm install --offline` from the image's cache alone (the e2e test's
// edit), and one the cache lacks fails with npm's ENOTCACHED rather than reaching for a registry.
func TestWebNodeOfflineInstall(t *testing.T) {
	root, env := sampleImage(t, "web-node", "fastdev.local/web-node:dev")
	if out, err := inImage(root, env, `node -e 'console.log(require("ms")(60000))'`); err != nil || strings.TrimSpace(out) != "1m" {
		t.Fatalf("the sample's dependency in the image: %v\n%s", err, out)
	}
	pkg := filepath.Join(root, "app", "src", "package.json")
	editFile(t, pkg, `"ms": "2.1.3"`, `"escape-html": "1.0.3", "ms": "2.1.3"`)
	out, err := inImage(root, env, `npm install --offline && node -e 'console.log(require("escape-html")("<a>"))'`)
	if err != nil || !strings.Contains(out, "&lt;a&gt;") {
		t.Fatalf("npm install --offline of an added dependency: %v\n%s", err, out)
	}
	editFile(t, pkg, `"ms": "2.1.3"`, `"left-pad": "1.3.0", "ms": "2.1.3"`)
	out, err = inImage(root, env, `npm install --offline`)
	if err == nil || !strings.Contains(out, "ENOTCACHED") || !strings.Contains(out, "left-pad") {
		t.Fatalf("npm install --offline of a package the cache lacks: %v\n%s", err, out)
	}
}

// TestWebPythonOfflineInstall: in the web-python image, as the app user, the sample's requirement
// imports, a requirement added to requirements.txt installs into the venv from the image's wheels,
// and one without a wheel fails with pip's error.
func TestWebPythonOfflineInstall(t *testing.T) {
	root, env := sampleImage(t, "web-python", "fastdev.local/web-python:dev")
	out, err := inImage(root, env, `python -c 'import idna; print(idna.encode("bücher.example").decode())'`)
	if err != nil || strings.TrimSpace(out) != "xn--bcher-kva.example" {
		t.Fatalf("the sample's requirement in the image: %v\n%s", err, out)
	}
	reqs := filepath.Join(root, "app", "src", "requirements.txt")
	editFile(t, reqs, "idna==3.3\n", "idna==3.3\nsix==1.16.0\n")
	install := `pip install --no-index --find-links /app/wheels -r requirements.txt`
	out, err = inImage(root, env, install+` && python -c 'import six; print(six.__file__)'`)
	if err != nil || !strings.Contains(out, "/app/venv/lib/python3.") {
		t.Fatalf("pip install of an added requirement: %v\n%s", err, out)
	}
	editFile(t, reqs, "six==1.16.0\n", "six==1.16.0\nleft-pad==1.0\n")
	out, err = inImage(root, env, install)
	if err == nil || !strings.Contains(out, "No matching distribution found for left-pad") {
		t.Fatalf("pip install of a requirement without a wheel: %v\n%s", err, out)
	}
}

// TestWheelFromDist turns an installed .egg-info distribution into a wheel: its modules, METADATA
// with the unconditional requires.txt lines as Requires-Dist, WHEEL, and a RECORD whose hashes match.
func TestWheelFromDist(t *testing.T) {
	site := t.TempDir()
	files := map[string]string{
		"Demo_Pkg-1.2.egg-info/PKG-INFO":     "Metadata-Version: 2.1\nName: Demo.Pkg\nVersion: 1.2\nSummary: demo\n\nLong description.\n",
		"Demo_Pkg-1.2.egg-info/requires.txt": "six>=1.5\n\n[test]\npytest\n",
		"demo_pkg/__init__.py":               "VALUE = 1\n",
		"demo_pkg/__pycache__/x.pyc":         "compiled",
	}
	for p, data := range files {
		writeFile(t, filepath.Join(site, p), data)
	}
	out := t.TempDir()
	whl, err := wheelFromDist(site, out)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(whl) != "Demo_Pkg-1.2-py3-none-any.whl" {
		t.Errorf("wheel named %s", filepath.Base(whl))
	}
	zr, err := zip.OpenReader(whl)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	got := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		got[f.Name] = string(b)
	}
	info := "Demo_Pkg-1.2.dist-info/"
	for _, name := range []string{"demo_pkg/__init__.py", info + "METADATA", info + "WHEEL", info + "RECORD"} {
		if _, ok := got[name]; !ok {
			t.Errorf("the wheel lacks %s (has %v)", name, keys(got))
		}
	}
	if len(got) != 4 {
		t.Errorf("the wheel holds %v, want no __pycache__ and no .egg-info", keys(got))
	}
	meta := got[info+"METADATA"]
	if !strings.Contains(meta, "\nRequires-Dist: six>=1.5\n") || strings.Contains(meta, "pytest") || !strings.HasSuffix(meta, "\n\nLong description.\n") {
		t.Errorf("METADATA:\n%s", meta)
	}
	sum := sha256.Sum256([]byte(files["demo_pkg/__init__.py"]))
	want := fmt.Sprintf("demo_pkg/__init__.py,sha256=%s,%d\n", base64.RawURLEncoding.EncodeToString(sum[:]), len(files["demo_pkg/__init__.py"]))
	if rec := got[info+"RECORD"]; !strings.Contains(rec, want) || !strings.HasSuffix(rec, info+"RECORD,,\n") {
		t.Errorf("RECORD:\n%s\nwant a line %q", rec, want)
	}
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestFetchNPM: the npm release fetched for hosts whose npm is not self-contained (Debian's) is
// complete, runs with the host's node, and is reused from the cache.
func TestFetchNPM(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads " + npmRelease + " from the npm registry")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("needs node")
	}
	cli, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("needs npm")
	}
	cache := t.TempDir()
	dir, err := fetchNPM(context.Background(), node, cli, cache)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, filepath.Join(dir, "bin", "npm-cli.js"), "--version").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != strings.TrimPrefix(npmRelease, "npm@") {
		t.Fatalf("%s --version: %v\n%s", dir, err, out)
	}
	again, err := fetchNPM(context.Background(), "/nonexistent/node", cli, cache)
	if err != nil || again != dir {
		t.Errorf("a second fetch did not reuse the cache: %q, %v", again, err)
	}
}
