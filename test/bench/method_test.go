package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestInterleave(t *testing.T) {
	counts := []int{30, 30, 10, 0, 5}
	a := interleave(counts, 42)
	got := make([]int, len(counts))
	for _, k := range a {
		got[k]++
	}
	if !slices.Equal(got, counts) {
		t.Fatalf("counts %v, want %v", got, counts)
	}
	if b := interleave(counts, 42); !slices.Equal(a, b) {
		t.Fatal("the same seed gave another order")
	}
	if c := interleave(counts, 43); slices.Equal(a, c) {
		t.Fatal("another seed gave the same order")
	}
	// interleaved, not in blocks: the first 30 edits are not all one contender's
	first := map[int]bool{}
	for _, k := range a[:30] {
		first[k] = true
	}
	if len(first) < 3 {
		t.Fatalf("the first 30 edits come from %d contender(s): not interleaved", len(first))
	}
}

func ms(v ...int) []time.Duration {
	var out []time.Duration
	for _, x := range v {
		out = append(out, time.Duration(x)*time.Millisecond)
	}
	return out
}

func TestThirdsSpread(t *testing.T) {
	lo, hi, ok := thirdsSpread(ms(10, 11, 12, 20, 21, 22, 30, 31, 32))
	if !ok || lo != 11*time.Millisecond || hi != 31*time.Millisecond {
		t.Fatalf("got %v %v %v", lo, hi, ok)
	}
	if _, _, ok := thirdsSpread(ms(1, 2)); ok {
		t.Fatal("a spread of two samples")
	}
}

func TestFmtP95(t *testing.T) {
	if got := fmtP95(ms(make([]int, 29)...)); got != "n<30" {
		t.Fatalf("29 samples: %q", got)
	}
	d := make([]int, 30)
	for i := range d {
		d[i] = i + 1
	}
	if got := fmtP95(ms(d...)); got != "29 ms" {
		t.Fatalf("30 samples: %q", got)
	}
}

func series(id string, v ...int) *result { return &result{id: id, title: id, lat: ms(v...)} }

func find(ts []target, prefix string) *target {
	for i := range ts {
		if strings.HasPrefix(ts[i].what, prefix) {
			return &ts[i]
		}
	}
	return nil
}

func TestTargets19(t *testing.T) {
	r := &report{
		latency: []*result{series(idSync, 14, 15, 16), series(idRestart, 26, 26, 26), series(idTilt, 300, 300, 300),
			series(idSyncQ200, 230, 230, 230), series(idSkaffold20, 12, 12, 12), series(idExecSync, 180)},
		remote: []*result{series(idSync, 50), series(idTilt, 400), series(idExecSync, 500)},
		fanout: []*result{series("fanout-1", 40), series("fanout-10", 81)},
	}
	ts := r.targets19()
	check := func(prefix string, known, met bool) {
		t.Helper()
		x := find(ts, prefix)
		if x == nil {
			t.Fatalf("no target %q", prefix)
		}
		if x.known != known || x.met != met {
			t.Errorf("%s: known %v met %v, want %v %v (%s)", x.what, x.known, x.met, known, met, x.measured)
		}
	}
	check("Sync-only edit -> served", true, true)
	check("Edit + process restart", true, false)
	check("10 replicas", true, false) // 2.03x
	check("Initial sync of the real-source corpus: ", false, false)
	check("`--poll`", false, false)
	check("Ahead of "+idTilt+" (as shipped)", true, true)
	if find(ts, "Ahead of "+idSkaffold20) != nil {
		t.Error("the matched-debounce Skaffold series is in the as-shipped rows")
	}
	check("Matched debounce: "+idSyncQ200+" ahead of "+idTilt, true, true)
	check("Matched debounce: "+idSync+" ahead of "+idSkaffold20, true, false)
	// remote: Tilt 20x local -> 8x remote: the ratio shrinks, so missed even though the gap in ms grows
	check("Simulated remote: the ratio to "+idTilt, true, false)
	check("Simulated remote: the ratio to "+idExecSync, true, false) // 12x -> 10x
}

func TestPollTarget(t *testing.T) {
	for _, c := range []struct {
		cpu    float64
		period time.Duration
		push   int
		met    bool
	}{
		{4.8, 0, 900, true},
		{6.5, 0, 900, false},
		{4.8, 0, 1200, false},
		{4.8, 15 * time.Second, 15800, true},
		{4.8, 15 * time.Second, 16200, false},
	} {
		r := &report{bigtree: []*treeResult{{mode: "fsnotify"}, {mode: "--poll", cpuPercent: c.cpu, pollPeriod: c.period, push: ms(c.push)}}}
		if got := r.pollTarget(); !got.known || got.met != c.met {
			t.Errorf("%+v: %+v", c, got)
		}
	}
}

