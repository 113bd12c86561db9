package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestChaos makes a seeded random sequence of edits (create, modify, delete, rename files and
// directories; names with spaces and non-ASCII characters; binary files; one 50 MB file; an executable
// script; symlinks inside the tree) while deleting pods, killing the synclet container, cutting every
// connection to the API server, killing and restarting `up`, and scaling 1 -> 3 -> 1. At the end every
// replica's tree must equal the local tree (hashes and modes), and the local tree must be exactly what
// the test wrote: kubectl-fastdev never modifies it.
// FASTDEV_CHAOS_EDITS (default 80; `make test-chaos` uses 240) and FASTDEV_CHAOS_SEED tune it.
func TestChaos(t *testing.T) {
	e := newEnv(t)
	edits, err := strconv.Atoi(envOr("FASTDEV_CHAOS_EDITS", "80"))
	if err != nil {
		t.Fatalf("FASTDEV_CHAOS_EDITS: %v", err)
	}
	seed, err := strconv.ParseInt(envOr("FASTDEV_CHAOS_SEED", strconv.FormatInt(time.Now().UnixNano()%1e6, 10)), 10, 64)
	if err != nil {
		t.Fatalf("FASTDEV_CHAOS_SEED: %v", err)
	}
	t.Logf("chaos: %d edits, seed %d (FASTDEV_CHAOS_SEED=%d reproduces the sequence)", edits, seed, seed)
	rng := rand.New(rand.NewSource(seed))

	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		d.Annotations["fastdev.dev/rules"] = "container: web\nsync:\n  - from: ./tree\n    to: /www\nrestart: none\n"
	})
	dir := t.TempDir()
	root := filepath.Join(dir, "tree")
	m := &chaosTree{root: root, rng: rng, want: map[string]string{}}
	m.write("index.html", []byte("chaos index\n"), 0o644)

	proxy := e.newCutProxy("127.0.0.1:6443")
	cfg := proxy.kubeconfig()
	startUp := func() *proc {
		p := e.startAs(cfg, dir, "up", "-n", ns, "web-static")
		return p
	}
	up := startUp()
	e.waitConnected(up, ns, "web-static", 1)

	faults := map[string]int{}
	faultEvery := max(edits/16, 3)
	replicas := 1
	for i := 0; i < edits; i++ {
		m.randomEdit(i == edits/3)
		time.Sleep(time.Duration(rng.Intn(60)) * time.Millisecond)
		if i%faultEvery != faultEvery-1 {
			continue
		}
		switch f := []string{"kill-synclet", "cut-connections", "delete-pod", "restart-up", "scale"}[(i/faultEvery)%5]; f {
		case "delete-pod":
			if ps := e.pods(ns, "web-static"); len(ps) > 0 {
				// a pod already going away is as good a fault: a failed delete is not the test's concern
				_ = e.cs.CoreV1().Pods(ns).Delete(context.Background(), ps[rng.Intn(len(ps))].Name, metav1.DeleteOptions{})
				faults[f]++
			}
		case "kill-synclet":
			if e.killSynclet(ns) {
				faults[f]++
			}
		case "cut-connections":
			if n := proxy.cut(); n > 0 {
				faults[f]++
			}
		case "restart-up":
			up.kill()
			m.randomEdit(false) // an edit while no `up` runs
			up = startUp()
			faults[f]++
		case "scale":
			if replicas == 1 {
				replicas = 3
			} else {
				replicas = 1
			}
			e.scale(ns, "web-static", int32(replicas))
			faults[f]++
		}
	}
	want := m.snapshot(t)
	e.eventually(4*time.Minute, fmt.Sprintf("all %d replicas equal to the local tree", replicas), func() error {
		ps := e.pods(ns, "web-static")
		if len(ps) != replicas {
			return fmt.Errorf("%d running pods, want %d", len(ps), replicas)
		}
		for _, p := range ps {
			got, err := e.podTree(ns, p.Name)
			if err != nil {
				return err
			}
			if diff := diffTrees(want, got); diff != "" {
				return fmt.Errorf("pod %s: %s", p.Name, diff)
			}
		}
		return nil
	})
	if diff := diffTrees(m.want, m.snapshot(t)); diff != "" {
		t.Errorf("the local tree changed under kubectl-fastdev: %s", diff)
	}
	total := 0
	for _, n := range faults {
		total += n
	}
	t.Logf("chaos: survived %d edits (%d files at the end) and %d faults %v across %d replicas", m.edits, len(want), total, faults, replicas)
	if total < 5 {
		t.Errorf("only %d faults injected", total)
	}
}

