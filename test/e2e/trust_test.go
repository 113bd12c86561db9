package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/auth"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
)

// TestTrustNothingInClusterGrantsAccess: a user who may read pods and Deployments and port-forward,
// but holds no key, harvests every env value and annotation of the injected pod and Deployment and
// tries each as a credential against every synclet endpoint: nothing is written, no step or command
// runs. The developer's own key, through the same port-forward, is served (so the attempts reached
// the synclet). While that up runs, down is refused naming it, unless --force.
func TestTrustNothingInClusterGrantsAccess(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", nil)
	dir := e.copyExamples()
	up := e.upAndConnect(ns, "web-static", dir, 1, "--plain")
	ctx := context.Background()
	d, err := e.cs.AppsV1().Deployments(ns).Get(ctx, "web-static", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := e.pods(ns, "web-static")[0]
	creds := harvest(d.Annotations, d.Spec.Template.Annotations, pod.Annotations, envValues(d.Spec.Template.Spec), envValues(pod.Spec))
	if len(creds) < 4 {
		t.Fatalf("harvested only %q: the test proves nothing", creds)
	}

	user, kc := e.newUser()
	e.bindRole(ns, user, &rbacv1.Role{Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{""}, Resources: []string{"pods/portforward"}, Verbs: []string{"create"}},
	}})
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := kube.New(cfg, ns)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(d.Annotations[inject.AnnotationPort])
	if err != nil {
		t.Fatalf("annotation %s: %v", inject.AnnotationPort, err)
	}
	fwd, err := reader.PortForward(ctx, pod.Name, port)
	if err != nil {
		t.Fatalf("port-forward as the reader: %v", err)
	}
	defer fwd.Close()

	tried := 0
	for _, cred := range creds {
		for _, ep := range endpoints(t) {
			if !headerValue(cred) {
				break // no client can send it as a header
			}
			for _, hdr := range []string{"Bearer " + cred, cred} {
				code, body := try(t, fwd.Addr, ep, hdr)
				tried++
				if code == http.StatusOK || code == http.StatusNoContent {
					t.Errorf("%s %s with Authorization %.60q: %d %s", ep.method, ep.path, hdr, code, body)
				}
			}
		}
		// the harvested value as the key of a proof (a public key from the annotation, say)
		if code := prove(t, fwd.Addr, cred); code != http.StatusUnauthorized {
			t.Errorf("a proof with %.60q: %d, want 401", cred, code)
		}
	}
	t.Logf("%d credential attempts from %d harvested values", tried, len(creds))
	if code, body, err := e.get(pod.Name, ns, "/pwned.html"); err == nil && code == http.StatusOK {
		t.Errorf("a refused request wrote a file the app serves: %s", body)
	}

	// the same port-forward with the developer's key is served: the attempts above reached the synclet
	dir0, err := auth.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	key, err := auth.LoadOrCreate(dir0, "")
	if err != nil {
		t.Fatal(err)
	}
	cl := syncletclient.New(fwd.Addr, key)
	defer cl.Close()
	if _, err := cl.Manifest(ctx); err != nil {
		t.Fatalf("the developer's key through the reader's port-forward: %v", err)
	}

	out, err := e.run(dir, "down", "-n", ns, "web-static")
	if err == nil || !strings.Contains(out, "served by a live `kubectl fastdev up`") || !strings.Contains(out, "--force") {
		t.Errorf("down while up runs: %v\n%s", err, out)
	}
	up.stop()
	if out, err := e.run(dir, "down", "-n", ns, "web-static"); err != nil || !strings.Contains(out, "web-static: restored") {
		t.Fatalf("down after up stopped: %v\n%s", err, out)
	}
	d, err = e.cs.AppsV1().Deployments(ns).Get(ctx, "web-static", metav1.GetOptions{})
	if err != nil || d.Annotations[inject.AnnotationKeys] != "" {
		t.Errorf("down left the keys: %v %v", d.Annotations, err)
	}
}

