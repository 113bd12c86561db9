package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"
)

// The method (issue 19): every contender of a measure is set up on its own copy of the app, in its own
// namespace, and all of them run at once; then their edits are made one at a time in a random order
// (seeded; the seed is printed and written into the report), so drift of the shared machine and the
// background load of every tool hit every contender alike.

// session is one contender set up and ready for edits: its app serving, its tool (if any) running.
type session struct {
	r       *result
	edit    editFunc
	after   afterFunc // may be nil
	pr      *prober
	pods    int
	timeout time.Duration
	edits   int // how many edits it gets in the interleaved series

	ns, selector string
	local        *proc                     // the tool's long-running local process (nil: none)
	usage        *usage                    // resources during the series
	closers      []func()                  // run in reverse by close
	mu           sync.Mutex                // guards usage's per-edit local processes
	failed       bool                      // an edit failed: its remaining edits are skipped
	apiPerEdit   []float64                 // API server requests of each edit's window, net of the bench's and the idle rate
	debounce     func(i int) time.Duration // the tool's debounce in edit i (for detect -> served); nil: none
	// the tree each pod must hold at the end of the series: the local dir, under dest in container
	treeDir, treeDest, treeContainer string
}

// checkTrees compares, after the series, each session's pods' tree with its local tree (treecheck.go).
func (e *env) checkTrees(ctx context.Context, rep *report, what string, ss []*session) {
	for _, s := range ss {
		if s.treeDir == "" || len(s.r.lat) == 0 || ctx.Err() != nil {
			continue
		}
		s.r.treeChecked = true
		d, err := e.checkPodTree(ctx, s.ns, s.selector, s.treeContainer, s.treeDir, s.treeDest, nil, nil)
		if err != nil {
			d = "not checked: " + err.Error()
		}
		s.r.tree = d
		if d != "" {
			rep.problems = append(rep.problems, fmt.Sprintf("%s: %s: the pod's tree differs from the local one at the end: %s", what, s.r.title, d))
		}
	}
}

// onClose registers f to run when the session closes (in reverse order of registration).
func (s *session) onClose(f func()) { s.closers = append(s.closers, f) }

func (s *session) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// contender is one series of a measure: how to set it up.
type contender struct {
	id, title string
	edits     int
	setup     func(ctx context.Context, r *result) (*session, error)
}

// interleave returns the order in which the edits are made: index i appears counts[i] times, the whole
// sequence shuffled with the seed.
func interleave(counts []int, seed uint64) []int {
	var order []int
	for i, n := range counts {
		for range n {
			order = append(order, i)
		}
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
	return order
}

// setupAll sets the contenders up, at most three at a time (the machine has two cores); one that
// fails is reported and left out.
func (e *env) setupAll(ctx context.Context, rep *report, what string, cs []contender) ([]*result, []*session) {
	results := make([]*result, len(cs))
	sessions := make([]*session, len(cs))
	sem := make(chan struct{}, 3)
	var wg sync.WaitGroup
	for i, c := range cs {
		results[i] = &result{id: c.id, title: c.title}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				results[i].err = ctx.Err()
				return
			}
			e.logf("%s: setting up %s", what, c.title)
			s, err := c.setup(ctx, results[i])
			if err != nil {
				results[i].err = fmt.Errorf("setup: %w", err)
				return
			}
			s.r, s.edits = results[i], c.edits
			sessions[i] = s
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r.err != nil {
			rep.problems = append(rep.problems, fmt.Sprintf("%s: %s: %v", what, r.title, r.err))
			e.logf("FAILED %s: %v", r.title, r.err)
		}
	}
	return results, sessions
}

