package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// usage is what one contender used during an interleaved edit series: CPU time and peak RSS of its
// local processes (the long-running tool's whole process tree, read from /proc, plus the commands the
// bench ran for it per edit), and of its in-pod part: every container of its app's pods, and, for
// kubectl-fastdev, the synclet container alone (cgroup v1 cpuacct and memory of the pod on this node).
type usage struct {
	window                   time.Duration
	localCPU                 time.Duration
	localPeakMB              float64
	podCPU, syncletCPU       time.Duration
	podPeakMB, syncletPeakMB float64
	synclet                  bool
}

// addLocal counts a per-edit local command (exec+tar's pipeline, a local go build) in the usage.
func (s *session) addLocal(ps *os.ProcessState) {
	if ps == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.usage == nil {
		s.usage = &usage{}
	}
	s.usage.localCPU += ps.UserTime() + ps.SystemTime()
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		s.usage.localPeakMB = max(s.usage.localPeakMB, float64(ru.Maxrss)/1024)
	}
}

// procStat is one process as /proc/PID/stat shows it.
type procStat struct {
	ppid             int
	cpu, childrenCPU time.Duration // utime+stime; cutime+cstime (waited-for descendants)
	rssBytes         int64
}

const clockTick = 100 // USER_HZ on Linux

// parseStat reads the fields of /proc/PID/stat the bench uses.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return procStat{}, fmt.Errorf("no command name")
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("%d fields", len(f))
	}
	n := func(k int) int64 { v, _ := strconv.ParseInt(f[k], 10, 64); return v }
	tick := func(v int64) time.Duration { return time.Duration(v) * time.Second / clockTick }
	return procStat{ppid: int(n(1)), cpu: tick(n(11) + n(12)), childrenCPU: tick(n(13) + n(14)),
		rssBytes: n(21) * int64(os.Getpagesize())}, nil
}

// processes reads every process's stat.
func processes() map[int]procStat {
	out := map[int]procStat{}
	ents, _ := os.ReadDir("/proc")
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		if st, err := parseStat(b); err == nil {
			out[pid] = st
		}
	}
	return out
}

// treeUsage returns the CPU time (its own and its waited-for descendants', so processes that
// ended count too) and the RSS of root's whole process tree.
func treeUsage(ps map[int]procStat, root int) (time.Duration, int64) {
	children := map[int][]int{}
	for pid, st := range ps {
		children[st.ppid] = append(children[st.ppid], pid)
	}
	var cpu time.Duration
	var rss int64
	seen := map[int]bool{}
	stack := []int{root}
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		st, ok := ps[pid]
		if !ok || seen[pid] {
			continue
		}
		seen[pid] = true
		cpu += st.cpu + st.childrenCPU
		rss += st.rssBytes
		stack = append(stack, children[pid]...)
	}
	return cpu, rss
}

// podCgroup is one pod's cgroup v1 directories on this node, and the synclet container's id.
type podCgroup struct {
	cpuDir, memDir string
	synclet        string // container id, "" when the pod has none
}

// cgroupOf finds a pod's cgroup directories (kubepods/[burstable|besteffort/]pod<uid>).
func cgroupOf(p corev1.Pod) (podCgroup, bool) {
	var pc podCgroup
	for _, q := range []string{"", "burstable", "besteffort"} {
		d := filepath.Join("/sys/fs/cgroup/cpuacct/kubepods", q, "pod"+string(p.UID))
		if _, err := os.Stat(d); err == nil {
			pc.cpuDir = d
			pc.memDir = filepath.Join("/sys/fs/cgroup/memory/kubepods", q, "pod"+string(p.UID))
			break
		}
	}
	// the synclet is a native sidecar (an init container that keeps running) where the cluster has them
	for _, c := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		if c.Name == "fastdev-synclet" && c.ContainerID != "" {
			_, pc.synclet, _ = strings.Cut(c.ContainerID, "://")
		}
	}
	return pc, pc.cpuDir != ""
}