// chaosTree makes random edits under root and keeps want: what every path should hold afterwards.
type chaosTree struct {
	root  string
	rng   *rand.Rand
	want  map[string]string // rel -> "F|mode|sha" / "D" / "L|target"
	edits int
	big   bool
}

var chaosNames = []string{"a.txt", "b c.html", "naïve café.txt", "日本語.md", "data.bin", "x-y_z.json", "run.sh", "Ünïcødé dir", "deep", "ﬁle"}

func (c *chaosTree) pick(kind byte) string {
	var out []string
	for p, v := range c.want {
		if v[0] == kind && p != "index.html" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return ""
	}
	sort.Strings(out)
	return out[c.rng.Intn(len(out))]
}

func (c *chaosTree) newPath() string {
	dir := "."
	if d := c.pick('D'); d != "" && c.rng.Intn(3) > 0 {
		dir = d
	}
	return filepath.ToSlash(filepath.Join(dir, fmt.Sprintf("%d %s", c.rng.Intn(1000), chaosNames[c.rng.Intn(len(chaosNames))])))
}

func (c *chaosTree) write(rel string, data []byte, mode os.FileMode) {
	p := filepath.Join(c.root, rel)
	must(os.MkdirAll(filepath.Dir(p), 0o755))
	os.RemoveAll(p)
	must(os.WriteFile(p, data, mode))
	must(os.Chmod(p, mode))
	h := sha256.Sum256(data)
	c.want[rel] = fmt.Sprintf("F|%o|%s", mode, hex.EncodeToString(h[:]))
	for d := filepath.ToSlash(filepath.Dir(rel)); d != "."; d = filepath.ToSlash(filepath.Dir(d)) {
		c.want[d] = "D"
	}
}

// must stops the run on a local file system error: the edits are the test's own, on its temp dir,
// and want would no longer describe the tree.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

func (c *chaosTree) remove(rel string) {
	os.RemoveAll(filepath.Join(c.root, rel))
	for p := range c.want {
		if p == rel || strings.HasPrefix(p, rel+"/") {
			delete(c.want, p)
		}
	}
}

func (c *chaosTree) rename(from, to string) {
	must(os.MkdirAll(filepath.Dir(filepath.Join(c.root, to)), 0o755))
	if err := os.Rename(filepath.Join(c.root, from), filepath.Join(c.root, to)); err != nil {
		return
	}
	for p, v := range c.want {
		if p == from || strings.HasPrefix(p, from+"/") {
			delete(c.want, p)
			c.want[to+strings.TrimPrefix(p, from)] = v
		}
	}
	for d := filepath.ToSlash(filepath.Dir(to)); d != "."; d = filepath.ToSlash(filepath.Dir(d)) {
		c.want[d] = "D"
	}
}

func (c *chaosTree) content() ([]byte, os.FileMode) {
	switch c.rng.Intn(4) {
	case 0: // binary
		b := make([]byte, c.rng.Intn(64<<10))
		c.rng.Read(b)
		return b, 0o644
	case 1:
		return []byte("#!/bin/sh\necho chaos " + strconv.Itoa(c.rng.Int()) + "\n"), 0o755
	default:
		return []byte(strings.Repeat("line "+strconv.Itoa(c.rng.Int())+"\n", 1+c.rng.Intn(50))), 0o644
	}
}

func (c *chaosTree) randomEdit(big bool) {
	c.edits++
	if big && !c.big {
		c.big = true
		b := make([]byte, 50<<20)
		c.rng.Read(b)
		c.write("big/fifty-megabytes.bin", b, 0o644)
		return
	}
	switch op := c.rng.Intn(10); {
	case op < 3:
		b, mode := c.content()
		c.write(c.newPath(), b, mode)
	case op < 5:
		if f := c.pick('F'); f != "" {
			b, mode := c.content()
			c.write(f, b, mode)
		}
	case op == 5:
		if f := c.pick('F'); f != "" {
			c.remove(f)
		}
	case op == 6:
		if f := c.pick('F'); f != "" {
			c.rename(f, c.newPath())
		}
	case op == 7:
		d := c.newPath()
		must(os.MkdirAll(filepath.Join(c.root, d), 0o755))
		for x := filepath.ToSlash(d); x != "."; x = filepath.ToSlash(filepath.Dir(x)) {
			c.want[x] = "D"
		}
	case op == 8:
		if d := c.pick('D'); d != "" && !strings.HasPrefix(d, "big") {
			if c.rng.Intn(2) == 0 {
				c.remove(d)
			} else {
				c.rename(d, c.newPath())
			}
		}
	default:
		if f := c.pick('F'); f != "" {
			link := filepath.ToSlash(filepath.Join(filepath.Dir(f), fmt.Sprintf("link %d", c.rng.Intn(1000))))
			os.RemoveAll(filepath.Join(c.root, link))
			if os.Symlink(filepath.Base(f), filepath.Join(c.root, link)) == nil {
				c.want[link] = "L|" + filepath.Base(f)
			}
		}
	}
}

