package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// The "real workloads" measure (issue 19): web-node and web-python (an edit served by the restarted
// process; a dependency added to package.json / requirements.txt and used in the same edit), and a
// generated Go service of 30 packages built incrementally in the pod. Each workload's contenders run
// at once, their edits interleaved (schedule.go); every series ends with each pod's tree checked
// against the local tree.

// wlApp is one workload.
type wlApp struct {
	id, title string
	example   string // the sample whose Deployment and image it runs: web-node, web-python, web-go
	src       string // the synced directory, relative to the examples copy
	dest      string // where it lands in the container
	file      string // the file a code edit rewrites, relative to src
	initial   string // what GET / answers before any edit
	code      func(old []byte, marker string) []byte
	skip      []string // directories the app's own tools write in the pod (never compared)
	rewritten []string // files its install step rewrites in the pod (compared by presence only)
	start     string   // the app's command, run by the wrapper of the contenders without a supervisor
	build     string   // in-pod build before a restart ("" for none)
	dep       *wlDep   // nil: no dependency series
	goService bool     // src is replaced by the generated Go service; the pod gets busybox at /bin
}

// wlDep is a workload's dependency edit: added (timed) or removed again (timed apart).
type wlDep struct {
	manifest string // package.json, requirements.txt (relative to src)
	install  string // the in-pod install command (the sample's rules step)
	// add rewrites the manifest and the code to use the dependency, with the marker in the reply;
	// remove puts both back as they were, with the marker in the plain reply.
	add, remove func(src, marker string) error
}

var (
	nodeMessage = regexp.MustCompile(`const message = .*;`)
	pyMessage   = regexp.MustCompile(`MESSAGE = .*`)
)

func wlApps() []*wlApp { return []*wlApp{nodeApp(), pythonApp(), goServiceApp()} }

func nodeApp() *wlApp {
	node := &wlApp{id: "node", title: "web-node", example: "web-node", src: "web-node/src", dest: "/app/src", file: "server.js",
		initial: "hello from web-node v1", skip: []string{"node_modules"}, rewritten: []string{"package-lock.json"}, start: "node server.js",
		code: func(old []byte, m string) []byte {
			return nodeMessage.ReplaceAll(old, []byte(`const message = "hello from web-node `+m+`";`))
		}}
	node.dep = &wlDep{manifest: "package.json", install: "npm install --offline",
		add: func(src, m string) error {
			if err := rewrite(filepath.Join(src, "package.json"), `"ms": "2.1.3"`, `"escape-html": "1.0.3", "ms": "2.1.3"`); err != nil {
				return err
			}
			return rewriteFunc(filepath.Join(src, "server.js"), func(s string) string {
				s = strings.Replace(s, `const ms = require("ms");`, `const ms = require("ms");`+"\nconst escapeHtml = require(\"escape-html\");", 1)
				return nodeMessage.ReplaceAllString(s, `const message = escapeHtml("hello from web-node <`+m+`>");`)
			})
		},
		remove: func(src, m string) error {
			if err := rewrite(filepath.Join(src, "package.json"), `"escape-html": "1.0.3", `, ""); err != nil {
				return err
			}
			return rewriteFunc(filepath.Join(src, "server.js"), func(s string) string {
				s = strings.Replace(s, "\nconst escapeHtml = require(\"escape-html\");", "", 1)
				return string(node.code([]byte(s), m))
			})
		}}
	return node
}

func pythonApp() *wlApp {
	py := &wlApp{id: "python", title: "web-python", example: "web-python", src: "web-python/src", dest: "/app/src", file: "server.py",
		initial: "hello from web-python v1", skip: []string{"__pycache__"}, start: "/app/venv/bin/python server.py",
		code: func(old []byte, m string) []byte {
			return pyMessage.ReplaceAll(old, []byte(`MESSAGE = "hello from web-python `+m+`"`))
		}}
	py.dep = &wlDep{manifest: "requirements.txt", install: "/app/venv/bin/pip install --no-index --find-links /app/wheels -r requirements.txt",
		add: func(src, m string) error {
			if err := rewrite(filepath.Join(src, "requirements.txt"), "idna==3.3\n", "idna==3.3\nsix==1.16.0\n"); err != nil {
				return err
			}
			return rewriteFunc(filepath.Join(src, "server.py"), func(s string) string {
				s = strings.Replace(s, "import idna\n", "import idna\nimport six\n", 1)
				return pyMessage.ReplaceAllString(s, `MESSAGE = "hello from web-python `+m+` with six " + six.__version__`)
			})
		},
		remove: func(src, m string) error {
			if err := rewrite(filepath.Join(src, "requirements.txt"), "six==1.16.0\n", ""); err != nil {
				return err
			}
			return rewriteFunc(filepath.Join(src, "server.py"), func(s string) string {
				s = strings.Replace(s, "import idna\nimport six\n", "import idna\n", 1)
				return string(py.code([]byte(s), m))
			})
		}}
	return py
}

