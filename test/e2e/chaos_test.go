package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// chaosRules syncs ./tree, keeps the pod's uploads/, and has three steps a file name triggers: one that
// fails (writing into uploads/ first), one that never exits (stopped at its 2 s timeout) and one that
// prints a 2 MB line.
const chaosRules = `container: web
sync:
  - from: ./tree
    to: /www
    keep: ["uploads/**"]
run:
  - cmd: /bin/busybox sh -c "mkdir -p /www/uploads && echo failed > /www/uploads/last-failure && echo failing on purpose && exit 3"
    trigger: ["fail-*"]
  - cmd: /bin/busybox sleep 1000
    trigger: ["hang-*"]
    timeout: 2s
  - cmd: /bin/busybox sh -c "/bin/busybox head -c 2097152 /dev/zero | /bin/busybox tr '\\000' x; echo"
    trigger: ["huge-*"]
restart: none
`

// chaosFaults are the faults TestChaos injects, in turn.
var chaosFaults = []string{"kill-synclet", "cut-connections", "branch-switch", "delete-pod", "restart-up", "scale"}

// revertGap spaces the reverts of the injection, which come on a clock of their own from a tenth of
// the edits on: at most 2 a minute, since `up` stops fighting at the third within a minute, which is its
// own test (TestRevertGivesUp), not chaos.
const revertGap = 31 * time.Second

// TestChaos makes a seeded random sequence of edits (create, modify, delete, rename files and
// directories; names with spaces and non-ASCII characters; binary files; one 50 MB file; an executable
// script; symlinks inside the tree; branch switches rewriting a whole directory of files at once;
// files that trigger a step that fails, one that times out and one that prints a 2 MB line) while
// deleting pods, killing the synclet container, cutting every connection to the API server, killing
// and restarting `up`, reverting the injection with `kubectl replace -f` of the manifest, and scaling
// 1 -> 3 -> 1. At the end every replica's tree must equal the local tree (hashes and modes; the pod's
// keep paths aside), and the local tree must be exactly what the test wrote: kubectl-fastdev never
// modifies it.
// FASTDEV_CHAOS_EDITS (default 80; `make test-chaos` uses 1000), FASTDEV_CHAOS_BURST (files per branch
// switch: 1000, or 250 under 500 edits) and FASTDEV_CHAOS_SEED tune it. Edits come up to 60 ms apart,
// 150 ms from 500 edits on: a long run lasts minutes, for reverts on their clock to come several times.
func TestChaos(t *testing.T) {
	newChaosRun(newEnv(t), nil).run()
}

// run makes the chaos run's edits and faults, and checks every replica and the local tree at the end.
func (r *chaosRun) run() {
	e, t := r.e, r.e.t
	start := time.Now()
	t.Logf("chaos: %d edits, bursts of %d files, seed %d (FASTDEV_CHAOS_SEED=%d reproduces the sequence)", r.edits, r.burst, r.seed, r.seed)
	e.applyExample(r.ns, "web-static", r.deployment)
	r.m.write("index.html", []byte("chaos index\n"), 0o644)
	r.up = r.startUp()
	e.waitConnected(r.up, r.ns, "web-static", 1)

	faultEvery, stepEvery := max(r.edits/40, 5), max(r.edits/30, 8)
	for i := 0; i < r.edits; i++ {
		r.m.randomEdit(i == r.edits/3)
		time.Sleep(time.Duration(r.rng.Intn(r.pause)) * time.Millisecond)
		switch {
		case i >= r.edits/10 && time.Since(r.lastRevert) >= revertGap:
			r.fault("revert")
		case i%faultEvery == faultEvery-1:
			r.fault(chaosFaults[(i/faultEvery)%len(chaosFaults)])
		case i%stepEvery == stepEvery/2:
			step := []string{"fail", "hang", "huge"}[(i/stepEvery)%3]
			r.m.trigger(step, i)
			r.faults["step-"+step]++
		}
	}
	r.converged()
	r.stepRound()
	want := r.converged()
	if diff := diffTrees(r.m.want, r.m.snapshot(t)); diff != "" {
		t.Errorf("the local tree changed under kubectl-fastdev: %s", diff)
	}
	r.report(want, time.Since(start))
}