func readInt(file string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v
}

// memRSS reads total_rss (anonymous memory, children included) of a cgroup's memory.stat.
func memRSS(dir string) int64 {
	b, err := os.ReadFile(filepath.Join(dir, "memory.stat"))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "total_rss "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// podReading is the CPU time of a pod's cgroup and of its synclet container.
type podReading struct{ pod, synclet time.Duration }

func (pc podCgroup) read() podReading {
	r := podReading{pod: time.Duration(readInt(filepath.Join(pc.cpuDir, "cpuacct.usage")))}
	if pc.synclet != "" {
		r.synclet = time.Duration(readInt(filepath.Join(pc.cpuDir, pc.synclet, "cpuacct.usage")))
	}
	return r
}

// tracker samples every session's resources while an interleaved series runs.
type tracker struct {
	e        *env
	sessions []*session
	start    time.Time
	first    []map[string]podReading // by session, by pod cgroup
	last     []map[string]podReading
	cgs      []map[string]podCgroup
	local0   []time.Duration
	stopc    chan struct{}
	done     chan struct{}
	mu       sync.Mutex
}

// track starts sampling (every 500 ms) the sessions' processes and pods.
func (e *env) track(ctx context.Context, ss []*session) *tracker {
	t := &tracker{e: e, sessions: ss, start: time.Now(), stopc: make(chan struct{}), done: make(chan struct{})}
	ps := processes()
	for _, s := range ss {
		s.mu.Lock()
		if s.usage == nil {
			s.usage = &usage{}
		}
		s.mu.Unlock()
		var cpu time.Duration
		if s.local != nil {
			cpu, _ = treeUsage(ps, s.local.pid())
		}
		t.local0 = append(t.local0, cpu)
		cgs := e.podCgroups(ctx, s)
		first := map[string]podReading{}
		for k, pc := range cgs {
			first[k] = pc.read()
			s.usage.synclet = s.usage.synclet || pc.synclet != ""
		}
		t.cgs, t.first, t.last = append(t.cgs, cgs), append(t.first, first), append(t.last, map[string]podReading{})
	}
	go t.loop()
	return t
}

// podCgroups returns the cgroups of the session's running pods, by directory.
func (e *env) podCgroups(ctx context.Context, s *session) map[string]podCgroup {
	out := map[string]podCgroup{}
	if s.ns == "" {
		return out
	}
	l, err := e.cs.CoreV1().Pods(s.ns).List(ctx, metav1.ListOptions{LabelSelector: s.selector})
	if err != nil {
		return out
	}
	for _, p := range l.Items {
		if pc, ok := cgroupOf(p); ok {
			out[pc.cpuDir] = pc
		}
	}
	return out
}

func (t *tracker) loop() {
	defer close(t.done)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		t.sample()
		select {
		case <-t.stopc:
			return
		case <-tick.C:
		}
	}
}

// sample records peaks and the last CPU reading of every pod cgroup still there.
func (t *tracker) sample() {
	ps := processes()
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, s := range t.sessions {
		s.mu.Lock()
		if s.local != nil {
			_, rss := treeUsage(ps, s.local.pid())
			s.usage.localPeakMB = max(s.usage.localPeakMB, float64(rss)/(1<<20))
		}
		var podMem int64
		for k, pc := range t.cgs[i] {
			if _, err := os.Stat(pc.cpuDir); err != nil {
				continue // the pod is gone: its last reading stands
			}
			t.last[i][k] = pc.read()
			podMem += memRSS(pc.memDir)
			if pc.synclet != "" {
				s.usage.syncletPeakMB = max(s.usage.syncletPeakMB, float64(memRSS(filepath.Join(pc.memDir, pc.synclet)))/(1<<20))
			}
		}
		s.usage.podPeakMB = max(s.usage.podPeakMB, float64(podMem)/(1<<20))
		s.mu.Unlock()
	}
}

