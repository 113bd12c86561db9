package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

// fanoutSuite is measure 5: the files + restart edit of web-static, with 1, 3 and 10 replicas, each
// edit timed until every replica serves it.
func (e *env) fanoutSuite(ctx context.Context, rep *report) []*result {
	var cs []contender
	for _, n := range []int{1, 3, 10} {
		cs = append(cs, contender{fmt.Sprintf("fanout-%d", n), fmt.Sprintf("%d replica(s)", n), e.o.edits,
			func(ctx context.Context, r *result) (*session, error) {
				return e.fastdevSession(ctx, r, webStatic, n, func(d *appsv1.Deployment) error {
					d.Spec.Template.Spec.Containers[0].Command = snapshotCommand
					return nil
				})
			}})
	}
	return e.interleaved(ctx, rep, "fan-out", cs)
}

// treeResult is `up` watching the 100,000-file tree in one watch mode.
type treeResult struct {
	mode       string // "fsnotify" or "--poll"
	files      int
	connect    time.Duration // up started -> connected (the first run: -> the whole tree sent)
	cpuPercent float64       // of one core, over the idle window
	idle       time.Duration
	rssMB      float64
	push       []time.Duration // write -> request sent (detect + quiet + plan)
	applied    []time.Duration // write -> update line (files written in the pod)
	stages     []stages
	pollPeriod time.Duration // the rescan period `up --poll` announced (0: none, the default)
	err        error
}

var rescanned = regexp.MustCompile(`is rescanned every (\S+)`)

// bigtreeSuite is measure 4: `up` on a 100,000-file tree, idle CPU and RSS after a minute, and the
// latency from a write to the push, with file events and with --poll.
func (e *env) bigtreeSuite(ctx context.Context, rep *report) []*treeResult {
	dir := filepath.Join(e.work, "tree100k")
	files, _, err := genTree(filepath.Join(dir, "tree"), 1000, 100, 200)
	var out []*treeResult
	ns, cleanup, nerr := e.namespace(ctx, "bigtree")
	if err == nil {
		err = nerr
	}
	if err == nil {
		defer cleanup()
		_, err = e.deploy(ctx, ns, "web-static", withTree(true))
	}
	for i, mode := range []string{"fsnotify", "--poll"} {
		r := &treeResult{mode: mode, files: files, err: err}
		if err == nil {
			e.logf("big tree: %d files, %s", files, mode)
			r.err = e.bigtree(ctx, r, ns, dir, i == 0)
		}
		if r.err != nil {
			rep.problems = append(rep.problems, fmt.Sprintf("100k files, %s: %v", mode, r.err))
		}
		out = append(out, r)
	}
	return out
}

// bigtree runs one mode; the first run injects and sends the whole tree.
func (e *env) bigtree(ctx context.Context, r *treeResult, ns, dir string, first bool) error {
	var extra []string
	if r.mode == "--poll" {
		extra = append(extra, "--poll")
	}
	start := time.Now()
	up, err := e.up(ctx, ns, "web-static", dir, 1, extra...)
	if err != nil {
		return err
	}
	defer up.stop()
	if first {
		if _, _, err := up.wait(ctx, 0, 10*time.Minute, "the converged line", func(s string) bool { return strings.Contains(s, ": converged, ") }); err != nil {
			return err
		}
	}
	r.connect = time.Since(start)
	time.Sleep(10 * time.Second) // let `up` go idle
	idle := bigtreeIdle
	t0, err := cpuTicks(up.pid())
	if err != nil {
		return err
	}
	time.Sleep(idle)
	t1, err := cpuTicks(up.pid())
	if err != nil {
		return err
	}
	r.idle = idle
	if m := rescanned.FindStringSubmatch(up.output()); m != nil { // printed when polling starts
		r.pollPeriod, _ = time.ParseDuration(m[1])
	}
	r.cpuPercent = float64(t1-t0) / clockTick / idle.Seconds() * 100
	if r.rssMB, err = rssMB(up.pid()); err != nil {
		return err
	}
	e.logf("big tree %s: idle CPU %.2f%%, RSS %.0f MB", r.mode, r.cpuPercent, r.rssMB)
	from := up.mark()
	writes := 20
	if r.mode == "--poll" {
		writes = pollWrites // each waits for a rescan of the tree (seconds): fewer keep make bench short
	}
	for i := range writes {
		f := filepath.Join(dir, "tree", fmt.Sprintf("pkg%04d", 500+i), "file0050.txt")
		t0 := time.Now()
		if err := os.WriteFile(f, []byte(fmt.Sprintf("edit %d at %s\n", i, t0)), 0o644); err != nil {
			return err
		}
		var l line
		l, from, err = up.wait(ctx, from, time.Minute, "an update line", func(s string) bool {
			_, ok := parseUpdate(line{text: s})
			return ok
		})
		if err != nil {
			return err
		}
		u, _ := parseUpdate(l)
		s := splitStages(u, t0, l.at)
		r.stages = append(r.stages, s)
		r.push = append(r.push, s.detect+s.quiet+s.plan)
		r.applied = append(r.applied, l.at.Sub(t0))
		time.Sleep(e.o.gap)
	}
	return nil
}

// bigtreeIdle is how long `up`'s idle CPU is measured on the big tree (30 s keeps `make bench` under half
// an hour; CPU is counted in clock ticks of 10 ms, so 0.1 % of a core is 3 ticks).
const bigtreeIdle = 30 * time.Second

// pollWrites is how many single-file writes are timed under --poll.
const pollWrites = 5

// cpuTicks returns the user+system CPU time of a process in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// fields after the command name (which may hold spaces) start after the last ')'
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	return u + s, nil
}

// rssMB returns a process's resident set size in MB (2^20 bytes).
func rssMB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
