package detect

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func dir() *fstest.MapFile { return &fstest.MapFile{Mode: 0o755 | 1<<31} }

func pod(cs ...corev1.Container) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: cs}}
}

var (
	goTree = fstest.MapFS{
		"deployment.yaml": file("kind: Deployment\n"),
		"src/go.mod":      file("module example.com/web\n"),
		"src/main.go":     file("// Package main serves.\npackage main\n\nfunc main() {}\n"),
	}
	goPod = pod(corev1.Container{Name: "web", Image: "web-go:dev", Command: []string{"/app/bin/server"}, WorkingDir: "/app/src",
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}})
	staticTree = fstest.MapFS{"www/index.html": file("hi\n"), "deployment.yaml": file("kind: Deployment\n")}
	staticPod  = pod(corev1.Container{Name: "web", Command: []string{"/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"}})
	nodeTree   = fstest.MapFS{
		"package.json":      file(`{"name": "web", "main": "server.js", "scripts": {"start": "node server.js"}}`),
		"package-lock.json": file("{}"),
		"server.js":         file("require('http')\n"),
		"node_modules":      dir(),
		"Dockerfile":        file("FROM node\n"),
	}
	pyTree = fstest.MapFS{"app.py": file("import flask\n"), "requirements.txt": file("flask\n"), "__pycache__": dir()}
)

// TestPropose: each tree and pod template gives the rules a developer would write, parsed back by
// the rules parser (the proposal is valid as it stands, or names what it asks for).
func TestPropose(t *testing.T) {
	tests := []struct {
		name     string
		tree     fstest.MapFS
		from     string
		tmpl     corev1.PodTemplateSpec
		lang     Language
		want     rules.Rules // Sync[0].From, Sync[0].To, Sync[0].Ignore, Run (Cmd, Trigger), Restart, Fallback
		contains []string    // reasons that must be in the YAML
	}{
		{name: "go sample: workingDir and the built program", tree: goTree, from: "./web-go", tmpl: goPod, lang: Go,
			want: rules.Rules{Sync: []rules.Sync{{From: "web-go/src", To: "/app/src"}},
				Run:     []rules.Step{{Cmd: "go build -o /app/bin/server .", Trigger: []string{"**/*.go", "go.mod", "go.sum"}}},
				Restart: protocol.RestartProcess},
			contains: []string{"# the container's workingDir", "# where go.mod is", "declared ports, each on the same local port when free: 8080 (http)"}},
		{name: "static sample: the served directory", tree: staticTree, from: ".", tmpl: staticPod, lang: Static,
			want:     rules.Rules{Sync: []rules.Sync{{From: "www", To: "/www"}}, Restart: protocol.RestartNone},
			contains: []string{"# the command serves /www (its -h argument)", "declares no port"}},
		{name: "node: a file the command names, npm install on package.json", tree: nodeTree, from: ".",
			tmpl: pod(corev1.Container{Name: "app", Command: []string{"node", "/srv/app/server.js"}}), lang: Node,
			want: rules.Rules{Sync: []rules.Sync{{From: ".", To: "/srv/app", Ignore: []string{"node_modules/"}}},
				Run:     []rules.Step{{Cmd: "npm install --prefer-offline --no-audit --no-fund", Trigger: []string{"package.json", "package-lock.json"}}},
				Restart: protocol.RestartProcess, Fallback: []string{"Dockerfile"}},
			contains: []string{"the command runs /srv/app/server.js, and ./server.js is here", "# a change to it needs an image rebuild"}},
		{name: "python with a reloading server", tree: pyTree, from: "./svc",
			tmpl: pod(corev1.Container{Name: "api", Command: []string{"uvicorn", "app:app", "--reload"}, WorkingDir: "/code"}), lang: Python,
			want: rules.Rules{Sync: []rules.Sync{{From: "svc", To: "/code", Ignore: []string{"__pycache__/", "*.pyc", ".venv/", "venv/"}}},
				Run:     []rules.Step{{Cmd: "pip install -r requirements.txt", Trigger: []string{"requirements.txt"}}},
				Restart: protocol.RestartNone},
			contains: []string{"reloads the code itself (--reload)"}},
		{name: "go run: no build step; read-only root noted only for a build", tree: goTree, from: ".",
			tmpl: pod(corev1.Container{Name: "web", Command: []string{"go", "run", "."}, WorkingDir: "/app/src"}), lang: Go,
			want:     rules.Rules{Sync: []rules.Sync{{From: "src", To: "/app/src"}}, Restart: protocol.RestartProcess},
			contains: []string{"runs the go tool itself"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Propose(Input{Tree: tt.tree, From: tt.from, Workload: "deployment/web", Template: tt.tmpl})
			if err != nil {
				t.Fatal(err)
			}
			y := p.YAML()
			r, err := rules.Parse(y)
			if err != nil {
				t.Fatalf("proposal does not parse: %v\n%s", err, y)
			}
			if p.Language != tt.lang || len(p.Asks) != 0 {
				t.Errorf("language %q asks %q", p.Language, p.Asks)
			}
			checkRules(t, r, &tt.want)
			for _, c := range tt.contains {
				if !strings.Contains(y, c) {
					t.Errorf("missing %q in\n%s", c, y)
				}
			}
			if !strings.Contains(y, "container: "+tt.tmpl.Spec.Containers[0].Name+" ") {
				t.Errorf("container not named:\n%s", y)
			}
		})
	}
}

