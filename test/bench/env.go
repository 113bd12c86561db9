package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// env is what every measure needs: where things are and how to reach the cluster.
type env struct {
	repo       string // repository root
	cache      string // $FASTDEV_CACHE: cluster state, images, peer tools
	fastdev    string // the kubectl-fastdev binary under test
	self       string // this driver's own binary (the peers' image build scripts call it back)
	kubectl    string // the cluster's own kubectl, the one every contender uses
	kubeconfig string
	rest       *rest.Config
	cs         kubernetes.Interface
	work       string    // scratch directory for this run
	log        io.Writer // progress log (stderr and work/bench.log)
	o          options
	registry   *registry         // in-memory image registry for Skaffold, started on demand
	remote     *netns            // simulated remote link, set while measure 6 runs
	toolBin    map[string]string // peer tool binaries by name

	hasSettle    bool // `up` has --settle (matched-debounce series)
	tree10kFiles int  // the measure-3 corpus, once copied
	tree10kBytes int64
}

func newEnv(o options) (*env, error) {
	e := &env{o: o, toolBin: map[string]string{}}
	var err error
	if e.repo, err = filepath.Abs(o.repo); err != nil {
		return nil, err
	}
	e.cache = os.Getenv("FASTDEV_CACHE")
	if e.cache == "" {
		home, _ := os.UserHomeDir()
		e.cache = filepath.Join(home, ".cache", "kubectl-fastdev")
	}
	// the peers run with their own HOME; the image builds they call back into must still find the cluster
	os.Setenv("FASTDEV_CACHE", e.cache)
	if e.self, err = os.Executable(); err != nil {
		return nil, err
	}
	e.fastdev = filepath.Join(e.repo, "bin", "kubectl-fastdev")
	if o.fastdev != "" {
		e.fastdev = o.fastdev
	}
	if _, err := os.Stat(e.fastdev); err != nil {
		return nil, fmt.Errorf("%s missing: run `make build` (or `make bench`, which builds it)", e.fastdev)
	}
	vars, err := clusterEnv(e.repo)
	if err != nil {
		return nil, err
	}
	e.kubeconfig, e.kubectl = vars["FASTDEV_KUBECONFIG"], vars["FASTDEV_KUBECTL"]
	// for the peers' image builds (bench image), which cannot run cluster.sh inside the network namespace
	os.Setenv("FASTDEV_CONTAINERD_SOCK", vars["FASTDEV_CONTAINERD_SOCK"])
	if e.rest, err = clientcmd.BuildConfigFromFlags("", e.kubeconfig); err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w (is the local cluster up? `make cluster-up`)", e.kubeconfig, err)
	}
	e.rest.QPS, e.rest.Burst = 100, 200
	// the bench's own requests are counted, so each edit's API server requests can be net of them
	e.rest.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return countingTransport{rt} }
	if e.cs, err = kubernetes.NewForConfig(e.rest); err != nil {
		return nil, err
	}
	if _, err := e.cs.Discovery().ServerVersion(); err != nil {
		return nil, fmt.Errorf("the local cluster does not answer (%v): run `make cluster-up`", err)
	}
	if e.work, err = os.MkdirTemp("", "fastdev-bench-"); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(e.work, "bench.log"))
	if err != nil {
		return nil, err
	}
	e.log = io.MultiWriter(os.Stderr, f)
	help, _ := exec.Command(e.fastdev, "up", "-h").CombinedOutput()
	e.hasSettle = strings.Contains(string(help), "--settle")
	return e, nil
}

// clusterEnv reads the facts hack/cluster/cluster.sh prints with `env`.
func clusterEnv(repo string) (map[string]string, error) {
	out, err := exec.Command(filepath.Join(repo, "hack/cluster/cluster.sh"), "env").Output()
	if err != nil {
		return nil, fmt.Errorf("hack/cluster/cluster.sh env: %w", err)
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			vars[k] = v
		}
	}
	return vars, nil
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.log, "[bench %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// cmd prepares a command of the CLI side. While the remote link is simulated, it runs inside the
// network namespace, so everything it sends to the cluster crosses the shaped link.
func (e *env) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	if e.remote != nil {
		return exec.CommandContext(ctx, "nsenter", append([]string{"--net=/run/netns/" + e.remote.name, "--", name}, args...)...)
	}
	return exec.CommandContext(ctx, name, args...)
}

