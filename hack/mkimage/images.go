package main

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/hack/mkimage/image"
)

// options is mkimage's validated input; flags map one to one onto its fields.
type options struct {
	out        string
	only       []string
	version    string
	syncletBin string
	pauseBin   string
	examples   string
	busybox    string
	cache      string
	dlvModule  string // Delve's tools module, built into the synclet image (delve.go); empty: no Delve
}

// recipe builds one image. tmp is a scratch directory that lives until the image has been written,
// since layers are read lazily from the host at that point.
type recipe struct {
	name  string
	build func(ctx context.Context, o options, tmp string) (ref string, img v1.Image, err error)
}

var recipes = []recipe{
	{"pause", pauseImage},
	{"synclet", syncletImage},
	{"web-static", webStaticImage},
	{"web-go", webGoImage},
	{"web-node", webNodeImage},
	{"web-python", webPythonImage},
}

func names() []string {
	var ns []string
	for _, r := range recipes {
		ns = append(ns, r.name)
	}
	return ns
}

// run builds the selected images one after the other (the web-go one compiles, and the machine
// may be busy) and prints one line per image to out.
func run(ctx context.Context, o options, out io.Writer) error {
	if o.out == "" {
		return errors.New("-out is required: the directory to write the image tarballs into")
	}
	for _, n := range o.only {
		if !slices.Contains(names(), n) {
			return fmt.Errorf("-only: unknown image %q (known: %s)", n, strings.Join(names(), ", "))
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	for _, r := range recipes {
		if len(o.only) > 0 && !slices.Contains(o.only, r.name) {
			continue
		}
		start := time.Now()
		file := filepath.Join(o.out, r.name+".tar")
		ref, err := buildAndWrite(ctx, r, o, file)
		if err != nil {
			return fmt.Errorf("image %s: %w", r.name, err)
		}
		fi, err := os.Stat(file)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-10s %-36s %7.1f MiB %6.1fs  %s\n",
			r.name, ref, float64(fi.Size())/(1<<20), time.Since(start).Seconds(), file)
	}
	return nil
}

func buildAndWrite(ctx context.Context, r recipe, o options, file string) (string, error) {
	tmp, err := os.MkdirTemp("", "mkimage-"+r.name+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	ref, img, err := r.build(ctx, o, tmp)
	if err != nil {
		return "", err
	}
	if err := image.WriteFile(file, ref, img); err != nil {
		return "", err
	}
	// the manifest digest the image keeps when the tarball is pushed (crane push): make dist pins the
	// synclet image of a release to it
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return ref, os.WriteFile(file+".digest", []byte(d.String()+"\n"), 0o644)
}

// pauseImage is the sandbox ("pause") image the local cluster's containerd is configured with, so
// that no registry is ever contacted. Its user matches the upstream image's.
func pauseImage(_ context.Context, o options, _ string) (string, v1.Image, error) {
	if err := checkStatic("-pause-bin", o.pauseBin); err != nil {
		return "", nil, err
	}
	l := image.NewLayer().HostFile("/pause", 0o755, o.pauseBin)
	img, err := image.Build(image.Config{Entrypoint: []string{"/pause"}, User: "65535:65535"}, l)
	return "fastdev.local/pause:3.10", img, err
}

// syncletImage carries only the static synclet binary and a static Delve (for `up --debug`): the
// injection copies both into the pod, so the image needs nothing else, apart from the user database
// and /tmp that any process may expect.
func syncletImage(ctx context.Context, o options, _ string) (string, v1.Image, error) {
	if o.version == "" {
		return "", nil, errors.New("-version is required: it is the synclet image's tag (see the VERSION file)")
	}
	if err := checkStatic("-synclet-bin", o.syncletBin); err != nil {
		return "", nil, err
	}
	l := baseLayer(false).HostFile("/synclet", 0o755, o.syncletBin)
	if err := addDelve(ctx, o, l); err != nil { // /dlv, for `up --debug`
		return "", nil, err
	}
	img, err := image.Build(image.Config{Entrypoint: []string{"/synclet"}, User: "65534:65534"}, l)
	return "kubectl-fastdev/synclet:" + o.version, img, err
}

// webStaticImage is busybox httpd serving /www: the sample where an update is a file sync and a
// process restart, with no build step. The user is the non-root "app", so it also runs where the
// restricted Pod Security Standard is enforced.
func webStaticImage(ctx context.Context, o options, _ string) (string, v1.Image, error) {
	base, err := busyboxLayer(ctx, o.busybox)
	if err != nil {
		return "", nil, err
	}
	www := image.NewLayer().Tree("/www", filepath.Join(o.examples, "web-static", "www"), image.TreeOptions{})
	img, err := image.Build(image.Config{
		Entrypoint: []string{"/bin/busybox", "httpd", "-f", "-v", "-p", "8080", "-h", "/www"},
		Env:        []string{"PATH=/bin"},
		WorkingDir: "/www",
		User:       appUser,
	}, base, www)
	return "fastdev.local/web-static:dev", img, err
}

// appUser is the sample apps' non-root user, listed in their /etc/passwd as "app".
const appUser = "1000:1000"

// baseLayer returns a layer with /etc/passwd, /etc/group (root, nobody and, with app, the sample
// apps' user) and a world-writable /tmp.
func baseLayer(app bool) *image.Layer {
	passwd := "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
	group := "root:x:0:\nnobody:x:65534:\n"
	if app {
		passwd += "app:x:1000:1000:app:/tmp:/sbin/nologin\n"
		group += "app:x:1000:\n"
	}
	return image.NewLayer().
		File("/etc/passwd", 0o644, []byte(passwd)).
		File("/etc/group", 0o644, []byte(group)).
		Dir("/tmp", image.ModeSticky|0o777)
}

// busyboxLayer is baseLayer(true) plus the static busybox at /bin/busybox and a /bin/<applet>
// symlink for every applet it was built with.
func busyboxLayer(ctx context.Context, busybox string) (*image.Layer, error) {
	if err := checkStatic("-busybox", busybox); err != nil {
		return nil, fmt.Errorf("%w (apt-get install busybox-static)", err)
	}
	list, err := exec.CommandContext(ctx, busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets with %s --list: %w", busybox, err)
	}
	l := baseLayer(true).HostFile("/bin/busybox", 0o755, busybox)
	n := 0
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		l.Symlink("/bin/"+applet, "busybox")
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s --list printed no applets", busybox)
	}
	return l, l.Err()
}

// checkStatic fails unless file is a statically linked ELF executable, the only kind that runs in
// images without a libc. flagName is named in the error so the user knows what to fix.
func checkStatic(flagName, file string) error {
	if file == "" {
		return fmt.Errorf("%s is required", flagName)
	}
	f, err := elf.Open(file)
	if err != nil {
		return fmt.Errorf("%s %s: %w", flagName, file, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s %s is dynamically linked; give a static binary (for Go: CGO_ENABLED=0 go build)", flagName, file)
		}
	}
	return nil
}