// interleaved runs one measure the issue-19 way: every contender set up at once, then all their edits
// in one seeded random order, with resources and API server requests tracked per contender.
func (e *env) interleaved(ctx context.Context, rep *report, what string, cs []contender) []*result {
	var sel []contender
	for _, c := range cs {
		if len(e.o.series) == 0 || e.o.series[c.id] {
			sel = append(sel, c)
		}
	}
	results, sessions := e.setupAll(ctx, rep, what, sel)
	defer func() {
		var wg sync.WaitGroup
		for _, s := range sessions {
			if s != nil {
				wg.Add(1)
				go func() { defer wg.Done(); s.close() }()
			}
		}
		wg.Wait()
	}()
	var live []*session
	var counts []int
	for _, s := range sessions {
		if s != nil {
			live = append(live, s)
			counts = append(counts, s.edits)
		}
	}
	if len(live) == 0 || ctx.Err() != nil {
		return results
	}
	seed := e.o.seed
	rep.seeds = append(rep.seeds, fmt.Sprintf("%s: %d", what, seed))
	order := interleave(counts, seed)
	e.logf("%s: %d contenders at once, %d edits in random order (seed %d)", what, len(live), len(order), seed)
	api := e.newAPICounter(ctx)
	idle := api.idleRate(ctx, e.o.idleWindow)
	tr := e.track(ctx, live)
	done := make([]int, len(live))
	for _, k := range order {
		if ctx.Err() != nil {
			break
		}
		s := live[k]
		if s.failed {
			continue
		}
		before := api.mark()
		err := e.oneEdit(ctx, s, done[k])
		done[k]++
		if err != nil {
			s.failed = true
			s.r.err = fmt.Errorf("edit %d: %w", done[k], err)
			rep.problems = append(rep.problems, fmt.Sprintf("%s: %s: %v", what, s.r.title, s.r.err))
			e.logf("FAILED %s: %v", s.r.title, s.r.err)
			continue
		}
		time.Sleep(e.o.gap)
		if n, ok := api.since(ctx, before, idle); ok {
			s.apiPerEdit = append(s.apiPerEdit, n)
		}
	}
	tr.stop(ctx)
	e.checkTrees(ctx, rep, what, live)
	for _, s := range live {
		s.r.usage = s.usage
		s.r.api = s.apiPerEdit
		if s.r.err == nil {
			e.logf("%s: %d edits, p50 %s", s.r.title, len(s.r.lat), fmtDur(percentile(s.r.lat, 50)))
		}
	}
	return results
}

// oneEdit makes the session's edit number i: write (and run the contender's pipeline) while the
// prober polls, timed from just before the write to the first GET answering the edit's marker.
func (e *env) oneEdit(ctx context.Context, s *session, i int) error {
	marker := fmt.Sprintf("edit-%d-%d", time.Now().UnixNano()%1_000_000, i)
	t0 := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- s.edit(ctx, marker) }()
	served, err := s.pr.wait(ctx, marker, s.pods, s.timeout)
	if eerr := <-errc; eerr != nil {
		return eerr
	}
	if err != nil {
		return err
	}
	s.r.lat = append(s.r.lat, served.Sub(t0))
	if e.o.verbose {
		e.logf("%s: edit %d served after %s", s.r.id, i+1, fmtDur(served.Sub(t0)))
	}
	if s.after != nil {
		if err := s.after(ctx, marker, t0, served); err != nil {
			return err
		}
	}
	if s.debounce != nil {
		s.r.debounced = append(s.r.debounced, served.Sub(t0)-s.debounce(len(s.r.lat)-1))
	}
	return nil
}

// runSeries runs one session alone for n edits (measures that are not interleaved, e.g. debug's
// reference series) and closes it.
func (e *env) runSeries(ctx context.Context, s *session, n int) error {
	defer s.close()
	for i := range n {
		if err := e.oneEdit(ctx, s, i); err != nil {
			return fmt.Errorf("edit %d: %w", i+1, err)
		}
		time.Sleep(e.o.gap)
	}
	e.logf("%s: %d edits, p50 %s", s.r.title, len(s.r.lat), fmtDur(percentile(s.r.lat, 50)))
	return nil
}

// thirdsSpread returns the lowest and highest of the medians of a series' three consecutive thirds
// (in the order the edits were made): how much the contender drifted during the interleaved run.
func thirdsSpread(ds []time.Duration) (lo, hi time.Duration, ok bool) {
	if len(ds) < 3 {
		return 0, 0, false
	}
	var meds []time.Duration
	for k := range 3 {
		meds = append(meds, percentile(ds[k*len(ds)/3:(k+1)*len(ds)/3], 50))
	}
	return slices.Min(meds), slices.Max(meds), true
}

// newSeed picks the run's seed when -seed is not given.
func newSeed() uint64 { return uint64(time.Now().UnixNano()) ^ uint64(os.Getpid())<<32 }