func TestInitialTarget(t *testing.T) {
	rs := []*initResult{{id: "fastdev", bytes: 100e6, runs: ms(1000)}, {id: "kubectl-cp", bytes: 100e6, runs: ms(2100)}}
	if x := initialTarget("x", rs, 2); !x.met || !x.known {
		t.Fatalf("2.1x against 2: %+v", x)
	}
	if x := initialTarget("x", rs, 3); x.met {
		t.Fatalf("2.1x against 3: %+v", x)
	}
}

func TestParseStatAndTree(t *testing.T) {
	st, err := parseStat([]byte("12 (a b) S 1 12 12 0 -1 4194560 100 0 0 0 150 50 7 3 20 0 1 0 100 1000 25 0"))
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != 1 || st.cpu != 2*time.Second || st.childrenCPU != 100*time.Millisecond {
		t.Fatalf("%+v", st)
	}
	ps := map[int]procStat{
		10: {ppid: 1, cpu: time.Second, rssBytes: 100},
		11: {ppid: 10, cpu: time.Second, childrenCPU: time.Second, rssBytes: 10},
		12: {ppid: 11, cpu: time.Second, rssBytes: 1},
		20: {ppid: 1, cpu: time.Hour, rssBytes: 1000}, // not in the tree
	}
	cpu, rss := treeUsage(ps, 10)
	if cpu != 4*time.Second || rss != 111 {
		t.Fatalf("cpu %v rss %d", cpu, rss)
	}
}

func TestSumCounterAndNet(t *testing.T) {
	raw := []byte(`# HELP apiserver_request_total x
apiserver_request_total{code="200",verb="GET"} 10
apiserver_request_total{code="201",verb="POST"} 2.5e+01
apiserver_request_duration_seconds_count{verb="GET"} 99
`)
	if got := sumCounter(raw, "apiserver_request_total{"); got != 35 {
		t.Fatalf("sum %v", got)
	}
	t0 := time.Now()
	before := apiMark{total: 100, own: 5, at: t0, ok: true}
	now := apiMark{total: 130, own: 15, at: t0.Add(2 * time.Second), ok: true}
	if got := netRequests(before, now, 5); got != 10 { // 30 - 10 own - 2 s * 5/s
		t.Fatalf("net %v", got)
	}
	if got := netRequests(before, now, 50); got != 0 {
		t.Fatalf("never below zero: %v", got)
	}
}

// TestReportRenders renders a report with every section, failed and partial series, and the charts:
// the end of a half-hour run must not be lost to a panic in the rendering.
func TestReportRenders(t *testing.T) {
	full := func(id string) *result {
		x := series(id, 10, 20, 30, 40)
		x.stages = []stages{{quiet: 20 * time.Millisecond}, {}, {}, {}}
		x.debounced = ms(1, 2, 3, 4)
		x.usage = &usage{window: time.Minute, localCPU: time.Second, podCPU: time.Second, synclet: true}
		x.api = []float64{1, 2}
		x.treeChecked = true
		return x
	}
	failed := series(idTilt)
	failed.err = errTest
	partial := series(idExecSync, 100, 200)
	partial.err = errTest
	r := &report{
		started: time.Now(), finished: time.Now(),
		latency:       []*result{full(idSync), full(idRestart), full(idSyncQ200), failed, partial, full(idSkaffold20)},
		remote:        []*result{full(idSync), full(idExecSync)},
		fanout:        []*result{full("fanout-1"), full("fanout-10")},
		initial:       []*initResult{{id: "fastdev", title: "fd", files: 1, bytes: 1e6, runs: ms(10)}, {id: "kubectl-cp", title: "cp", err: errTest}},
		floor:         &initResult{id: "floor", best: true, bytes: 1e6, runs: ms(5, 9)},
		remoteInitial: []*initResult{},
		bigtree:       []*treeResult{{mode: "fsnotify", push: ms(20)}, {mode: "--poll", err: errTest}},
		remoteNote:    "x", remoteProbe: "y",
		provenance: [][2]string{{"a", "b"}}, seeds: []string{"latency: 1"}, times: [][2]string{{"latency", "1m"}},
		problems: []string{"p|q"},
	}
	charts, err := writeCharts(r, t.TempDir())
	if err != nil || len(charts) != 2 {
		t.Fatalf("charts %v: %v", charts, err)
	}
	md := r.markdown(options{edits: 4, quick: true}, charts)
	for _, want := range []string{"n<30", "stopped by a failure", "BENCH=quick", "equal for", "## 6.", "floor", "**not met**"} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

var errTest = fmt.Errorf("test failure")

func TestRescannedPeriod(t *testing.T) {
	// the warning pkg/watch prints for a big tree under --poll
	msg := "polling /tmp/tree: one pass over its 101100 entries takes 752ms, so it is rescanned every 15.1s to keep `up` near 5% of a core; file events (without --poll) see edits at once, or set --poll-interval"
	m := rescanned.FindStringSubmatch(msg)
	if m == nil {
		t.Fatal("no period found")
	}
	if d, err := time.ParseDuration(m[1]); err != nil || d != 15100*time.Millisecond {
		t.Fatalf("period %q: %v %v", m[1], d, err)
	}
}
