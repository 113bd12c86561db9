package watch

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

// The settle tests use a long settle time and a longer quiet window, so that a busy machine's
// scheduling pauses neither split one save nor let a batch wait past the window by accident.
const (
	testSettle = 50 * time.Millisecond
	testQuiet  = 1500 * time.Millisecond
)

// next returns the next batch, failing the test after timeout.
func (h *harness) next() Batch {
	h.t.Helper()
	select {
	case b, ok := <-h.w.Batches():
		if !ok {
			h.t.Fatal("Batches closed")
		}
		checkBatch(h.t, b)
		return b
	case <-time.After(timeout):
		h.t.Fatalf("no batch after %s", timeout)
	}
	return Batch{}
}

// receive takes batches as soon as they are offered (a batch not yet received keeps growing) until
// the test ends, and passes them on.
func (h *harness) receive() <-chan Batch {
	out := make(chan Batch, 1000)
	go func() {
		for b := range h.w.Batches() {
			out <- b
		}
	}()
	return out
}

// batchesUntil returns the batches from got until every path in want was seen.
func batchesUntil(t *testing.T, got <-chan Batch, want []string) []Batch {
	t.Helper()
	seen := map[string]bool{}
	var bs []Batch
	for slices.ContainsFunc(want, func(f string) bool { return !seen[f] }) {
		select {
		case b := <-got:
			checkBatch(t, b)
			bs = append(bs, b)
			for _, p := range b.Paths {
				seen[p] = true
			}
		case <-time.After(timeout):
			t.Fatalf("after %s still missing some of %v", timeout, want)
		}
	}
	return bs
}

func startSettling(t *testing.T, poll bool, settle time.Duration) *harness {
	return start(t, t.TempDir(), Options{Poll: poll, Quiet: testQuiet, Settle: settle},
		func(w *Watcher) { w.maxDelay = time.Hour })
}

// TestSettleLoneWrite: a lone write leaves after the settle time, long before the quiet window;
// with settling off it waits the whole window.
func TestSettleLoneWrite(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			h := startSettling(t, mode.poll, testSettle)
			for i := range 2 { // the second write, a while later, settles too
				write(t, h.root, "index.html", fmt.Sprint("v", i))
				b := h.next()
				if !slices.Equal(b.Paths, []string{"index.html"}) {
					t.Errorf("write %d: batch %v, want [index.html]", i+1, b.Paths)
				}
				if took := b.Flushed.Sub(b.First); took >= testQuiet {
					t.Errorf("write %d: flushed %s after its first event, want the settle time (%s), not the quiet window (%s)", i+1, took, testSettle, testQuiet)
				}
				time.Sleep(testQuiet + 100*time.Millisecond)
			}
		})
		t.Run(mode.name+"/off", func(t *testing.T) {
			h := startSettling(t, mode.poll, 0)
			write(t, h.root, "index.html", "v")
			if b := h.next(); b.Flushed.Sub(b.First) < testQuiet {
				t.Errorf("flushed %s after its first event with settling off, want the quiet window %s", b.Flushed.Sub(b.First), testQuiet)
			}
		})
	}
}

// TestSettleAtomicSave: an editor's save through a temp file (write it, rename it over the file,
// chmod) is one batch, and it settles.
func TestSettleAtomicSave(t *testing.T) {
	h := startSettling(t, false, testSettle)
	write(t, h.root, "main.go.tmp", "package main")
	must(t, os.Rename(path(h.root, "main.go.tmp"), path(h.root, "main.go")))
	must(t, os.Chmod(path(h.root, "main.go"), 0o600))
	b := h.next()
	if !slices.Equal(b.Paths, []string{"main.go", "main.go.tmp"}) {
		t.Errorf("batch %v, want [main.go main.go.tmp] in one batch", b.Paths)
	}
	if took := b.Flushed.Sub(b.First); took >= testQuiet {
		t.Errorf("flushed %s after its first event, want the settle time, not the quiet window", took)
	}
}

// TestSettleBurst: many files written with pauses longer than the settle time between them (as a
// branch switch on a busy machine) leave in at most two batches: the first few files may settle,
// the rest joins one batch that waits the quiet window.
func TestSettleBurst(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			h := startSettling(t, mode.poll, testSettle)
			got := h.receive()
			var want []string
			for i := range 60 {
				f := fmt.Sprintf("src/f%02d.go", i)
				write(t, h.root, f, "package src")
				want = append(want, f)
				if i%6 == 1 {
					time.Sleep(testSettle + 30*time.Millisecond)
				}
			}
			if bs := batchesUntil(t, got, want); len(bs) > 2 {
				t.Errorf("a burst of %d files took %d batches, want at most 2", len(want), len(bs))
			}
		})
	}
}

// TestSettleBurstOneBatch: a burst whose first files come together stops settling once it has more
// paths than a save touches, so a pause after them no longer splits it.
func TestSettleBurstOneBatch(t *testing.T) {
	h := startSettling(t, false, testSettle)
	got := h.receive()
	var want []string
	for i := range 20 {
		f := fmt.Sprintf("f%02d.txt", i)
		write(t, h.root, f, "x")
		want = append(want, f)
		if i == 9 {
			time.Sleep(testSettle + 30*time.Millisecond)
		}
	}
	if bs := batchesUntil(t, got, want); len(bs) != 1 {
		t.Errorf("a burst of %d files took %d batches, want 1", len(want), len(bs))
	}
}

// TestSettlePollTick: a polling tick that finds many changes after a quiet tree leaves at once: it
// is a complete scan, and the next one comes only at the next tick.
func TestSettlePollTick(t *testing.T) {
	h := startSettling(t, true, testSettle)
	outside := t.TempDir()
	for i := range 20 {
		write(t, outside, fmt.Sprintf("gen/f%02d.txt", i), "x")
	}
	must(t, os.Rename(path(outside, "gen"), path(h.root, "gen"))) // all at once: one tick sees them
	b := h.next()
	if len(b.Paths) != 21 {
		t.Errorf("batch %v, want gen and its 20 files", b.Paths)
	}
	if took := b.Flushed.Sub(b.First); took >= testQuiet {
		t.Errorf("a tick's %d changes were flushed %s after the first, want the settle time", len(b.Paths), took)
	}
}

func TestNewNegativeSettle(t *testing.T) {
	if _, err := New(t.TempDir(), Options{Settle: -time.Millisecond}); err == nil {
		t.Error("New with a negative settle time succeeded, want an error")
	}
}
