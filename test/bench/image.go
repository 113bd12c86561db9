package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/kubectl-fastdev/kubectl-fastdev/hack/mkimage/image"
)

// staticImage builds the web-static image the way hack/mkimage does (busybox httpd serving /www,
// user app), with www as its content: the "vanilla" pipeline's build step, and the image the
// peers' custom builds produce.
func staticImage(www string) (v1.Image, error) {
	passwd := "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\napp:x:1000:1000:app:/tmp:/sbin/nologin\n"
	group := "root:x:0:\nnobody:x:65534:\napp:x:1000:\n"
	base := image.NewLayer().
		File("/etc/passwd", 0o644, []byte(passwd)).
		File("/etc/group", 0o644, []byte(group)).
		Dir("/tmp", image.ModeSticky|0o777).
		HostFile("/bin/busybox", 0o755, "/bin/busybox")
	list, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets (apt-get install busybox-static): %w", err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet != "busybox" && !strings.Contains(applet, "/") {
			base.Symlink("/bin/"+applet, "busybox")
		}
	}
	content := image.NewLayer().Tree("/www", www, image.TreeOptions{})
	return image.Build(image.Config{
		Entrypoint: []string{"/bin/busybox", "httpd", "-f", "-v", "-p", "8080", "-h", "/www"},
		Env:        []string{"PATH=/bin"},
		WorkingDir: "/www",
		User:       "1000:1000",
	}, base, content)
}

// importImage writes img as a docker-archive tarball tagged ref into an empty directory and imports
// it into the cluster's containerd: with `hack/cluster/cluster.sh import DIR`, the local cluster's
// registry-free path, or, when sock is set (the peers' builds, which may run in the simulated remote
// link's network namespace, where cluster.sh cannot find the host's network), with ctr on that socket.
func importImage(ctx context.Context, repo, sock, ref string, img v1.Image) error {
	dir, err := os.MkdirTemp("", "bench-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "bench.tar")
	if err := image.WriteFile(file, ref, img); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(repo, "hack/cluster/cluster.sh"), "import", dir)
	if sock != "" {
		cmd = exec.CommandContext(ctx, "ctr", "-a", sock, "-n", "k8s.io", "images", "import", file)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("importing %s: %w: %s", ref, err, out)
	}
	return nil
}

// pushImage pushes img to the bench's plain-HTTP registry and has containerd pull it from there
// (Skaffold insists on pushing when there is no Docker daemon).
func pushImage(ctx context.Context, sock, ref string, img v1.Image) error {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.Write(r, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	out, err := exec.CommandContext(ctx, "ctr", "-a", sock, "-n", "k8s.io", "images", "pull", "--plain-http", ref).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr images pull %s: %w: %s", ref, err, out)
	}
	// Skaffold deploys repo:tag@digest: the kubelet looks the image up by repo@digest, which a pull
	// through ctr does not record (a pull through the CRI would). Without that name it pulls again, over
	// HTTPS, which only a loopback registry is spared (containerd tries plain HTTP for localhost alone).
	d, err := img.Digest()
	if err != nil {
		return err
	}
	byDigest := r.Context().Name() + "@" + d.String()
	out, err = exec.CommandContext(ctx, "ctr", "-a", sock, "-n", "k8s.io", "images", "tag", "--force", ref, byDigest).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr images tag %s %s: %w: %s", ref, byDigest, err, out)
	}
	return nil
}

// imageCommand is `bench image`: the custom build command the peers' configurations call.
func imageCommand(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	www := fs.String("www", "www", "directory served at /www")
	ref := fs.String("ref", os.Getenv("IMAGE"), "image reference to build (Skaffold sets $IMAGE, Tilt $EXPECTED_REF)")
	push := fs.Bool("push", false, "push to the registry in -ref and pull into containerd, instead of importing")
	repo := fs.String("repo", ".", "repository root (for hack/cluster/cluster.sh)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ref == "" {
		return errors.New("-ref (or $IMAGE) is required")
	}
	img, err := staticImage(*www)
	if err != nil {
		return err
	}
	// the driver passes the socket down; run by hand, ask the cluster harness
	sock := os.Getenv("FASTDEV_CONTAINERD_SOCK")
	if sock == "" {
		vars, err := clusterEnv(*repo)
		if err != nil {
			return err
		}
		sock = vars["FASTDEV_CONTAINERD_SOCK"]
	}
	if *push {
		return pushImage(ctx, sock, *ref, img)
	}
	return importImage(ctx, *repo, sock, *ref, img)
}

// registry is an in-memory OCI registry on this machine's loopback (and, for the simulated remote
// cluster, the veth address the network namespace reaches), which Skaffold pushes to.
type registry struct {
	addr   string // host:port it listens on
	public string // host:port the CLI side pushes to (the relay's, behind the simulated remote link)
	srv    *http.Server
}

func startRegistry(host string) (*registry, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))}
	go func() { _ = srv.Serve(ln) }()
	return &registry{addr: ln.Addr().String(), public: ln.Addr().String(), srv: srv}, nil
}

func (r *registry) close() { _ = r.srv.Close() }
