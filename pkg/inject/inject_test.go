package inject

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func deployment() *appsv1.Deployment {
	uid := int64(1000)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "dev", ResourceVersion: "42",
			Annotations: map[string]string{rules.AnnotationKey: "sync: ..."}},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{
				SecurityContext: &corev1.PodSecurityContext{RunAsUser: &uid},
				Containers: []corev1.Container{
					{Name: "web", Image: "example/web:1", Command: []string{"/app/server"}, Args: []string{"--port", "8080"},
						VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/web"}}},
					{Name: "proxy", Image: "example/proxy:1"},
				},
				Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			},
		}},
	}
}

func mustRules(t *testing.T, text string) *rules.Rules {
	t.Helper()
	r, err := rules.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const webRules = "container: web\nsync:\n  - from: ./src\n    to: /app/src\n  - from: ./static\n    to: /app/static\n    sizeLimit: 64Mi\n    medium: Memory\nrun:\n  - cmd: go build -o /app/server .\n    trigger: [\"**/*.go\"]\n"

// Public keys of two developers' machines (pkg/auth's format).
const (
	aliceKey = "ed25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= alice@laptop"
	bobKey   = "ed25519 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE= bob@desk"
)

var opts = Options{SyncletImage: "kubectl-fastdev/synclet:v0.1.0", Port: 17220, Keys: aliceKey, NativeSidecar: true}

// syncletResources are rules that set the injected containers' resources: cpu request and memory
// limit given, the rest default.
const syncletResources = "synclet:\n  resources:\n    requests: {cpu: 50m}\n    limits: {memory: 1Gi, ephemeral-storage: 2Gi}\n"

func TestTemplateGolden(t *testing.T) {
	for _, c := range []struct {
		name   string
		native bool
		rules  string
	}{
		{"native-sidecar", true, webRules},
		{"plain-sidecar", false, webRules},
		{"synclet-resources", true, webRules + syncletResources},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := opts
			o.NativeSidecar = c.native
			got, err := Template(&deployment().Spec.Template, mustRules(t, c.rules), o)
			if err != nil {
				t.Fatal(err)
			}
			b, err := yaml.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", c.name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run `go test ./pkg/inject -update` to create it)", err)
			}
			if string(want) != string(b) {
				t.Errorf("injected template differs from %s (rerun with -update if intended):\n%s", golden, b)
			}
		})
	}
}

// TestInjectedResources: every injected container has cpu and memory requests and limits (a
// ResourceQuota on them refuses the pod otherwise), the rules' values replace the defaults per
// resource, and a request is never over its limit.
func TestInjectedResources(t *testing.T) {
	cases := []struct {
		name, rules string
		req, lim    map[corev1.ResourceName]string
	}{
		{"defaults", webRules, map[corev1.ResourceName]string{"cpu": "10m", "memory": "16Mi"}, map[corev1.ResourceName]string{"cpu": "1", "memory": "256Mi"}},
		{"overrides", webRules + syncletResources, map[corev1.ResourceName]string{"cpu": "50m", "memory": "16Mi"},
			map[corev1.ResourceName]string{"cpu": "1", "memory": "1Gi", "ephemeral-storage": "2Gi"}},
		{"request above the default limit raises it", webRules + "synclet: {resources: {requests: {memory: 512Mi}}}\n",
			map[corev1.ResourceName]string{"cpu": "10m", "memory": "512Mi"}, map[corev1.ResourceName]string{"cpu": "1", "memory": "512Mi"}},
		{"limit below the default request lowers it", webRules + "synclet: {resources: {limits: {cpu: 5m}}}\n",
			map[corev1.ResourceName]string{"cpu": "5m", "memory": "16Mi"}, map[corev1.ResourceName]string{"cpu": "5m", "memory": "256Mi"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Template(&deployment().Spec.Template, mustRules(t, c.rules), opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Spec.InitContainers) != 3 {
				t.Fatalf("%d init containers", len(got.Spec.InitContainers))
			}
			for _, ctr := range got.Spec.InitContainers {
				for kind, pair := range map[string]struct {
					have corev1.ResourceList
					want map[corev1.ResourceName]string
				}{"requests": {ctr.Resources.Requests, c.req}, "limits": {ctr.Resources.Limits, c.lim}} {
					if len(pair.have) != len(pair.want) {
						t.Errorf("%s %s: %v, want %v", ctr.Name, kind, pair.have, pair.want)
					}
					for name, v := range pair.want {
						if q, ok := pair.have[name]; !ok || q.String() != v {
							t.Errorf("%s %s.%s = %v, want %s", ctr.Name, kind, name, pair.have[name], v)
						}
					}
				}
			}
		})
	}
}

