package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// initResult is one tool's initial sync of the generated tree into a fresh pod.
type initResult struct {
	id, title string
	files     int
	bytes     int64
	runs      []time.Duration
	best      bool // a floor: its figure is the best run, not the median
	err       error
}

// mbps is the throughput of the median run in MB/s (10^6 bytes).
func (r *initResult) mbps() float64 {
	d := percentile(r.runs, 50)
	if r.best {
		d = percentile(r.runs, 0)
	}
	if d <= 0 {
		return 0
	}
	return float64(r.bytes) / 1e6 / d.Seconds()
}

// genTree writes a deterministic tree of files (dirs directories of perDir files, size bytes each on
// average, sizes varying by +-50%) of base64 text: compressible about as much as source code is.
// It returns the number of files and bytes.
func genTree(root string, dirs, perDir, size int) (int, int64, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	raw := make([]byte, size*2)
	var total int64
	for d := range dirs {
		dir := filepath.Join(root, fmt.Sprintf("pkg%04d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 0, 0, err
		}
		for f := range perDir {
			n := size/2 + rng.IntN(size+1)
			for i := range raw[:n*3/4+3] {
				raw[i] = byte(rng.Uint32())
			}
			data := []byte(base64.StdEncoding.EncodeToString(raw[:n*3/4+3])[:n])
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file%04d.txt", f)), data, 0o644); err != nil {
				return 0, 0, err
			}
			total += int64(n)
		}
	}
	return dirs * perDir, total, nil
}

// treeRules sync ./tree to /data with nothing to run.
const treeRules = `container: web
sync:
  - from: ./tree
    to: /data
restart: none
`

// withTree mounts an emptyDir at /data (where both tools write) and, for kubectl-fastdev, sets rules
// syncing ./tree there.
func withTree(fastdev bool) func(*appsv1.Deployment) error {
	return func(d *appsv1.Deployment) error {
		spec := &d.Spec.Template.Spec
		if fastdev {
			d.Annotations["fastdev.dev/rules"] = treeRules
		} else if err := plainStatic(false)(d); err != nil {
			return err
		}
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		if !fastdev { // kubectl-fastdev's injection mounts its own emptyDir at each sync target
			c := &spec.Containers[0]
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/data"})
		}
		return nil
	}
}

// tree10k returns the measure-3 corpus, a copy of the Go toolchain's src tree (real source code,
// compressible as source is), copied on first use into dir/tree.
func (e *env) tree10k() (string, int, int64, error) {
	dir := filepath.Join(e.work, "corpus")
	if e.tree10kBytes == 0 {
		goroot, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			return "", 0, 0, fmt.Errorf("go env GOROOT: %w", err)
		}
		src := filepath.Join(strings.TrimSpace(string(goroot)), "src")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", 0, 0, err
		}
		if out, err := exec.Command("cp", "-r", src, filepath.Join(dir, "tree")).CombinedOutput(); err != nil {
			return "", 0, 0, fmt.Errorf("copying %s: %v: %s", src, err, out)
		}
		err = filepath.WalkDir(filepath.Join(dir, "tree"), func(_ string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			e.tree10kFiles++
			e.tree10kBytes += info.Size()
			return nil
		})
		if err != nil {
			return "", 0, 0, err
		}
	}
	return dir, e.tree10kFiles, e.tree10kBytes, nil
}

// initialSuite is measure 3: kubectl-fastdev's first sync into a fresh pod against `kubectl cp`.
func (e *env) initialSuite(ctx context.Context, rep *report) []*initResult {
	return e.initialRuns(ctx, rep, e.o.rounds, true)
}

// initialRuns runs the rounds (kubectl-fastdev, then kubectl cp, in turn) and, with floor, the floor
// (tar x in the pod) after them.
func (e *env) initialRuns(ctx context.Context, rep *report, runs int, floor bool) []*initResult {
	dir, files, bytes, err := e.tree10k()
	fd := &initResult{id: "fastdev", title: "kubectl-fastdev up (first sync into a fresh pod)", files: files, bytes: bytes}
	cp := &initResult{id: "kubectl-cp", title: "kubectl cp (tar through kubectl exec)", files: files, bytes: bytes}
	if err != nil {
		fd.err, cp.err = err, err
		return []*initResult{fd, cp}
	}
	e.logf("initial sync: %d files, %.0f MB, %d run(s) each, taking turns", files, float64(bytes)/1e6, runs)
	// the runs take turns (kubectl-fastdev, kubectl cp, kubectl-fastdev, ...): a slow phase of this
	// shared machine (its disk is also etcd's) then falls on both contenders, not on one
	fdRun, fdDone, err := e.initialFastdev(ctx, fd, dir)
	if err != nil {
		fd.err = err
	}
	cpRun, cpFloor, cpDone, err := e.initialCp(ctx, cp, dir)
	if err != nil {
		cp.err = err
	}
	for i := range runs {
		if fd.err == nil {
			fd.err = fdRun(i)
		}
		if cp.err == nil {
			cp.err = cpRun(i)
		}
	}
	fdDone()
	if floor && cp.err == nil && ctx.Err() == nil {
		rep.floor = &initResult{id: "floor", title: "floor: `tar x` inside the pod from a tarball already there (MB/s of the best run)",
			files: files, bytes: bytes, best: true}
		if err := cpFloor(rep.floor, 3); err != nil {
			rep.floor.err = err
			rep.problems = append(rep.problems, fmt.Sprintf("initial sync floor: %v", err))
		}
	}
	cpDone()
	for _, r := range []*initResult{fd, cp} {
		if r.err != nil {
			rep.problems = append(rep.problems, fmt.Sprintf("initial sync, %s: %v", r.title, r.err))
		} else {
			e.logf("initial sync %s: median %s, %.1f MB/s", r.id, fmtDur(percentile(r.runs, 50)), r.mbps())
		}
	}
	return []*initResult{fd, cp}
}

