package inject

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// twoApps develops both containers of deployment(): web as before, and proxy (no command in the pod
// spec) with its own sync entry, command and restart.
const twoApps = `containers:
  - container: web
    sync: [{from: ./src, to: /app/src}]
  - container: proxy
    sync: [{from: ./conf, to: /etc/proxy}]
    command: ["/proxy"]
    restart: container
`

func byName(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

func mounts(c *corev1.Container) []string {
	var out []string
	for _, m := range c.VolumeMounts {
		out = append(out, m.Name+"@"+m.MountPath)
	}
	return out
}

// TestTemplateSeveralContainers: each app container the rules list is wrapped by its own supervisor
// (the first with the single-container socket), mounts only its own sync volumes, and is seeded from
// its own image; the one synclet serves both; up again patches nothing and down restores exactly.
func TestTemplateSeveralContainers(t *testing.T) {
	orig := deployment()
	r := mustRules(t, twoApps)
	got, err := Template(&orig.Spec.Template, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	spec := got.Spec
	web, proxy := byName(spec.Containers, "web"), byName(spec.Containers, "proxy")
	if want := []string{syncletBin, "supervise", "--", "/app/server", "--port", "8080"}; !slices.Equal(web.Command, want) {
		t.Errorf("web's command %q, want %q", web.Command, want)
	}
	wantProxy := []string{syncletBin, "supervise", "--socket", protocol.RunDir + "/supervisor-proxy.sock",
		"--pending", protocol.RunDir + "/pending-proxy.json", "--", "/proxy"}
	if !slices.Equal(proxy.Command, wantProxy) || proxy.Args != nil {
		t.Errorf("proxy's command %q args %q, want %q", proxy.Command, proxy.Args, wantProxy)
	}
	if m := mounts(web); slices.Contains(m, "fastdev-sync-1@/etc/proxy") || !slices.Contains(m, "fastdev-sync-0@/app/src") {
		t.Errorf("web's mounts %v: want its own sync volume only", m)
	}
	if m := mounts(proxy); !slices.Contains(m, "fastdev-sync-1@/etc/proxy") || slices.Contains(m, "fastdev-sync-0@/app/src") ||
		!slices.Contains(m, ToolsVolume+"@"+protocol.RunDir) {
		t.Errorf("proxy's mounts %v: want its own sync volume and the run directory", m)
	}
	var names []string
	for _, c := range spec.InitContainers {
		names = append(names, c.Name)
	}
	if want := []string{InstallContainer, SeedContainer, SeedContainer + "-1", SyncletContainer}; !slices.Equal(names, want) {
		t.Fatalf("init containers %v, want %v", names, want)
	}
	seed := spec.InitContainers[2]
	if seed.Image != "example/proxy:1" || !slices.Contains(seed.Command, "/etc/proxy=/fastdev-sync/1") || slices.Contains(seed.Command, "/app/src=/fastdev-sync/0") {
		t.Errorf("proxy's seed: image %s, command %q", seed.Image, seed.Command)
	}
	if side := strings.Join(spec.InitContainers[3].Command, " "); !strings.Contains(side, "--app proxy") || !strings.Contains(side, "--root /fastdev-sync/1=/etc/proxy") {
		t.Errorf("synclet command %q: want --app proxy and both roots", side)
	}

	plan, err := InjectPatch(orig, r, opts)
	if err != nil {
		t.Fatal(err)
	}
	injected := apply(t, orig, plan.Patch)
	if again, err := InjectPatch(injected, r, opts); err != nil || again.Patch != nil {
		t.Errorf("up again: %+v, %v; want no patch", again, err)
	}
	if !equality.Semantic.DeepEqual(Strip(&injected.Spec.Template, &orig.Spec.Template), &orig.Spec.Template) {
		t.Errorf("Strip(injected) != original")
	}
	restore, err := RestorePatch(injected)
	if err != nil {
		t.Fatal(err)
	}
	if back := apply(t, injected, restore); !equality.Semantic.DeepEqual(back.Spec.Template, orig.Spec.Template) {
		t.Errorf("restored template differs from the original")
	}
}

// TestSeveralContainersOneUser: app containers that may run as different users are refused (the run
// directory is private to one), naming runAsUser; the same image with no user set, or the same
// runAsUser, is accepted.
func TestSeveralContainersOneUser(t *testing.T) {
	other, uid := int64(2000), int64(1000)
	for _, c := range []struct {
		name   string
		mutate func(*corev1.PodSpec)
		ok     bool
	}{
		{"pod-level user", func(*corev1.PodSpec) {}, true},
		{"another user", func(s *corev1.PodSpec) { s.Containers[1].SecurityContext = &corev1.SecurityContext{RunAsUser: &other} }, false},
		{"image users of two images", func(s *corev1.PodSpec) { s.SecurityContext = nil }, false},
		{"image user of one image", func(s *corev1.PodSpec) { s.SecurityContext = nil; s.Containers[1].Image = s.Containers[0].Image }, true},
		{"same user set per container", func(s *corev1.PodSpec) {
			s.SecurityContext = nil
			for i := range s.Containers {
				s.Containers[i].SecurityContext = &corev1.SecurityContext{RunAsUser: &uid}
			}
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := deployment()
			c.mutate(&d.Spec.Template.Spec)
			_, err := Template(&d.Spec.Template, mustRules(t, twoApps), opts)
			switch {
			case c.ok && err != nil:
				t.Errorf("refused: %v", err)
			case !c.ok && (err == nil || !strings.Contains(err.Error(), "runAsUser")):
				t.Errorf("got %v, want a refusal naming runAsUser", err)
			}
		})
	}
}

// TestSeveralContainersErrors: a listed container the pod lacks, or the first container named again
// by a later item, is refused with the pod's container names.
func TestSeveralContainersErrors(t *testing.T) {
	for _, text := range []string{
		"containers:\n  - {container: web, sync: [{from: a, to: /a}]}\n  - {container: nope, sync: [{from: b, to: /b}], command: [/x]}\n",
		"containers:\n  - {sync: [{from: a, to: /a}], container: web}\n  - {container: web2, sync: [{from: b, to: /b}]}\n",
	} {
		_, err := Template(&deployment().Spec.Template, mustRules(t, text), opts)
		if err == nil || !strings.Contains(err.Error(), "web, proxy") {
			t.Errorf("%q: got %v, want an error listing web, proxy", text, err)
		}
	}
}
