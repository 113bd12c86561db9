package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/hack/mkimage/image"
)

// pyWheelDebs are the Debian packages of pure-Python libraries the web-python image carries as
// wheels in /app/wheels, so `pip install --no-index --find-links /app/wheels` in the pod installs
// them without an index: idna is the sample's own dependency, six the one test/e2e/python_test.go
// adds to requirements.txt and imports in the same edit.
var pyWheelDebs = []string{"python3-idna", "python3-six"}

// The web-python image's paths. The venv's site-packages is writable by the app's user, so pip in
// the pod installs into it; the interpreter and standard library stay the system's, read-only.
const (
	pySrc     = "/app/src"
	pyVenv    = "/app/venv"
	pyWheels  = "/app/wheels"
	pyPipWhls = "/usr/share/python-wheels" // Debian's python3-pip-whl
)

// webPythonImage is the sample Python service: Debian's python3 interpreter and standard library (the
// host's installed packages, with the shared libraries they load), a venv at /app/venv whose pip is
// Debian's pip wheel, the wheels of pyWheelDebs, and the sample's requirements installed into the
// venv. The Debian packages of the wheels are downloaded once into -cache DIR/debs.
func webPythonImage(ctx context.Context, o options, tmp string) (string, v1.Image, error) {
	if o.cache == "" {
		return "", nil, errors.New("-cache is required: the directory keeping Debian packages between builds")
	}
	py, err := hostPython()
	if err != nil {
		return "", nil, err
	}
	base, err := busyboxLayer(ctx, o.busybox)
	if err != nil {
		return "", nil, err
	}
	base.Symlink("/usr/bin/env", "/bin/busybox")
	runtime, err := pythonRuntime(ctx, py)
	if err != nil {
		return "", nil, err
	}
	wheels := filepath.Join(tmp, "wheels")
	if err := debWheels(ctx, filepath.Join(o.cache, "debs"), filepath.Join(tmp, "debs"), wheels); err != nil {
		return "", nil, err
	}
	src := filepath.Join(tmp, "src")
	if err := copyTree(filepath.Join(o.examples, "web-python", "src"), src); err != nil {
		return "", nil, err
	}
	site := filepath.Join(tmp, "site-packages")
	if err := hostPip(ctx, py, "install", "--no-index", "--find-links", wheels, "--target", site, "-r", filepath.Join(src, "requirements.txt")); err != nil {
		return "", nil, err
	}
	venv := image.NewLayer().
		Dir("/app", 0o755).
		Tree(pySrc, src, image.TreeOptions{}).
		Tree(pyWheels, wheels, image.TreeOptions{}).
		File(pyVenv+"/pyvenv.cfg", 0o644, []byte("home = /usr/bin\ninclude-system-site-packages = false\nversion = "+py.version+"\n")).
		Symlink(pyVenv+"/bin/python", py.bin).
		Symlink(pyVenv+"/bin/python3", "python").
		File(pyVenv+"/bin/pip", 0o755, pipScript(py.pip)).
		Symlink(pyVenv+"/bin/pip3", "pip").
		// not sticky: pip replaces and removes the image's packages when requirements change
		Tree(py.sitePackages(), site, image.TreeOptions{DirMode: 0o777, FileMode: 0o666})
	img, err := image.Build(image.Config{
		Entrypoint: []string{pyVenv + "/bin/python", "server.py"},
		Env: []string{
			"PATH=" + pyVenv + "/bin:/usr/bin:/bin",
			"HOME=/tmp",
			"VIRTUAL_ENV=" + pyVenv,
			"PYTHONUNBUFFERED=1",
			// no __pycache__ in the synced source directory, which the next converge would delete
			"PYTHONDONTWRITEBYTECODE=1",
			"PIP_DISABLE_PIP_VERSION_CHECK=1",
			"PIP_NO_CACHE_DIR=1",
		},
		WorkingDir: pySrc,
		User:       appUser,
	}, base, runtime, venv)
	return "fastdev.local/web-python:dev", img, err
}

// python is the host's Debian python3: its interpreter, version and pip wheel.
type python struct {
	bin     string // /usr/bin/python3.11
	minor   string // 3.11
	version string // 3.11.2
	pip     string // the pip wheel's in-image (and host) path
}

