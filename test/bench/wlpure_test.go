package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestManifests(t *testing.T) {
	dir := t.TempDir()
	for rel, s := range map[string]string{"a.js": "a", "lib/b.js": "b", "node_modules/x/y.js": "skip"} {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	local, err := localManifest(dir, []string{"node_modules"})
	if err != nil {
		t.Fatal(err)
	}
	if len(local) != 2 || local["./lib/b.js"] == "" {
		t.Fatalf("local manifest %v: want a.js and lib/b.js only", local)
	}
	// the in-pod script, run here: it must agree with the local manifest
	out, err := exec.Command("sh", "-c", podManifestScript(dir, []string{"node_modules"})).Output()
	if err != nil {
		t.Fatal(err)
	}
	pod, err := parseManifest(string(out))
	if err != nil {
		t.Fatal(err)
	}
	if d := diffManifests(local, pod); d != "" {
		t.Fatalf("same tree differs: %s", d)
	}
	pod["./lib/b.js"] = strings.Repeat("0", 64)
	pod["./extra"] = strings.Repeat("1", 64)
	delete(pod, "./a.js")
	d := diffManifests(local, pod)
	for _, want := range []string{"1 missing in the pod (./a.js)", "1 only in the pod (./extra)", "1 different (./lib/b.js)"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff %q lacks %q", d, want)
		}
	}
	pod = wlManifest{"./a.js": local["./a.js"], "./lib/b.js": strings.Repeat("2", 64)}
	presenceOnly(local, pod, []string{"lib/b.js"})
	if d := diffManifests(local, pod); d != "" {
		t.Errorf("a presence-only file compared by content: %s", d)
	}
	if _, err := parseManifest("nonsense\n"); err == nil {
		t.Error("a line that is not sha256sum's parsed")
	}
	if m, err := parseManifest("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  -\n"); err != nil || len(m) != 0 {
		t.Errorf("stdin's line kept: %v %v", m, err)
	}
}

func TestGoServiceBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the generated service")
	}
	dir := filepath.Join(t.TempDir(), "svc")
	if err := writeGoService(dir, "go 1.22"); err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = filepath.Walk(filepath.Join(dir, "internal"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() && p != filepath.Join(dir, "internal") {
			n++
		}
		return nil
	})
	if n != gosvcPackages {
		t.Errorf("%d packages, want %d", n, gosvcPackages)
	}
	cmd := exec.Command("go", "vet", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go vet of the generated service: %v\n%s", err, out)
	}
	// it must also start at once (a generated call tree once took minutes): run it and GET /
	bin := filepath.Join(t.TempDir(), "svc")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir, build.Env = dir, cmd.Env
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	srv := exec.Command(bin)
	srv.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	var body []byte
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port)); err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(string(body), gosvcInitial) {
		t.Errorf("the service answered %q within 10 s, want %q", body, gosvcInitial)
	}
	old, _ := os.ReadFile(filepath.Join(dir, gosvcEdited))
	if !gosvcMessage.Match(old) {
		t.Errorf("%s has no line the edit rewrites:\n%s", gosvcEdited, old)
	}
}