func checkRules(t *testing.T, got, want *rules.Rules) {
	t.Helper()
	g, w := got.Sync[0], want.Sync[0]
	if g.From != w.From || g.To != w.To || !slices.Equal(g.Ignore, w.Ignore) {
		t.Errorf("sync: got %s -> %s ignore %q, want %s -> %s ignore %q", g.From, g.To, g.Ignore, w.From, w.To, w.Ignore)
	}
	if len(got.Run) != len(want.Run) {
		t.Fatalf("run: got %d steps, want %d", len(got.Run), len(want.Run))
	}
	for i := range want.Run {
		if got.Run[i].Cmd != want.Run[i].Cmd || !slices.Equal(got.Run[i].Trigger, want.Run[i].Trigger) {
			t.Errorf("run[%d]: got %q %q, want %q %q", i, got.Run[i].Cmd, got.Run[i].Trigger, want.Run[i].Cmd, want.Run[i].Trigger)
		}
	}
	if got.Restart != want.Restart || !slices.Equal(got.Fallback, want.Fallback) {
		t.Errorf("restart %q fallback %q, want %q %q", got.Restart, got.Fallback, want.Restart, want.Fallback)
	}
}

// TestProposeAsks: what the pod template does not tell is asked for by name, and the parser refuses
// the proposal until it is filled in, naming the key.
func TestProposeAsks(t *testing.T) {
	tests := []struct {
		name    string
		tmpl    corev1.PodTemplateSpec
		asks    int
		wantErr string
	}{
		{"no workingDir, no command", pod(corev1.Container{Name: "web", Image: "web:dev"}), 2,
			`line 6, key "sync[0].to": is still the placeholder "<the absolute directory the image keeps this code in, such as /app>"`},
		{"a relative program and no workingDir", pod(corev1.Container{Name: "web", Command: []string{"./server"}}), 1,
			`key "sync[0].to": is still the placeholder`},
		{"workingDir /", pod(corev1.Container{Name: "web", Command: []string{"/srv/server"}, WorkingDir: "/"}), 1,
			`key "sync[0].to"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Propose(Input{Tree: goTree, From: ".", Workload: "deployment/web", Template: tt.tmpl})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Asks) != tt.asks {
				t.Errorf("asks %q, want %d", p.Asks, tt.asks)
			}
			_, err = rules.Parse(p.YAML())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want %s\n%s", err, tt.wantErr, p.YAML())
			}
		})
	}
}

// TestProposeContainersAndNotes: several containers name the choice; a read-only root file system
// the build cannot write is noted; a pod without containers is an error.
func TestProposeContainersAndNotes(t *testing.T) {
	ro := true
	tmpl := pod(
		corev1.Container{Name: "web", Command: []string{"/app/bin/server"}, WorkingDir: "/app/src",
			SecurityContext: &corev1.SecurityContext{ReadOnlyRootFilesystem: &ro}},
		corev1.Container{Name: "proxy"})
	p, err := Propose(Input{Tree: goTree, From: ".", Workload: "deployment/web", Template: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	y := p.YAML()
	for _, want := range []string{"the first of 2 containers (web, proxy)", "read-only, so the build cannot write /app/bin/server"} {
		if !strings.Contains(y, want) {
			t.Errorf("missing %q in\n%s", want, y)
		}
	}
	tmpl.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "bin", MountPath: "/app/bin"}}
	if p, _ = Propose(Input{Tree: goTree, From: ".", Template: tmpl}); strings.Contains(p.YAML(), "read-only") {
		t.Errorf("a program on a volume is writable:\n%s", p.YAML())
	}
	if _, err := Propose(Input{Tree: goTree, From: ".", Template: pod()}); err == nil {
		t.Error("no containers: want an error")
	}
	if _, err := Propose(Input{Tree: fstest.MapFS{"package.json": file("{")}, From: ".", Template: goPod}); err == nil || !strings.Contains(err.Error(), "package.json") {
		t.Errorf("bad package.json: %v", err)
	}
}

// TestScalar: values are written so that YAML reads them back as the same strings.
func TestScalar(t *testing.T) {
	for in, want := range map[string]string{
		"web": "web", "./web-go/src": "./web-go/src", "8080": `"8080"`, "true": `"true"`, "a: b": `"a: b"`,
		"<x>": `"<x>"`, "go build -o /app/bin/server .": "go build -o /app/bin/server .", "x #y": `"x #y"`,
	} {
		if got := scalar(in); got != want {
			t.Errorf("scalar(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestProposeSamples: for each sample app, its Deployment without rules and its directory give a
// proposal syncing the same directories as the rules the sample was written with.
func TestProposeSamples(t *testing.T) {
	root := "../../manifests/examples"
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		manifest := filepath.Join(root, e.Name(), "deployment.yaml")
		raw, err := os.ReadFile(manifest)
		if err != nil {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) {
			var d appsv1.Deployment
			if err := yaml.Unmarshal([]byte(strings.Split(string(raw), "\n---")[0]), &d); err != nil {
				t.Fatal(err)
			}
			own, err := rules.Parse(d.Annotations[rules.AnnotationKey])
			if err != nil {
				t.Fatal(err)
			}
			p, err := Propose(Input{Tree: os.DirFS(filepath.Join(root, e.Name())), From: "./" + e.Name(), Workload: "deployment/" + d.Name, Template: d.Spec.Template})
			if err != nil {
				t.Fatal(err)
			}
			got, err := rules.Parse(p.YAML())
			if err != nil || len(p.Asks) > 0 {
				t.Fatalf("%v %q\n%s", err, p.Asks, p.YAML())
			}
			if got.Sync[0].From != own.Sync[0].From || got.Sync[0].To != own.Sync[0].To || got.Container != own.Container {
				t.Errorf("proposed %s %s -> %s, the sample has %s %s -> %s", got.Container, got.Sync[0].From, got.Sync[0].To, own.Container, own.Sync[0].From, own.Sync[0].To)
			}
			if len(got.Run) != len(own.Run) {
				t.Errorf("proposed %d steps, the sample has %d:\n%s", len(got.Run), len(own.Run), p.YAML())
			}
			for i := range min(len(got.Run), len(own.Run)) {
				for _, trig := range own.Run[i].Trigger {
					if !slices.Contains(got.Run[i].Trigger, trig) {
						t.Errorf("run[%d] triggers on %q, not on the sample's %q", i, got.Run[i].Trigger, trig)
					}
				}
			}
		})
	}
	if n < 2 {
		t.Fatalf("found %d samples under %s", n, root)
	}
}
