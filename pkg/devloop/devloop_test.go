package devloop

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/auth"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/synclet"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
	fswatch "github.com/kubectl-fastdev/kubectl-fastdev/pkg/watch"
)

// fakePods serves one pod whose synclet is an in-process server, and records port-forwards.
type fakePods struct {
	addr     string
	mu       sync.Mutex
	forwards int
}

var _ PodAPI = (*fakePods)(nil)

func (f *fakePods) SubscribePods(ctx context.Context, _ string, onPod func(*corev1.Pod, bool), _ func(error)) error {
	onPod(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Annotations: map[string]string{inject.AnnotationInjected: "img"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, InitContainerStatuses: []corev1.ContainerStatus{
			{Name: inject.SyncletContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
	}, false)
	<-ctx.Done()
	return nil
}

func (f *fakePods) PortForward(context.Context, string, int) (*kube.Forward, error) {
	f.mu.Lock()
	f.forwards++
	f.mu.Unlock()
	return &kube.Forward{Addr: f.addr, Done: make(chan error), Close: func() {}}, nil
}

// recorder is a Reporter that keeps every update.
type recorder struct {
	mu      sync.Mutex
	updates []Update
	lines   []string
}

func (r *recorder) PodState(dep, pod string, ok bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ok {
		r.lines = append(r.lines, "connected "+pod)
	}
}
func (r *recorder) PodGone(string, string)        {}
func (r *recorder) StepLine(_, _, _, line string) {}
func (r *recorder) Updated(u Update)              { r.mu.Lock(); r.updates = append(r.updates, u); r.mu.Unlock() }
func (r *recorder) Warn(msg string) {
	r.mu.Lock()
	r.lines = append(r.lines, "warn "+msg)
	r.mu.Unlock()
}
func (r *recorder) Info(msg string) {
	r.mu.Lock()
	r.lines = append(r.lines, "info "+msg)
	r.mu.Unlock()
}

func write(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // WriteFile leaves an existing file's mode as it was
		t.Fatal(err)
	}
}

// equalTrees waits until the pod's root equals the local one apart from ignored paths.
func equalTrees(t *testing.T, local, remote string, skip tree.SkipFunc) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err1 := tree.Scan(local, skip)
		r, err2 := tree.Scan(remote, skip)
		if err1 == nil && err2 == nil {
			if d := tree.Compare(l, r, nil, nil); d.Empty() {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("pod tree differs from local: put %v, delete %v", d.Put, d.Delete)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// devKey is the developer's key the in-process synclet accepts.
var devKey = func() *auth.Key {
	k, err := auth.Generate("dev@test")
	if err != nil {
		panic(err)
	}
	return k
}()

// runLoop runs the whole CLI loop for the rules, from base, against an in-process synclet serving
// podRoot as /www, until the test ends; it returns what the loop reported.
func runLoop(t *testing.T, base, podRoot, rulesText string) *recorder {
	t.Helper()
	rep, _ := runLoopAt(t, base, podRoot, rulesText)
	return rep
}

// runLoopAt is runLoop that also returns the in-process synclet's URL.
func runLoopAt(t *testing.T, base, podRoot, rulesText string) (*recorder, string) {
	t.Helper()
	srv, err := synclet.NewServer(synclet.ServerConfig{Listen: "127.0.0.1:0", Roots: []string{podRoot}, To: []string{"/www"},
		Keys: devKey.Public().String(), Supervisor: filepath.Join(t.TempDir(), "none.sock"), Pending: filepath.Join(t.TempDir(), "pending.json"),
		Limits: archive.DefaultLimits, Log: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Config.ConnContext = srv.ConnContext
	hs.Start()
	r, err := rules.Parse(rulesText)
	if err != nil {
		t.Fatal(err)
	}
	rep := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Run(ctx, &fakePods{addr: strings.TrimPrefix(hs.URL, "http://")}, Config{Dir: base,
			Targets: []Target{{Name: "web", Selector: "app=web", Rules: r, Key: devKey, Port: 1}},
			Watch:   fswatch.Options{Quiet: 10 * time.Millisecond}}, rep)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("devloop.Run: %v", err)
		}
		hs.Close()
	})
	return rep, hs.URL
}

// TestLoopConvergesAndFollowsEdits runs the whole CLI loop against an in-process synclet: the initial
// converge, then edits, deletes, renames, modes, symlinks and ignore rules, with no cluster.
func TestLoopConvergesAndFollowsEdits(t *testing.T) {
	base, podRoot := t.TempDir(), t.TempDir()
	src := filepath.Join(base, "src")
	write(t, filepath.Join(src, "index.html"), "v1", 0o644)
	write(t, filepath.Join(src, "sub/deep/a.txt"), "a", 0o644)
	write(t, filepath.Join(src, ".git/HEAD"), "ref", 0o644)
	write(t, filepath.Join(src, "debug.log"), "noise", 0o644)
	// the pod starts with a stale file (deleted locally) and an ignored one the image provides
	write(t, filepath.Join(podRoot, "stale.html"), "old", 0o644)
	write(t, filepath.Join(podRoot, "cache.log"), "image's", 0o644)

	rep := runLoop(t, base, podRoot, "sync:\n  - from: ./src\n    to: /www\n    ignore: [\"*.log\"]\nrestart: none\n")

	skip := func(rel string, isDir bool) bool { return rel == ".git" || strings.HasSuffix(rel, ".log") }
	equalTrees(t, src, podRoot, skip)
	if _, err := os.Stat(filepath.Join(podRoot, "stale.html")); !os.IsNotExist(err) {
		t.Errorf("stale file not deleted on converge: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(podRoot, "cache.log")); string(b) != "image's" {
		t.Errorf("an ignored file the pod had was touched: %q", b)
	}
	if _, err := os.Stat(filepath.Join(podRoot, ".git")); !os.IsNotExist(err) {
		t.Errorf(".git was synced")
	}

	write(t, filepath.Join(src, "index.html"), "v2", 0o644)
	write(t, filepath.Join(src, "run.sh"), "#!/bin/sh\n", 0o755)
	if err := os.Symlink("index.html", filepath.Join(src, "link.html")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(src, "sub"), filepath.Join(src, "moved")); err != nil {
		t.Fatal(err)
	}
	equalTrees(t, src, podRoot, skip)
	if fi, err := os.Stat(filepath.Join(podRoot, "run.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("mode not kept: %v %v", fi, err)
	}
	if tgt, err := os.Readlink(filepath.Join(podRoot, "link.html")); err != nil || tgt != "index.html" {
		t.Errorf("symlink not kept: %q %v", tgt, err)
	}
	// the pod's files land before the CLI reads the synclet's reply: wait for the report
	deadline := time.Now().Add(5 * time.Second)
	for {
		rep.mu.Lock()
		var timed bool
		for _, u := range rep.updates {
			if u.Err != "" {
				t.Errorf("update failed: %s", u.Err)
			}
			timed = timed || u.Latency > 0
		}
		rep.mu.Unlock()
		if timed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no update carried an edit->running latency")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTreeTooLargeForVolume: with a sizeLimit the pod's volume cannot hold, nothing at all is sent and
// the failure says why; once the large file is gone locally, the held files follow with the next edit.
func TestTreeTooLargeForVolume(t *testing.T) {
	base, podRoot := t.TempDir(), t.TempDir()
	src := filepath.Join(base, "src")
	write(t, filepath.Join(src, "index.html"), "v1", 0o644)
	write(t, filepath.Join(src, "big.bin"), strings.Repeat("x", 8192), 0o644)

	rep := runLoop(t, base, podRoot, "sync:\n  - from: ./src\n    to: /www\n    sizeLimit: 4Ki\nrestart: none\n")

	failed := func() string {
		rep.mu.Lock()
		defer rep.mu.Unlock()
		for _, u := range rep.updates {
			if u.Err != "" {
				return u.Err
			}
		}
		return ""
	}
	deadline := time.Now().Add(10 * time.Second)
	for failed() == "" {
		if time.Now().After(deadline) {
			t.Fatal("no failure reported for a tree larger than the volume")
		}
		time.Sleep(10 * time.Millisecond)
	}
	msg := failed()
	for _, want := range []string{"needs 8.0 KiB more under /www", "has 4.0 KiB left", "nothing was sent", "sync[0].sizeLimit", "sync[0].ignore"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if ents, _ := os.ReadDir(podRoot); len(ents) != 0 {
		t.Fatalf("the pod holds part of the tree: %v", ents)
	}
	// the large file goes: the held index.html follows with that edit
	if err := os.Remove(filepath.Join(src, "big.bin")); err != nil {
		t.Fatal(err)
	}
	equalTrees(t, src, podRoot, nil)
}