// snapshot reads the local tree in the same form as want.
func (c *chaosTree) snapshot(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(c.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == c.root {
			return err
		}
		rel, err := filepath.Rel(c.root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			tgt, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "L|" + tgt
		case fi.IsDir():
			out[rel] = "D"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(b)
			out[rel] = fmt.Sprintf("F|%o|%s", fi.Mode().Perm(), hex.EncodeToString(h[:]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// podTree lists /www in a pod's app container in the snapshot form, using the image's busybox.
func (e *env) podTree(ns, pod string) (map[string]string, error) {
	script := `cd /www && find . -mindepth 1 | while IFS= read -r f; do
  if [ -L "$f" ]; then echo "L|$(readlink "$f")|$f"
  elif [ -d "$f" ]; then echo "D||$f"
  else echo "F|$(stat -c %a "$f")|$(sha256sum < "$f" | cut -d' ' -f1)|$f"; fi; done`
	out, err := exec.Command(e.kubectlBin, "--kubeconfig", e.kubeconfig, "-n", ns, "exec", pod, "-c", "web", "--", "/bin/sh", "-c", script).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("listing pod %s: %v: %s", pod, err, out)
	}
	tree := map[string]string{}
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if l == "" {
			continue
		}
		parts := strings.SplitN(l, "|", 4)
		switch parts[0] {
		case "L":
			tree[strings.TrimPrefix(parts[2], "./")] = "L|" + parts[1]
		case "D":
			tree[strings.TrimPrefix(parts[2], "./")] = "D"
		case "F":
			if len(parts) == 4 {
				tree[strings.TrimPrefix(parts[3], "./")] = "F|" + parts[1] + "|" + parts[2]
			}
		}
	}
	return tree, nil
}

func diffTrees(want, got map[string]string) string {
	var d []string
	for p, w := range want {
		if g, ok := got[p]; !ok {
			d = append(d, "missing "+p)
		} else if g != w {
			d = append(d, fmt.Sprintf("%s is %s, want %s", p, g, w))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			d = append(d, "extra "+p)
		}
	}
	sort.Strings(d)
	if len(d) > 8 {
		d = append(d[:8], fmt.Sprintf("... and %d more", len(d)-8))
	}
	return strings.Join(d, "; ")
}

// killSynclet kills the synclet container of a random pod through the node's containerd.
func (e *env) killSynclet(ns string) bool {
	// right after another fault there may be no running pod yet: wait for one
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if e.tryKillSynclet(ns) {
			return true
		}
	}
	return false
}

func (e *env) tryKillSynclet(ns string) bool {
	sock := os.Getenv("FASTDEV_CONTAINERD_SOCK")
	for _, p := range e.pods(ns, "web-static") {
		for _, s := range p.Status.InitContainerStatuses {
			if s.Name == "fastdev-synclet" && s.State.Running != nil && s.ContainerID != "" {
				id := strings.TrimPrefix(s.ContainerID, "containerd://")
				out, err := exec.Command("ctr", "-a", sock, "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", id).CombinedOutput()
				if err != nil {
					e.t.Logf("killing synclet of %s: %v: %s", p.Name, err, out)
				}
				return err == nil
			}
		}
	}
	return false
}

// cutProxy relays TCP to the API server and can drop every open connection at once: a network
// fault for the port-forwards of `up`, with no hook in kubectl-fastdev itself.
type cutProxy struct {
	e     *env
	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func (e *env) newCutProxy(target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	p := &cutProxy{e: e, ln: ln, conns: map[net.Conn]bool{}}
	e.t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[u] = true, true
			p.mu.Unlock()
			// each copy ends when either side closes, a cut included: there is nothing to report
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns)
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
	return n
}

// kubeconfig writes a copy of the cluster's kubeconfig whose server is the proxy (the API server's
// certificate names 127.0.0.1, so TLS still verifies).
func (p *cutProxy) kubeconfig() string {
	t := p.e.t
	b, err := os.ReadFile(p.e.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "proxied.kubeconfig")
	s := strings.ReplaceAll(string(b), "https://127.0.0.1:6443", "https://"+p.ln.Addr().String())
	if err := os.WriteFile(out, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}