func goServiceApp() *wlApp {
	return &wlApp{id: "gosvc", title: fmt.Sprintf("Go service (%d packages)", gosvcPackages), example: "web-go", src: "web-go/src",
		dest: "/app/src", file: gosvcEdited, initial: gosvcInitial, start: "/app/bin/server", build: "go build -o /app/bin/server .",
		goService: true,
		code: func(old []byte, m string) []byte {
			return gosvcMessage.ReplaceAll(old, []byte(`var message = "hello from gosvc `+m+`"`))
		}}
}

// rewrite replaces old by new in a file, failing when old is not there (the sample changed).
func rewrite(file, old, new string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), old) {
		return fmt.Errorf("%s no longer contains %q: update test/bench/workloads.go", file, old)
	}
	return os.WriteFile(file, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
}

func rewriteFunc(file string, f func(string) string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	return os.WriteFile(file, []byte(f(string(b))), 0o644)
}

// wlEditKind is what edit i of a series does: mostly code edits, every fourth a dependency change
// (added, then removed, then added ...).
type wlEditKind int

const (
	wlCode wlEditKind = iota
	wlDepAdd
	wlDepRemove
)

func wlKindOf(i int, hasDep bool) wlEditKind {
	if !hasDep || i%4 != 3 {
		return wlCode
	}
	if (i/4)%2 == 0 {
		return wlDepAdd
	}
	return wlDepRemove
}

// wlEdit makes edit i of kind k in the local tree; it returns the files it changed (relative to src).
func (a *wlApp) wlEdit(src string, k wlEditKind, marker string) ([]string, error) {
	switch k {
	case wlDepAdd:
		return []string{a.dep.manifest, a.file}, a.dep.add(src, marker)
	case wlDepRemove:
		return []string{a.dep.manifest, a.file}, a.dep.remove(src, marker)
	}
	f := filepath.Join(src, filepath.FromSlash(a.file))
	old, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	return []string{a.file}, os.WriteFile(f, a.code(old, marker), 0o644)
}

// postCommand is what a contender without a supervisor runs in the container after the files of
// an edit landed: the install when the manifest changed, the build, and the restart (the wrapper
// of wlPlain starts the killed process again).
func (a *wlApp) postCommand(u wlUpdate) string {
	parts := []string{"cd " + a.dest}
	if len(u.deleted) > 0 {
		parts = append(parts, "rm -f "+strings.Join(u.deleted, " "))
	}
	if u.install && a.dep != nil {
		parts = append(parts, a.dep.install)
	}
	if a.build != "" {
		parts = append(parts, a.build)
	}
	return strings.Join(append(parts, wlKill), " && ")
}

// wlKill restarts the app under wlPlain's wrapper.
const wlKill = "kill $(cat /tmp/app.pid)"

// wlPlain turns the sample's Deployment into the one the contenders without a supervisor use: no
// rules annotation, root in the container (`tar x` writes into the image's root-owned /app/src) and
// the app under a shell loop that starts it again whenever it ends, its pid in /tmp/app.pid: the
// restart wrapper Tilt's restart_process extension would install, written by the bench.
func (a *wlApp) wlPlain(d *appsv1.Deployment) error {
	delete(d.Annotations, "fastdev.dev/rules")
	root := int64(0)
	d.Spec.Template.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: &root, RunAsGroup: &root}
	c := &d.Spec.Template.Spec.Containers[0]
	c.SecurityContext = nil
	c.Command = []string{"sh", "-c", "cd " + a.dest + "; while true; do " + a.start + " & echo $! > /tmp/app.pid; wait $!; done"}
	return a.addBusybox(d)
}