// chaosRun is one TestChaos: the local tree, the `up` running on it, and what was injected so far.
type chaosRun struct {
	e          *env
	place      func(*appsv1.Deployment) // where the pods may run (nil: anywhere the scheduler likes)
	ns, dir    string
	edits      int
	burst      int // files per branch switch
	pause      int // most milliseconds between two edits
	seed       int64
	rng        *rand.Rand
	m          *chaosTree
	proxy      *cutProxy
	kubeconfig string
	up         *proc
	output     strings.Builder // the output of the `up`s killed so far
	replicas   int
	branch     int
	faults     map[string]int
	lastRevert time.Time
}

// deployment makes the sample's Deployment the chaos run's: its rules, and where its pods may run.
func (r *chaosRun) deployment(d *appsv1.Deployment) {
	d.Annotations["fastdev.dev/rules"] = chaosRules
	if r.place != nil {
		r.place(d)
	}
}

func newChaosRun(e *env, place func(*appsv1.Deployment)) *chaosRun {
	t := e.t
	edits, err := strconv.Atoi(envOr("FASTDEV_CHAOS_EDITS", "80"))
	if err != nil {
		t.Fatalf("FASTDEV_CHAOS_EDITS: %v", err)
	}
	burst, pause := 1000, 150
	if edits < 500 {
		burst, pause = 250, 60 // keeps the run inside `make test` short
	}
	if burst, err = strconv.Atoi(envOr("FASTDEV_CHAOS_BURST", strconv.Itoa(burst))); err != nil {
		t.Fatalf("FASTDEV_CHAOS_BURST: %v", err)
	}
	seed, err := strconv.ParseInt(envOr("FASTDEV_CHAOS_SEED", strconv.FormatInt(time.Now().UnixNano()%1e6, 10)), 10, 64)
	if err != nil {
		t.Fatalf("FASTDEV_CHAOS_SEED: %v", err)
	}
	r := &chaosRun{e: e, place: place, ns: e.namespace(nil), dir: t.TempDir(), edits: edits, burst: burst, pause: pause, seed: seed,
		rng: rand.New(rand.NewSource(seed)), replicas: 1, faults: map[string]int{}}
	r.m = &chaosTree{root: filepath.Join(r.dir, "tree"), rng: r.rng, want: map[string]string{}}
	r.proxy = e.newCutProxy("127.0.0.1:6443")
	r.kubeconfig = r.proxy.kubeconfig()
	return r
}

func (r *chaosRun) startUp() *proc {
	return r.e.startAs(r.kubeconfig, r.dir, "up", "-n", r.ns, "web-static")
}

// allOutput is what every `up` of the run printed.
func (r *chaosRun) allOutput() string { return r.output.String() + r.up.Output() }

// fault injects one fault; one that finds nothing to act on (no pod yet, a revert too soon after the
// last) cuts the connections instead.
func (r *chaosRun) fault(f string) {
	e := r.e
	done := true
	switch f {
	case "delete-pod":
		ps := e.pods(r.ns, "web-static")
		// a pod already going away is as good a fault: a failed delete is not the test's concern
		done = len(ps) > 0 && e.cs.CoreV1().Pods(r.ns).Delete(context.Background(), ps[r.rng.Intn(len(ps))].Name, metav1.DeleteOptions{}) == nil
	case "kill-synclet":
		done = e.killSynclet(r.ns)
	case "cut-connections":
		done = r.proxy.cut() > 0
	case "branch-switch":
		r.branch++
		r.m.branchSwitch(r.branch, r.burst)
	case "restart-up":
		r.up.kill()
		r.output.WriteString(r.up.Output())
		r.m.randomEdit(false) // an edit while no `up` runs
		r.up = r.startUp()
	case "revert":
		done = r.revert()
	case "scale":
		r.replicas = 4 - r.replicas // 1 <-> 3
		e.scale(r.ns, "web-static", int32(r.replicas))
	}
	if done {
		r.faults[f]++
	} else if f != "cut-connections" {
		r.fault("cut-connections")
	}
}

