package detect

import (
	"strings"
	"testing"
	"testing/fstest"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// TestProposeList: a pod with an API, a worker and a proxy, and a directory for the API and the
// worker: the list form with one item each, every guess its own (its directory, its in-pod
// directory, its steps and restart), the proxy left out and said so; it parses back as rules.
func TestProposeList(t *testing.T) {
	tree := fstest.MapFS{
		"api/go.mod":          file("module example.com/api\n"),
		"api/main.go":         file("package main\n\nfunc main() {}\n"),
		"worker/package.json": file(`{"name": "worker", "main": "index.js"}`),
		"worker/index.js":     file("console.log(1)\n"),
		"worker/Dockerfile":   file("FROM node\n"),
		"README.md":           file("hi\n"),
	}
	tmpl := pod(
		corev1.Container{Name: "api", Command: []string{"/app/bin/api"}, WorkingDir: "/app/src", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}},
		corev1.Container{Name: "proxy", Command: []string{"/usr/bin/envoy"}},
		corev1.Container{Name: "worker", Command: []string{"node", "/srv/index.js"}, Ports: []corev1.ContainerPort{{ContainerPort: 9090}}},
	)
	p, err := Propose(Input{Tree: tree, From: ".", Workload: "deployment/app", Template: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	y := p.YAML()
	r, err := rules.Parse(y)
	if err != nil {
		t.Fatalf("proposal does not parse: %v\n%s", err, y)
	}
	if !r.Listed || len(r.More) != 1 || r.Container != "api" || r.More[0].Container != "worker" || len(p.Asks) != 0 {
		t.Fatalf("want the list form with api then worker and nothing asked, got %+v (asks %q)\n%s", r.Apps(), p.Asks, y)
	}
	want := []struct{ from, to string }{{"api", "/app/src"}, {"worker", "/srv"}}
	for k, w := range want {
		roots := r.Roots(k)
		if len(roots) != 1 || r.Sync[roots[0]].From != w.from || r.Sync[roots[0]].To != w.to {
			t.Errorf("item %d syncs %+v, want %s -> %s\n%s", k, r.Sync, w.from, w.to, y)
		}
	}
	if len(r.Run) == 0 || !strings.Contains(r.Run[0].Cmd, "go build") || r.Restart != protocol.RestartProcess {
		t.Errorf("api's steps %+v restart %q, want a go build and restart: process\n%s", r.Run, r.Restart, y)
	}
	for _, s := range []string{"./api (a Go project", "./worker (a Node.js project", "Left out, with no directory of their name here: proxy",
		"8080 of api (http), 9090 of worker", `fallback: ["Dockerfile"]`} {
		if !strings.Contains(y, s) {
			t.Errorf("missing %q in\n%s", s, y)
		}
	}

	if n := strings.Count(y, "# the directory named after the container"); n != 2 {
		t.Errorf("%d sync froms say they are the container's directory, want 2:\n%s", n, y)
	}

	// one container with a directory is not a list: the single form, saying how to get one
	delete(tree, "worker/package.json")
	delete(tree, "worker/index.js")
	delete(tree, "worker/Dockerfile")
	p, err = Propose(Input{Tree: tree, From: ".", Workload: "deployment/app", Template: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	if y := p.YAML(); strings.Contains(y, "containers:") || !strings.Contains(y, "run init again to develop several") {
		t.Errorf("one directory: want the single form naming the list form's layout, got\n%s", y)
	}
}