// addBusybox gives the Go service's pods (the web-go image has no shell) busybox at /bin, from an
// init container of the web-static image: the contenders' tar, sh and awk, and the tree check's
// find and sha256sum. Every contender of the workload gets it, kubectl-fastdev too.
func (a *wlApp) addBusybox(d *appsv1.Deployment) error {
	if !a.goService {
		return nil
	}
	spec := &d.Spec.Template.Spec
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "bench-tools", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	spec.InitContainers = append(spec.InitContainers, corev1.Container{
		Name: "bench-tools", Image: "fastdev.local/web-static:dev", ImagePullPolicy: corev1.PullNever,
		Command: []string{"/bin/busybox", "sh", "-c",
			"cp /bin/busybox /tools/busybox && for a in $(/bin/busybox --list); do [ $a = busybox ] || ln -s busybox /tools/$a; done"},
		VolumeMounts: []corev1.VolumeMount{{Name: "bench-tools", MountPath: "/tools"}},
	})
	c := &spec.Containers[0]
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "bench-tools", MountPath: "/bin", ReadOnly: true})
	return nil
}

// wlTree copies the examples for a contender and, for the Go service, generates it in place of
// web-go's source; it returns the examples copy and the synced directory in it.
func (e *env) wlTree(ns string, a *wlApp) (string, string, error) {
	dir, err := e.examples(ns)
	if err != nil {
		return "", "", err
	}
	src := filepath.Join(dir, filepath.FromSlash(a.src))
	if a.id == "burst" {
		if _, _, err := switchBranch(a, src, 0, burstStart); err != nil {
			return "", "", err
		}
	}
	if a.goService {
		mod, err := os.ReadFile(filepath.Join(src, "go.mod"))
		if err != nil {
			return "", "", err
		}
		goLine := regexp.MustCompile(`(?m)^go \S+$`).Find(mod)
		if goLine == nil {
			return "", "", fmt.Errorf("web-go/src/go.mod has no go line")
		}
		if err := writeGoService(src, string(goLine)); err != nil {
			return "", "", err
		}
	}
	return dir, src, nil
}

// wlSeries makes a session's edits: edit i of kind wlKindOf(i), or, for the burst, a branch switch;
// it records the kind of every edit served, so the series can be split afterwards.
type wlSeries struct {
	a     *wlApp
	src   string
	n     int          // edits made so far
	kinds []wlEditKind // of the edits served, in order
	burst *burstResult // set for the branch-switch series
}

// wlUpdate is what one edit changed in the local tree (paths relative to src).
type wlUpdate struct {
	files, deleted []string
	install        bool // the dependency manifest changed
}

// next makes the next edit in the local tree.
func (w *wlSeries) next(marker string) (wlUpdate, error) {
	if w.burst != nil {
		b := (w.n + 1) % 2 // the tree starts on branch A (0): the first switch goes to B
		w.n++
		files, deleted, err := switchBranch(w.a, w.src, b, marker)
		return wlUpdate{files: files, deleted: deleted, install: true}, err
	}
	k := wlKindOf(w.n, w.a.dep != nil)
	w.n++
	files, err := w.a.wlEdit(w.src, k, marker)
	return wlUpdate{files: files, install: k != wlCode}, err
}

// served records the kind of the edit just served.
func (w *wlSeries) served() { w.kinds = append(w.kinds, wlKindOf(len(w.kinds), w.a.dep != nil)) }

// prime is true when the contenders without a supervisor must first send the whole tree (the Go
// service and the burst's branch A are not in the image).
func (w *wlSeries) prime() bool { return w.a.goService || w.burst != nil }

// wlProbe waits until the app serves what it should (the initial reply, or after a contender's
// first full sync): every contender starts its series from a serving app.
func (e *env) wlProbe(ctx context.Context, s *session, want string, timeout time.Duration) error {
	var err error
	if s.pr, err = e.newProber(s.ns, s.selector); err != nil {
		return err
	}
	s.onClose(s.pr.close)
	_, err = s.pr.wait(ctx, want, 1, timeout)
	return err
}

// wlTimeout is how long one edit may take to be served (a dependency install, a Go build on a
// busy 2-core machine).
const wlTimeout = 3 * time.Minute