func TestWorkloadEdits(t *testing.T) {
	var kinds []wlEditKind
	for i := range 12 {
		kinds = append(kinds, wlKindOf(i, true))
	}
	want := []wlEditKind{wlCode, wlCode, wlCode, wlDepAdd, wlCode, wlCode, wlCode, wlDepRemove, wlCode, wlCode, wlCode, wlDepAdd}
	if !slices.Equal(kinds, want) {
		t.Errorf("kinds %v, want %v", kinds, want)
	}
	if wlKindOf(3, false) != wlCode {
		t.Error("an app without a dependency edit got one")
	}
	examples, err := filepath.Abs("../../manifests/examples")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range wlApps() {
		if a.goService {
			continue
		}
		t.Run(a.id, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "src")
			if err := exec.Command("cp", "-r", filepath.Join(examples, a.src), src).Run(); err != nil {
				t.Fatal(err)
			}
			orig, _ := os.ReadFile(filepath.Join(src, a.file))
			for i, k := range []wlEditKind{wlCode, wlDepAdd, wlDepRemove, wlDepAdd} {
				m := "mark-" + string(rune('a'+i))
				files, err := a.wlEdit(src, k, m)
				if err != nil {
					t.Fatalf("edit %d: %v", i, err)
				}
				b, _ := os.ReadFile(filepath.Join(src, a.file))
				if !strings.Contains(string(b), m) {
					t.Errorf("edit %d (%v): %s lacks the marker:\n%s", i, k, a.file, b)
				}
				manifest, _ := os.ReadFile(filepath.Join(src, a.dep.manifest))
				has := strings.Contains(string(manifest), map[string]string{"node": "escape-html", "python": "six"}[a.id])
				if has != (k == wlDepAdd) || (k != wlCode) != (len(files) == 2) {
					t.Errorf("edit %d (%v): dependency in manifest %v, files %v", i, k, has, files)
				}
			}
			if string(orig) == "" {
				t.Fatal("empty sample")
			}
		})
	}
}

func TestPostCommand(t *testing.T) {
	apps := wlApps()
	node, gosvc := apps[0], apps[2]
	if got, want := node.postCommand(wlUpdate{}), "cd /app/src && "+wlKill; got != want {
		t.Errorf("code edit: %q, want %q", got, want)
	}
	if got := node.postCommand(wlUpdate{install: true, deleted: []string{"lib/a.js"}}); got != "cd /app/src && rm -f lib/a.js && npm install --offline && "+wlKill {
		t.Errorf("dependency edit with a delete: %q", got)
	}
	if got := gosvc.postCommand(wlUpdate{install: true}); got != "cd /app/src && go build -o /app/bin/server . && "+wlKill {
		t.Errorf("go service: %q", got)
	}
	for tool, want := range map[string]string{wlFastdevQ200: "wl-node-kubectl-fastdev-quiet-200ms", wlSkaffold20: "wl-node-Skaffold-20-ms-debounce", "exec+tar": "wl-node-exec-tar"} {
		if got := wlID("wl-node-", tool); got != want {
			t.Errorf("wlID(%q) = %q, want %q", tool, got, want)
		}
	}
	if got := shQuote("it's"); got != `'it'"'"'s'` {
		t.Errorf("shQuote: %s", got)
	}
}

func TestBranchSwitch(t *testing.T) {
	examples, _ := filepath.Abs("../../manifests/examples")
	a := burstApp()
	src := filepath.Join(t.TempDir(), "src")
	if err := exec.Command("cp", "-r", filepath.Join(examples, a.src), src).Run(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := switchBranch(a, src, 0, burstStart); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readString(filepath.Join(src, a.file)), a.initial) {
		t.Errorf("branch A's server does not answer the burst's first reply %q", a.initial)
	}
	written, deleted, err := switchBranch(a, src, 1, "B")
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != burstShift || len(written) != burstFiles+2 {
		t.Errorf("%d written, %d deleted; want %d and %d", len(written), len(deleted), burstFiles+2, burstShift)
	}
	m, _ := localManifest(src, nil)
	if _, ok := m["./lib/f0000.js"]; ok || m["./lib/f1099.js"] == "" {
		t.Error("branch B's files are not those of lib/f0100-f1099")
	}
	if !strings.Contains(readString(filepath.Join(src, "package.json")), "escape-html") {
		t.Error("branch B lacks the dependency")
	}
	if _, _, err := switchBranch(a, src, 0, "A2"); err != nil || strings.Contains(readString(filepath.Join(src, "package.json")), "escape-html") {
		t.Errorf("back to A: %v", err)
	}
}

func TestCountUpdates(t *testing.T) {
	lines := []string{
		`web-node/p: 900 files sent, 100 deleted, steps: "npm install --offline" 2.1s; edit->running 3s (quiet 20ms, send 2.9s, write 50ms, steps 2.1s, restart 40ms)`,
		`web-node/p: 3 files sent, 0 deleted; edit->running 80ms (quiet 20ms, send 60ms, write 1ms, steps 0s, restart 30ms)`,
		`web-node/p: connected`,
	}
	if s, r := countUpdates(lines, "npm install --offline"); s != 1 || r != 2 {
		t.Errorf("steps %d restarts %d, want 1 and 2", s, r)
	}
}