// stop takes the last readings and sets every session's usage. Pods that appeared during the series
// (the vanilla pipeline's rollouts) count from zero.
func (t *tracker) stop(ctx context.Context) {
	close(t.stopc)
	<-t.done
	for i, s := range t.sessions {
		for k, pc := range t.e.podCgroups(ctx, s) {
			if _, ok := t.cgs[i][k]; !ok {
				t.cgs[i][k], t.first[i][k] = pc, podReading{}
			}
		}
	}
	t.sample()
	ps := processes()
	for i, s := range t.sessions {
		s.mu.Lock()
		u := s.usage
		u.window = time.Since(t.start)
		if s.local != nil {
			cpu, _ := treeUsage(ps, s.local.pid())
			u.localCPU += cpu - t.local0[i]
		}
		for k, l := range t.last[i] {
			f := t.first[i][k]
			u.podCPU += l.pod - f.pod
			u.syncletCPU += l.synclet - f.synclet
		}
		s.mu.Unlock()
	}
}

// apiCounter reads the API server's apiserver_request_total (summed over every label) from /metrics,
// so each edit's window can be charged with the requests made during it: less those the bench made
// itself (counted by its client's transport) and less the rate of all contenders idling.
type apiCounter struct {
	e    *env
	last apiMark
}

type apiMark struct {
	total float64
	own   int64
	at    time.Time
	ok    bool
}

// ownRequests counts the requests the bench's own clients send (the prober's pod lists, rollout
// checks, these scrapes).
var ownRequests atomic.Int64

// countingTransport wraps the bench's client transport to count its requests.
type countingTransport struct{ next http.RoundTripper }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ownRequests.Add(1)
	return c.next.RoundTrip(r)
}

func (e *env) newAPICounter(ctx context.Context) *apiCounter {
	a := &apiCounter{e: e}
	a.last = a.scrape(ctx)
	return a
}

func (a *apiCounter) scrape(ctx context.Context) apiMark {
	raw, err := a.e.cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	m := apiMark{own: ownRequests.Load(), at: time.Now()}
	if err != nil {
		return m
	}
	m.total, m.ok = sumCounter(raw, "apiserver_request_total{"), true
	return m
}

// sumCounter adds up every sample of a metric in Prometheus text format.
func sumCounter(raw []byte, prefix string) float64 {
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, prefix) {
			continue
		}
		if i := strings.LastIndexByte(l, ' '); i > 0 {
			v, err := strconv.ParseFloat(l[i+1:], 64)
			if err == nil {
				sum += v
			}
		}
	}
	return sum
}

// mark is the reading an edit's window starts from (the previous window's end).
func (a *apiCounter) mark() apiMark { return a.last }

// since returns the requests made since before, net of the bench's own and of idle (per second).
func (a *apiCounter) since(ctx context.Context, before apiMark, idle float64) (float64, bool) {
	now := a.scrape(ctx)
	a.last = now
	if !before.ok || !now.ok {
		return 0, false
	}
	return netRequests(before, now, idle), true
}

// netRequests is the API server's count between two readings, less the bench's own requests and
// the idle rate over the window (never below zero).
func netRequests(before, now apiMark, idle float64) float64 {
	n := (now.total - before.total) - float64(now.own-before.own) - idle*now.at.Sub(before.at).Seconds()
	return max(0, n)
}

// idleRate measures the requests per second while every contender is up and nothing is edited.
func (a *apiCounter) idleRate(ctx context.Context, window time.Duration) float64 {
	before := a.scrape(ctx)
	select {
	case <-ctx.Done():
	case <-time.After(window):
	}
	now := a.scrape(ctx)
	a.last = now
	if !before.ok || !now.ok {
		return 0
	}
	return netRequests(before, now, 0) / now.at.Sub(before.at).Seconds()
}