func (p python) sitePackages() string {
	return path.Join(pyVenv, "lib", "python"+p.minor, "site-packages")
}

// hostPython finds Debian's python3 (/usr/bin/python3 and its packages) and pip wheel on the host.
func hostPython() (python, error) {
	const fix = "apt-get install python3 python3-pip-whl (make deps)"
	target, err := os.Readlink("/usr/bin/python3")
	if err != nil || !strings.HasPrefix(target, "python3.") || strings.Contains(target, "/") {
		return python{}, fmt.Errorf("/usr/bin/python3 is not Debian's link to python3.X (%v): %s", err, fix)
	}
	p := python{bin: "/usr/bin/" + target, minor: strings.TrimPrefix(target, "python")}
	out, err := exec.Command(p.bin, "-I", "-c", "import platform; print(platform.python_version())").Output()
	if err != nil {
		return python{}, fmt.Errorf("running %s: %w (%s)", p.bin, err, fix)
	}
	p.version = strings.TrimSpace(string(out))
	pips, err := filepath.Glob(filepath.Join(pyPipWhls, "pip-*-py3-none-any.whl"))
	if err != nil || len(pips) != 1 {
		return python{}, fmt.Errorf("want one pip wheel in %s, found %v: %s", pyPipWhls, pips, fix)
	}
	p.pip = pips[0]
	return p, nil
}

// pythonRuntime is a layer with the files of Debian's python3.X-minimal, libpython3.X-minimal and
// libpython3.X-stdlib as installed on the host (without /usr/share), /usr/bin/python3, the pip
// wheel, and the shared libraries the interpreter and the standard library's extension modules load.
func pythonRuntime(ctx context.Context, py python) (*image.Layer, error) {
	pkgs := []string{"python" + py.minor + "-minimal", "libpython" + py.minor + "-minimal", "libpython" + py.minor + "-stdlib"}
	out, err := exec.CommandContext(ctx, "dpkg", append([]string{"-L"}, pkgs...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("dpkg -L %s (apt-get install python3): %w", strings.Join(pkgs, " "), err)
	}
	l := image.NewLayer().
		Symlink("/usr/bin/python3", path.Base(py.bin)).
		HostFile(py.pip, 0o644, py.pip)
	var elfs []string
	for _, p := range strings.Split(string(out), "\n") {
		if p == "" || !path.IsAbs(p) || strings.HasPrefix(p, "/usr/share/") || strings.HasPrefix(p, "/usr/lib/binfmt.d/") {
			continue
		}
		fi, err := os.Lstat(p)
		switch {
		case err != nil:
			return nil, fmt.Errorf("%s, listed by dpkg -L: %w", p, err)
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return nil, err
			}
			l.Symlink(p, target)
		case fi.Mode().IsRegular():
			mode := int64(0o644)
			if fi.Mode().Perm()&0o111 != 0 {
				mode = 0o755
			}
			l.HostFile(p, mode, p)
			if strings.HasSuffix(p, ".so") || p == py.bin {
				elfs = append(elfs, p)
			}
		}
	}
	if !l.Has(py.bin) {
		return nil, fmt.Errorf("dpkg -L %s does not list %s", pkgs[0], py.bin)
	}
	return l, addSharedLibs(ctx, l, elfs...)
}

// pipScript is the venv's bin/pip: Debian's pip run from its wheel (a zip on sys.path), as
// `python pip.whl/pip` would, so nothing is installed into the system's Python.
func pipScript(wheel string) []byte {
	return []byte(`#!` + pyVenv + `/bin/python
# pip from Debian's wheel (python3-pip-whl), run from the zip itself
import sys
sys.path.insert(0, "` + wheel + `")
from pip._internal.cli.main import main
sys.exit(main())
`)
}

// hostPip runs Debian's pip from its wheel with the host's interpreter, isolated from the host's
// environment and user site.
func hostPip(ctx context.Context, py python, args ...string) error {
	argv := append([]string{"-I", path.Join(py.pip, "pip")}, args...)
	argv = append(argv, "--no-compile", "--disable-pip-version-check", "--no-cache-dir")
	cmd := exec.CommandContext(ctx, py.bin, argv...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + os.TempDir(), "PIP_CONFIG_FILE=/dev/null"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pip %s: %w\n%s", strings.Join(args, " "), err, out.Bytes())
	}
	return nil
}