func TestWorkloadTargets(t *testing.T) {
	apps := wlApps()
	ms := func(v ...int) []time.Duration {
		var ds []time.Duration
		for _, x := range v {
			ds = append(ds, time.Duration(x)*time.Millisecond)
		}
		return ds
	}
	ran := &result{}
	rs := []*wlResult{
		{app: apps[0], tool: wlFastdevTool, code: ms(50, 60, 70), depAdd: ms(900), treeChecked: true, series: ran},
		{app: apps[0], tool: "exec+tar", code: ms(200, 250, 300), depAdd: ms(800), treeChecked: true, series: ran},
		{app: apps[0], tool: "Tilt", cannot: "no reason"},
		{app: apps[0], tool: "exec-stream", code: ms(40, 45, 50), treeChecked: true, tree: "1 different (./server.js)", series: ran},
		{app: apps[0], tool: "Skaffold"}, // left out by -series: no row in the targets
		{app: apps[0], tool: wlSkaffold20, matched: true, code: ms(100), treeChecked: true, series: ran},
	}
	ts := workloadTargets(rs)
	got := map[string]string{}
	for _, tg := range ts {
		got[tg.what] = mark(tg) + " " + tg.measured
	}
	for what, want := range map[string]string{
		"web-node, edit -> served: kubectl-fastdev ahead of exec+tar (p50 ratio > 1)":                                   "**met** 4.17x",
		"web-node, dependency added -> served: kubectl-fastdev ahead of exec+tar (p50 ratio > 1)":                       "**not met** 0.89x",
		"web-node, edit -> served: kubectl-fastdev ahead of exec-stream (p50 ratio > 1)":                                "not measured exec-stream's series failed",
		"web-node, matched debounce, edit -> served: kubectl-fastdev ahead of Skaffold, 20 ms debounce (p50 ratio > 1)": "**met** 1.67x",
	} {
		if !strings.HasPrefix(got[what], want) {
			t.Errorf("%s: %q, want %q...", what, got[what], want)
		}
	}
	if len(ts) != 6 { // two per contender that ran (the matched Skaffold only in its pair), none for Tilt
		t.Errorf("%d targets, want 6: %v", len(ts), got)
	}
	md := workloadsMarkdown(rs, 10)
	for _, want := range []string{"| web-node | Tilt | cannot: no reason |", "| web-node | exec+tar | 4 | 250 ms |", "**no**: 1 different (./server.js)", "| 4.17x |", "| Skaffold | not run (-series) |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestPeerConfigs(t *testing.T) {
	node, gosvc := nodeApp(), goServiceApp()
	tf := tiltfile(node, "fastdev.local/bench-tilt-node", "/run/c.sock")
	for _, want := range []string{"sync('web-node/src', '/app/src')", "run('cd /app/src && npm install --offline', trigger=['web-node/src/package.json'])",
		"run('" + wlKill + "')", "images tag --force fastdev.local/web-node:dev $EXPECTED_REF"} {
		if !strings.Contains(tf, want) {
			t.Errorf("Tiltfile lacks %q:\n%s", want, tf)
		}
	}
	if tf := tiltfile(gosvc, "r", "s"); !strings.Contains(tf, "run('cd /app/src && go build -o /app/bin/server .')") || strings.Contains(tf, "trigger") {
		t.Errorf("Go service's Tiltfile: want an untriggered build step:\n%s", tf)
	}
	b, err := skaffoldConfig(node, "127.0.0.1:5000/bench-skaffold-node")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"src: web-node/src/**", "strip: web-node/src/", "dest: /app/src", "cmp -s package.json /tmp/.manifest || { npm install",
		"buildCommand: sh build.sh", "- web-node/src/**"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("skaffold.yaml lacks %q:\n%s", want, b)
		}
	}
}