// initialFastdev injects once and returns the run: a fresh pod (the previous one deleted), `up`
// started, timed from its start to its "converged" line; done removes the namespace.
func (e *env) initialFastdev(ctx context.Context, r *initResult, dir string) (run func(int) error, done func(), err error) {
	ns, cleanup, err := e.namespace(ctx, "init-fd")
	if err != nil {
		return nil, func() {}, err
	}
	empty := filepath.Join(e.work, ns)
	if err := os.MkdirAll(filepath.Join(empty, "tree"), 0o755); err != nil {
		return nil, cleanup, err
	}
	if _, err := e.deploy(ctx, ns, "web-static", withTree(true)); err != nil {
		return nil, cleanup, err
	}
	// inject with an empty tree, so the pods the runs start from are injected and empty
	up, err := e.up(ctx, ns, "web-static", empty, 1)
	if err != nil {
		return nil, cleanup, err
	}
	up.stop()
	return func(i int) error {
		if err := e.freshPod(ctx, ns); err != nil {
			return err
		}
		flushDisk()
		start := time.Now()
		up, err := e.up(ctx, ns, "web-static", dir, 1)
		if err != nil {
			return err
		}
		_, _, err = up.wait(ctx, 0, 10*time.Minute, "the converged line", func(s string) bool { return strings.Contains(s, ": converged, ") })
		d := time.Since(start)
		up.stop()
		if err != nil {
			return err
		}
		r.runs = append(r.runs, d)
		e.logf("initial sync fastdev run %d: %s", i+1, fmtDur(d))
		return nil
	}, cleanup, nil
}

// freshPod deletes the Deployment's pods and waits until a new one runs every container.
func (e *env) freshPod(ctx context.Context, ns string) error {
	if err := e.cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "app=web-static"}); err != nil {
		return err
	}
	return poll(ctx, 3*time.Minute, 200*time.Millisecond, func() (bool, error) {
		l, err := e.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web-static"})
		if err != nil || len(l.Items) != 1 {
			return false, err
		}
		p := l.Items[0]
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			return false, nil
		}
		for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			if c.State.Terminated == nil && !c.Ready && c.State.Running == nil {
				return false, nil
			}
		}
		return true, nil
	})
}

// initialCp returns the run timing `kubectl cp` of the tree into a fresh pod, the floor (the tree
// extracted by tar inside the last pod), and done, which removes the namespace.
func (e *env) initialCp(ctx context.Context, r *initResult, dir string) (run func(int) error, floor func(*initResult, int) error, done func(), err error) {
	ns, cleanup, err := e.namespace(ctx, "init-cp")
	if err != nil {
		return nil, nil, func() {}, err
	}
	if _, err := e.deploy(ctx, ns, "web-static", withTree(false)); err != nil {
		return nil, nil, cleanup, err
	}
	var pod string
	kubectl := func(args ...string) *exec.Cmd {
		return e.cmd(ctx, e.kubectl, append([]string{"--kubeconfig", e.cliKubeconfig(), "-n", ns}, args...)...)
	}
	run = func(i int) error {
		if err := e.freshPod(ctx, ns); err != nil {
			return err
		}
		pods, err := e.runningPods(ctx, ns, "app=web-static")
		if err != nil || len(pods) != 1 {
			return fmt.Errorf("want one pod: %v", err)
		}
		pod = pods[0].Name
		flushDisk()
		start := time.Now()
		cmd := kubectl("cp", "-c", "web", "tree", pod+":/data/tree")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("kubectl cp: %w: %s", err, out)
		}
		d := time.Since(start)
		r.runs = append(r.runs, d)
		e.logf("initial sync kubectl cp run %d: %s", i+1, fmtDur(d))
		return nil
	}
	floor = func(f *initResult, runs int) error {
		tarball := filepath.Join(dir, "corpus.tar")
		if out, err := exec.CommandContext(ctx, "tar", "cf", tarball, "-C", dir, "tree").CombinedOutput(); err != nil {
			return fmt.Errorf("tar cf: %w: %s", err, out)
		}
		defer os.Remove(tarball)
		if out, err := kubectl("cp", "-c", "web", tarball, pod+":/data/corpus.tar").CombinedOutput(); err != nil {
			return fmt.Errorf("kubectl cp of the tarball: %w: %s", err, out)
		}
		for i := range runs {
			if out, err := kubectl("exec", pod, "-c", "web", "--", "sh", "-c", "rm -rf /data/floor && mkdir /data/floor").CombinedOutput(); err != nil {
				return fmt.Errorf("preparing the floor: %w: %s", err, out)
			}
			flushDisk()
			start := time.Now()
			if out, err := kubectl("exec", pod, "-c", "web", "--", "tar", "xf", "/data/corpus.tar", "-C", "/data/floor").CombinedOutput(); err != nil {
				return fmt.Errorf("tar x in the pod: %w: %s", err, out)
			}
			f.runs = append(f.runs, time.Since(start))
			e.logf("initial sync floor run %d: %s", i+1, fmtDur(time.Since(start)))
		}
		return nil
	}
	return run, floor, cleanup, nil
}

// flushDisk writes the host's dirty pages out before a timed run, so a run does not pay for the
// previous one's writes (the pods' emptyDirs are on this machine's disk).
func flushDisk() { _ = exec.Command("sync").Run() }