// cliKubeconfig is the kubeconfig the CLI side uses: the cluster's, or the remote link's variant.
func (e *env) cliKubeconfig() string {
	if e.remote != nil {
		return e.remote.kubeconfig
	}
	return e.kubeconfig
}

// machine returns facts about the machine and the software measured, for the report.
func (e *env) machine(ctx context.Context, tools map[string]string) [][2]string {
	var facts [][2]string
	add := func(k, v string) { facts = append(facts, [2]string{k, strings.TrimSpace(v)}) }
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, cpu, _ = strings.Cut(l, ":")
				break
			}
		}
	}
	add("CPU", fmt.Sprintf("%s, %d cores", strings.TrimSpace(cpu), runtime.NumCPU()))
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		l, _, _ := strings.Cut(string(b), "\n")
		add("Memory", strings.Join(strings.Fields(l)[1:], " "))
	}
	add("Kernel", output(ctx, "uname", "-sr"))
	add("Go", runtime.Version())
	add("kubectl-fastdev", strings.ReplaceAll(output(ctx, e.fastdev, "version", "--client"), "\n", ", "))
	changed := 0
	for _, l := range strings.Split(output(ctx, "git", "-C", e.repo, "status", "--porcelain", "--untracked-files=no"), "\n") {
		if strings.TrimSpace(l) != "" {
			changed++
		}
	}
	add("Source measured", fmt.Sprintf("the working tree at commit %s, with %d changed tracked file(s)",
		output(ctx, "git", "-C", e.repo, "rev-parse", "--short", "HEAD"), changed))
	if v, err := e.cs.Discovery().ServerVersion(); err == nil {
		add("Kubernetes (local single-node cluster, hack/cluster/cluster.sh)", v.GitVersion)
	}
	add("kubectl (used by every contender)", firstLine(output(ctx, e.kubectl, "version", "--client")))
	add("containerd", firstLine(strings.TrimPrefix(output(ctx, "containerd", "--version"), "containerd ")))
	for _, k := range []string{"tilt", "skaffold"} {
		if v, ok := tools[k]; ok {
			add(k, v)
		}
	}
	return facts
}

func output(ctx context.Context, name string, args ...string) string {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("unknown (%v)", err)
	}
	return strings.TrimSpace(string(out))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// loadavg returns the 1-minute load average, a hint of what else shared the machine.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// provenance records, at the start of a run, what is measured: the sha256 of each binary, the synclet
// image's digest (the file `make images` writes next to its tarball), and the load average.
func (e *env) provenance(ctx context.Context) [][2]string {
	out := [][2]string{{"sha256 of " + e.fastdev, fileSHA(e.fastdev)}}
	for _, t := range peers {
		if bin := e.toolBin[t.name]; bin != "" {
			out = append(out, [2]string{"sha256 of " + t.name + " " + t.version, fileSHA(bin)})
		}
	}
	img := filepath.Join(e.cache, "images", "synclet.tar")
	dig, err := os.ReadFile(img + ".digest")
	d := strings.TrimSpace(string(dig))
	if err != nil {
		d = fmt.Sprintf("unknown (%v: run `make images`)", err)
	}
	out = append(out, [2]string{"synclet image digest (" + img + ".digest)", d})
	out = append(out, [2]string{"1-minute load average at the start", loadavg()})
	if !e.hasSettle {
		out = append(out, [2]string{"`up --settle`", "missing from " + e.fastdev + " up -h: the matched-debounce kubectl-fastdev series is skipped"})
	}
	return out
}

// fileSHA returns a file's sha256 in hex.
func fileSHA(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Sprintf("unknown (%v)", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Sprintf("unknown (%v)", err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