// revert writes the Deployment back as its manifest says (with the chaos rules and the current
// replicas), as a GitOps tool's sync does: `up` must notice and inject again. At most one per revertGap.
func (r *chaosRun) revert() bool {
	if !r.lastRevert.IsZero() && time.Since(r.lastRevert) < revertGap {
		return false
	}
	n := int32(r.replicas)
	manifest := r.e.manifestFile(func(d *appsv1.Deployment) {
		r.deployment(d)
		d.Spec.Replicas = &n
	})
	r.e.kubectl("-n", r.ns, "replace", "-f", manifest)
	r.lastRevert = time.Now()
	return true
}

// converged waits until every replica holds the local tree, and returns that tree.
func (r *chaosRun) converged() map[string]string {
	e := r.e
	want := r.m.snapshot(e.t)
	e.eventually(6*time.Minute, fmt.Sprintf("all %d replicas equal to the local tree", r.replicas), func() error {
		ps := e.pods(r.ns, "web-static")
		if len(ps) != r.replicas {
			return fmt.Errorf("%d running pods, want %d", len(ps), r.replicas)
		}
		for _, p := range ps {
			got, err := e.podTree(r.ns, p.Name)
			if err != nil {
				return err
			}
			if diff := diffTrees(want, got); diff != "" {
				return fmt.Errorf("pod %s: %s", p.Name, diff)
			}
		}
		return nil
	})
	return want
}

// stepOutcomes are what `up` prints for each of chaosRules' steps.
var stepOutcomes = map[string]string{"huge": "[line cut: 2097152 bytes", "hang": "timed out after 2s", "fail": "failed with exit code 3"}

// stepRound triggers each step once more after the chaos, one edit at a time, and waits for `up` to
// report its outcome, then for an edit after them to land: the steps work and wedge nothing.
func (r *chaosRun) stepRound() {
	for _, step := range []string{"huge", "hang", "fail"} {
		before := strings.Count(r.allOutput(), stepOutcomes[step])
		r.m.trigger(step, -1)
		r.e.eventually(90*time.Second, "the "+step+" step's outcome in up's output", func() error {
			if strings.Count(r.allOutput(), stepOutcomes[step]) <= before {
				return fmt.Errorf("no new %q in:\n%s", stepOutcomes[step], tail(r.up.Output(), 2000))
			}
			return nil
		})
	}
	r.m.write("index.html", []byte("after the step round\n"), 0o644)
}

// tail is the end of s, at most n bytes.
func tail(s string, n int) string { return s[max(len(s)-n, 0):] }

var reStepOutcome = regexp.MustCompile(`timed out after 2s|\[line cut: 2097152 bytes|failed with exit code 3`)

// report logs what the run did and fails it when too few faults were injected.
func (r *chaosRun) report(want map[string]string, took time.Duration) {
	t := r.e.t
	total := 0
	for f, n := range r.faults {
		if !strings.HasPrefix(f, "step-") {
			total += n
		}
	}
	out := r.allOutput()
	outcomes := map[string]int{}
	for _, m := range reStepOutcome.FindAllString(out, -1) {
		outcomes[m]++
	}
	t.Logf("chaos: survived %d edits (%d files at the end) and %d faults %v across %d replicas in %s; re-injections %d; step outcomes seen %v",
		r.m.edits, len(want), total, r.faults, r.replicas, took.Round(time.Second), strings.Count(out, "web-static: re-injected"), outcomes)
	if total < 5 {
		t.Errorf("only %d faults injected", total)
	}
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
	for _, p := range e.pods(ns, "web-static") {
		sock := os.Getenv("FASTDEV_CONTAINERD_SOCK") // each node has its containerd
		if n2 := os.Getenv("FASTDEV_NODE2"); n2 != "" && p.Spec.NodeName == n2 {
			sock = os.Getenv("FASTDEV_NODE2_CONTAINERD_SOCK")
		}
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