// headerValue reports whether s can travel as an HTTP header value.
func headerValue(s string) bool {
	for _, c := range []byte(s) {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// harvest returns every distinct value of the maps and lists given, and each line of a multi-line one.
func harvest(sources ...any) []string {
	seen := map[string]bool{}
	add := func(v string) {
		for _, s := range append([]string{v}, strings.Split(v, "\n")...) {
			if s = strings.TrimSpace(s); s != "" {
				seen[s] = true
			}
		}
	}
	for _, src := range sources {
		switch s := src.(type) {
		case map[string]string:
			for _, v := range s {
				add(v)
			}
		case []string:
			for _, v := range s {
				add(v)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func envValues(spec corev1.PodSpec) []string {
	var out []string
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		for _, e := range c.Env {
			out = append(out, e.Value)
		}
	}
	return out
}

type endpoint struct {
	method, path string
	body         func() []byte
}

// endpoints are every synclet request, each with a body that would change the pod if served: an
// update writing /www/pwned.html and running a step, a command writing it too.
func endpoints(t *testing.T) []endpoint {
	t.Helper()
	update := func() []byte {
		var b bytes.Buffer
		meta := protocol.UpdateMeta{ID: "x", Restart: protocol.RestartNone,
			Steps: []protocol.Step{{Argv: []string{"sh", "-c", "echo pwned > /www/pwned.html"}, Display: "pwn"}}}
		if _, err := archive.Write(&b, meta, nil); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	run := func() []byte {
		var b bytes.Buffer
		if err := protocol.WriteCommandRequest(&b, protocol.CommandRequest{Argv: []string{"sh", "-c", "echo pwned > /www/pwned.html"}}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	return []endpoint{
		{"GET", protocol.PathManifest, nil}, {"GET", protocol.PathStatus, nil},
		{"POST", protocol.PathUpdate, update}, {"POST", protocol.PathRun, run},
	}
}

func try(t *testing.T, addr string, ep endpoint, authz string) (int, string) {
	t.Helper()
	var body io.Reader
	if ep.body != nil {
		body = bytes.NewReader(ep.body())
	}
	req, err := http.NewRequest(ep.method, "http://"+addr+ep.path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", authz)
	req.Header.Set(protocol.VersionHeader, protocol.Version)
	hc := &http.Client{Timeout: 30 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", ep.method, ep.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// prove asks for a challenge and answers it with cred as the key and as the signature, on one
// connection, then asks for the manifest on it; it returns the proof's status.
func prove(t *testing.T, addr, cred string) int {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	do := func(method, path string, body []byte) int {
		req, err := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(protocol.VersionHeader, protocol.Version)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body) // only the status matters
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do("GET", protocol.PathChallenge, nil); code != http.StatusOK {
		t.Fatalf("challenge: %d", code)
	}
	proof, err := json.Marshal(auth.Proof{Key: cred, Signature: []byte(cred)})
	if err != nil {
		t.Fatal(err)
	}
	code := do("POST", protocol.PathAuth, proof)
	if m := do("GET", protocol.PathManifest, nil); m != http.StatusUnauthorized {
		t.Errorf("manifest after a proof with %.60q: %d", cred, m)
	}
	return code
}

// TestTrustLeaseRace: several `up`s started at once for one Deployment: exactly one serves it, the
// others are refused naming the holder; a few rounds.
func TestTrustLeaseRace(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", nil)
	dir := e.copyExamples()
	first := e.upAndConnect(ns, "web-static", dir, 1, "--plain")
	first.stop() // injected now: the racers below only claim the lease
	const racers, rounds = 4, 3
	for round := range rounds {
		ups := make([]*proc, racers)
		for i := range ups {
			ups[i] = e.start(dir, "up", "-n", ns, "web-static", "--plain")
		}
		var running []*proc
		e.eventually(rollout, fmt.Sprintf("round %d: all but one up refused", round), func() error {
			running = running[:0]
			for _, p := range ups {
				select {
				case <-p.done:
					if !strings.Contains(p.Output(), "is served by another `kubectl fastdev up`") {
						t.Fatalf("round %d: an up ended without being refused:\n%s", round, p.Output())
					}
				default:
					running = append(running, p)
				}
			}
			if len(running) != 1 {
				return fmt.Errorf("%d ups still running", len(running))
			}
			return nil
		})
		e.waitConnected(running[0], ns, "web-static", 1)
		running[0].stop()
	}
	e.writeFile(filepath.Join(dir, "web-static/www/index.html"), "after the races\n", 0o644)
	last := e.upAndConnect(ns, "web-static", dir, 1, "--plain")
	e.serves(ns, "web-static", "/", "after the races", 1, 30*time.Second)
	last.stop()
}

// TestTrustInPodHardening: in an app container running as root, a lesser user (nobody) cannot replace
// the synclet binary, reach the run directory (the supervisor's socket, the pending steps) or move it
// away; root itself cannot replace the binary (the tools volume is read-only there; writing into the
// running binary fails anyway, so the attempts rename a new file over it). Afterwards an edit
// still lands and a command still runs through the supervisor.
func TestTrustInPodHardening(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	root := int64(0)
	e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: &root, RunAsGroup: &root}
	})
	dir := e.copyExamples()
	up := e.upAndConnect(ns, "web-static", dir, 1, "--plain")
	lesser := `id -u
cp /bin/busybox /fastdev/bin/.new 2>/dev/null && mv -f /fastdev/bin/.new /fastdev/bin/synclet 2>/dev/null && echo BIN-REPLACED
chmod 777 /fastdev/bin/synclet 2>/dev/null && echo BIN-CHMOD
mv /fastdev/run /fastdev/run2 2>/dev/null && echo RUN-MOVED
ls /fastdev/run >/dev/null 2>&1 && echo RUN-LISTED
echo '{"steps":[{"argv":["touch","/www/pwned.html"],"display":"x"}]}' > /fastdev/run/pending.json 2>/dev/null && echo PENDING-WRITTEN
rm -f /fastdev/run/supervisor.sock 2>/dev/null
echo lesser-done`
	script := "id -u; cp /bin/busybox /fastdev/bin/.new 2>/dev/null && mv -f /fastdev/bin/.new /fastdev/bin/synclet 2>/dev/null && echo ROOT-BIN-REPLACED; " +
		"su -p -s /bin/sh nobody -c 'sh -c \"$LESSER\"'; " +
		"test -S /fastdev/run/supervisor.sock || echo SOCK-GONE; stat -c '%a %u' /fastdev/run /fastdev/bin/synclet"
	r := e.runCmd(e.kubeconfig, "", "run", "-n", ns, "web-static", "--", "/bin/busybox", "env", "LESSER="+lesser, "/bin/busybox", "sh", "-c", script)
	t.Logf("in the pod: %+v", r)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "0\n65534\n") || !strings.Contains(r.stdout, "lesser-done") {
		t.Fatalf("the script did not run as root, then as nobody: %+v", r)
	}
	for _, bad := range []string{"BIN-REPLACED", "BIN-CHMOD", "RUN-MOVED", "RUN-LISTED", "PENDING-WRITTEN", "SOCK-GONE"} {
		if strings.Contains(r.stdout, bad) {
			t.Errorf("%s: %s", bad, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "700 0\n") || !strings.Contains(r.stdout, "555 ") {
		t.Errorf("want the run directory 0700 of the app's user and the binary 0555: %s", r.stdout)
	}
	e.writeFile(filepath.Join(dir, "web-static/www/index.html"), "after the attempts\n", 0o644)
	e.serves(ns, "web-static", "/", "after the attempts", 1, 30*time.Second)
	if r := e.runCmd(e.kubeconfig, "", "run", "-n", ns, "web-static", "--", "/bin/busybox", "true"); r.code != 0 {
		t.Errorf("a command through the supervisor after the attempts: %+v", r)
	}
	up.stop()
}

// TestTrustHostNetworkRefused: a hostNetwork pod template is refused before anything is patched (its
// synclet would listen on the node's loopback, shared by every replica on the node).
func TestTrustHostNetworkRefused(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	d := e.applyExample(ns, "web-static", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.HostNetwork = true
		d.Spec.Template.Spec.Containers[0].Ports = nil // no host port to clash with the node's
	})
	e.upRefused(e.copyExamples(), d, []string{"nothing was changed", "hostNetwork: true", "node's loopback", "without hostNetwork"})
}

// TestTrustLocalSecrets: with `from` a subdirectory of a repository, the .env the repository root's
// .gitignore keeps out of git is not synced, up warns once about the files it does sync that look like
// secrets, and a file replaced by a symlink to a file outside the tree does not bring that file's
// content into the pod.
func TestTrustLocalSecrets(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", nil)
	dir := e.copyExamples()
	www := filepath.Join(dir, "web-static/www")
	e.writeFile(filepath.Join(dir, ".git/HEAD"), "ref: refs/heads/main\n", 0o644) // the repository's root
	e.writeFile(filepath.Join(dir, ".gitignore"), ".env\n", 0o644)
	e.writeFile(filepath.Join(www, ".env"), "DB_PASSWORD=hunter2\n", 0o600)
	e.writeFile(filepath.Join(www, "id_rsa"), "not really a key\n", 0o600)
	up := e.upAndConnect(ns, "web-static", dir, 1, "--plain")
	up.waitOutput("web-static: syncing files that look like secrets into the pods: web-static/www/id_rsa;", 10*time.Second)
	if strings.Contains(up.Output(), "www/.env") {
		t.Errorf("the warning names the ignored .env:\n%s", up.Output())
	}
	ls := func() string {
		r := e.runCmd(e.kubeconfig, "", "run", "-n", ns, "web-static", "--", "/bin/busybox", "sh", "-c", "ls -a /www; cat /www/* 2>/dev/null")
		if r.code != 0 {
			t.Fatalf("listing /www: %+v", r)
		}
		return r.stdout
	}
	if out := ls(); strings.Contains(out, ".env") || strings.Contains(out, "hunter2") || !strings.Contains(out, "id_rsa") {
		t.Errorf("the pod's /www: %s", out)
	}

	outside := filepath.Join(t.TempDir(), "secret.txt")
	e.writeFile(outside, "TOP SECRET\n", 0o600)
	page := filepath.Join(www, "about.html")
	if err := os.Remove(page); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, page); err != nil {
		t.Fatal(err)
	}
	e.writeFile(filepath.Join(www, "index.html"), "after the swap\n", 0o644)
	e.serves(ns, "web-static", "/", "after the swap", 1, 30*time.Second)
	if out := ls(); strings.Contains(out, "TOP SECRET") {
		t.Errorf("a link's target outside the tree reached the pod: %s", out)
	}
	up.stop()
}

// TestTrustSecondMachine: an up from a second machine (another key, here another config directory)
// taking over adds its public key by a re-injection and serves the new pods; the first up stops; the
// Deployment then lists both keys, and down removes them.
func TestTrustSecondMachine(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-static", nil)
	dir := e.copyExamples()
	first := e.upAndConnect(ns, "web-static", dir, 1, "--plain")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // the second machine's key is made there
	second := e.start(dir, "up", "-n", ns, "web-static", "--plain", "--take-over")
	second.waitOutput("web-static: re-injected", 30*time.Second)
	first.waitOutput("taken over by another `kubectl fastdev up`", 30*time.Second)
	e.waitAvailable(ns, "web-static", rollout)
	e.waitConnected(second, ns, "web-static", 1)
	e.writeFile(filepath.Join(dir, "web-static/www/index.html"), "from the second machine\n", 0o644)
	e.serves(ns, "web-static", "/", "from the second machine", 1, 30*time.Second)
	d, err := e.cs.AppsV1().Deployments(ns).Get(context.Background(), "web-static", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.ParseAuthorized(d.Annotations[inject.AnnotationKeys])
	if err != nil || len(keys) != 2 {
		t.Errorf("authorized keys after the take-over: %q (%v), want both machines'", d.Annotations[inject.AnnotationKeys], err)
	}
	second.stop()
	if out, err := e.run(dir, "down", "-n", ns, "web-static"); err != nil || !strings.Contains(out, "web-static: restored") {
		t.Fatalf("down: %v\n%s", err, out)
	}
}