func TestTemplateSecurity(t *testing.T) {
	got, err := Template(&deployment().Spec.Template, mustRules(t, webRules), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got.Spec.InitContainers {
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" ||
			sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("container %s is not locked down: %+v", c.Name, sc)
		}
		if c.Name == SyncletContainer && (sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem) {
			t.Errorf("synclet root file system is writable")
		}
		if c.Name == SyncletContainer && c.Image != "example/web:1" {
			t.Errorf("synclet runs from %s, want the app image (so it runs as the app's user)", c.Image)
		}
	}
	for _, v := range got.Spec.Volumes {
		if v.HostPath != nil {
			t.Errorf("volume %s is a hostPath", v.Name)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	cases := []struct {
		name, rules string
		mutate      func(*appsv1.Deployment)
		want        string
	}{
		{"unknown container", "container: nope\nsync:\n  - from: ./src\n    to: /app/src\n", nil, `no container "nope"`},
		{"no command", "container: proxy\nsync:\n  - from: ./src\n    to: /app/src\n", nil,
			"no command in the pod spec, so the process to restart is unknown: add `command: [\"/path/to/app\", ...]` to the rules, the image's ENTRYPOINT followed by its CMD"},
		{"no command, args set", "container: proxy\nsync:\n  - from: ./src\n    to: /app/src\n", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[1].Args = []string{"--listen", ":80"}
		}, "the image's ENTRYPOINT only, as `docker image inspect` shows it: the pod spec's args [\"--listen\" \":80\"] follow it"},
		{"to is a volume mount", "sync:\n  - from: ./src\n    to: /etc/web\n", nil, "already a volume mount"},
		{"host network", webRules, func(d *appsv1.Deployment) { d.Spec.Template.Spec.HostNetwork = true }, "sets hostNetwork: true"},
		{"volume name taken", webRules, func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Volumes = append(d.Spec.Template.Spec.Volumes, corev1.Volume{Name: "fastdev"})
		}, `volume "fastdev" in the pod template has a name kubectl-fastdev keeps`},
		{"volume named like a sync volume of another kind", webRules, func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Volumes = append(d.Spec.Template.Spec.Volumes, corev1.Volume{Name: "fastdev-cache"})
		}, `volume "fastdev-cache" in the pod template has a name kubectl-fastdev keeps`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := deployment()
			if c.mutate != nil {
				c.mutate(d)
			}
			_, err := InjectPatch(d, mustRules(t, c.rules), opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestRulesCommandUsedWhenSpecHasNone(t *testing.T) {
	d := deployment()
	d.Spec.Template.Spec.Containers[0].Command = nil
	got, err := Template(&d.Spec.Template, mustRules(t, webRules+"command: [\"/entry\"]\n"), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{syncletBin, "supervise", "--", "/entry", "--port", "8080"}
	if c := got.Spec.Containers[0].Command; strings.Join(c, " ") != strings.Join(want, " ") {
		t.Errorf("command %q, want %q", c, want)
	}
}

// apply applies a JSON patch to d as the API server would.
func apply(t *testing.T, d *appsv1.Deployment, patch []byte) *appsv1.Deployment {
	t.Helper()
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(d)
	out, err := p.Apply(doc)
	if err != nil {
		t.Fatal(err)
	}
	var nd appsv1.Deployment
	if err := json.Unmarshal(out, &nd); err != nil {
		t.Fatal(err)
	}
	return &nd
}

// TestSecondMachineAddsItsKey: an up from another machine adds its public key to those in force (the
// annotation and the sidecar's environment), keeps the port, and drops a pre-key token; the same
// machine again changes nothing; down removes the keys.
func TestSecondMachineAddsItsKey(t *testing.T) {
	r := mustRules(t, webRules)
	plan, err := InjectPatch(deployment(), r, opts)
	if err != nil {
		t.Fatal(err)
	}
	injected := apply(t, deployment(), plan.Patch)
	injected.Annotations[AnnotationToken] = "a token an older release recorded"
	bob, err := InjectPatch(injected, r, Options{SyncletImage: opts.SyncletImage, Port: 1, Keys: bobKey, NativeSidecar: true})
	if err != nil || bob.Patch == nil || bob.Port != 17220 {
		t.Fatalf("bob's up: %+v, %v", bob, err)
	}
	both := aliceKey + "\n" + bobKey
	after := apply(t, injected, bob.Patch)
	if after.Annotations[AnnotationKeys] != both || after.Annotations[AnnotationToken] != "" {
		t.Errorf("annotations after bob's up: %v", after.Annotations)
	}
	var env []corev1.EnvVar
	for _, c := range append(after.Spec.Template.Spec.InitContainers, after.Spec.Template.Spec.Containers...) {
		if c.Name == SyncletContainer {
			env = c.Env
		}
	}
	if len(env) != 1 || env[0].Name != protocol.EnvAuthorizedKeys || env[0].Value != both {
		t.Errorf("synclet env %v, want both keys in %s", env, protocol.EnvAuthorizedKeys)
	}
	for _, k := range []string{aliceKey, bobKey} {
		again, err := InjectPatch(after, r, Options{SyncletImage: opts.SyncletImage, Port: 1, Keys: k, NativeSidecar: true})
		if err != nil || again.Patch != nil {
			t.Errorf("up again with %q: %+v, %v", k, again, err)
		}
	}
	restore, err := RestorePatch(after)
	if err != nil {
		t.Fatal(err)
	}
	if back := apply(t, after, restore); back.Annotations[AnnotationKeys] != "" {
		t.Errorf("down left the keys: %v", back.Annotations)
	}
}

func TestInjectIdempotentAndRestoreExact(t *testing.T) {
	orig := deployment()
	r := mustRules(t, webRules)
	plan, err := InjectPatch(orig, r, opts)
	if err != nil || plan.Patch == nil || plan.Already {
		t.Fatalf("first plan: %+v, %v", plan, err)
	}
	injected := apply(t, orig, plan.Patch)
	if injected.Annotations[AnnotationKeys] != aliceKey {
		t.Errorf("keys not recorded: %v", injected.Annotations)
	}
	again, err := InjectPatch(injected, r, Options{SyncletImage: opts.SyncletImage, Port: 1, Keys: aliceKey, NativeSidecar: true})
	if err != nil {
		t.Fatal(err)
	}
	if again.Patch != nil || again.Keys != aliceKey || again.Port != 17220 {
		t.Errorf("second up must patch nothing and keep keys and port: %+v", again)
	}
	if !equality.Semantic.DeepEqual(Strip(&injected.Spec.Template, &orig.Spec.Template), &orig.Spec.Template) {
		t.Errorf("Strip(injected) != original")
	}
	restore, err := RestorePatch(injected)
	if err != nil {
		t.Fatal(err)
	}
	back := apply(t, injected, restore)
	if !equality.Semantic.DeepEqual(back.Spec.Template, orig.Spec.Template) {
		t.Errorf("restored template differs from the original")
	}
	if !equality.Semantic.DeepEqual(back.Annotations, orig.Annotations) {
		t.Errorf("annotations after restore: %v, want %v", back.Annotations, orig.Annotations)
	}
	if _, err := RestorePatch(back); err != ErrNotInjected {
		t.Errorf("restoring a plain Deployment: %v, want ErrNotInjected", err)
	}
}

func TestChangedMeanwhileIsRefused(t *testing.T) {
	orig := deployment()
	r := mustRules(t, webRules)
	plan, err := InjectPatch(orig, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	injected := apply(t, orig, plan.Patch)
	injected.Spec.Template.Spec.Containers[1].Image = "example/proxy:2" // someone else's edit
	if _, err := InjectPatch(injected, r, opts); err == nil || !strings.Contains(err.Error(), "changed since") {
		t.Errorf("re-inject over a foreign change: %v, want ErrChangedMeanwhile", err)
	}
}

// TestRunDirOnToolsVolume: the synclet and the supervisor find the socket and the pending steps only if
// protocol's run directory lies on the tools volume that injection mounts into both containers.
func TestRunDirOnToolsVolume(t *testing.T) {
	for _, p := range []string{runDir, protocol.SupervisorSocket, protocol.PendingFile} {
		if !strings.HasPrefix(p, toolsDir+"/") {
			t.Errorf("%s is not under the tools volume's mount %s", p, toolsDir)
		}
	}
}

// TestInjectedPort: a re-run keeps the port recorded at injection, and ignores one that is not a number.
func TestInjectedPort(t *testing.T) {
	for _, c := range []struct {
		value string
		port  int
		ok    bool
	}{
		{"", 0, false},
		{"17221", 17221, true},
		{"17221 ", 17221, true},
		{"port", 0, false},
	} {
		port, ok := injectedPort(map[string]string{AnnotationPort: c.value})
		if port != c.port || ok != c.ok {
			t.Errorf("%q: %d, %v; want %d, %v", c.value, port, ok, c.port, c.ok)
		}
	}
	if _, ok := injectedPort(nil); ok {
		t.Error("no annotations: a port was found")
	}
}
