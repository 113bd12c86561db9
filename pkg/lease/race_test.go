package lease

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
)

// TestRace: 20 `up`s (20 processes) that all read the free lease before any writes it: exactly one
// wins, the others are refused naming it; 20 rounds, and again for a lease an `up` left expired.
func TestRace(t *testing.T) {
	const racers = 20
	for round := range 20 {
		s := newFakeStore()
		if round%2 == 1 {
			s.holders["web"] = kube.Holder{Identity: "gone/1/x", Renewed: time.Now().Add(-time.Hour), Duration: Duration, Version: "old"}
		}
		// every racer's first look and then its claim's read wait for all the others' (two barriers),
		// so all of them write having read the same lease
		var barrier [2]sync.WaitGroup
		barrier[0].Add(racers)
		barrier[1].Add(racers)
		var mu sync.Mutex
		reads := 0
		s.afterGet = func() {
			mu.Lock()
			n := reads
			reads++
			mu.Unlock()
			if b := n / racers; b < len(barrier) {
				barrier[b].Done()
				barrier[b].Wait()
			}
		}
		wins := make(chan *Claim, racers)
		held := make(chan string, racers)
		var all sync.WaitGroup
		for i := range racers {
			all.Add(1)
			go func() {
				defer all.Done()
				var w warnings
				o := opts(&w)
				o.PID, o.Alive = 1000+i, func(int) bool { return true }
				c, err := Acquire(context.Background(), s, []string{"web"}, o)
				var he *HeldError
				switch {
				case err == nil:
					wins <- c
				case errors.As(err, &he):
					held <- he.Holder.Identity
				default:
					t.Errorf("racer %d: %v", i, err)
				}
			}()
		}
		all.Wait()
		close(wins)
		close(held)
		if len(wins) != 1 {
			t.Fatalf("round %d: %d winners, want exactly one", round, len(wins))
		}
		winner := <-wins
		for h := range held {
			if h != winner.Identity() {
				t.Errorf("round %d: refused naming %q, the winner is %q", round, h, winner.Identity())
			}
		}
		if h, _ := s.holder("web"); h.Identity != winner.Identity() {
			t.Errorf("round %d: the lease names %q, the winner is %q", round, h.Identity, winner.Identity())
		}
		release(t, winner)
	}
}

// TestLiveHolder: down asks about a lease a live `up` holds, not about a free, expired or dead local one.
func TestLiveHolder(t *testing.T) {
	s := newFakeStore()
	var w warnings
	cases := []struct {
		name, holder string
		age          time.Duration
		live         bool
	}{
		{"free", "", 0, false},
		{"live elsewhere", "elsewhere/7/x", 0, true},
		{"live here", "here/200/y", 0, true},
		{"dead here", "here/300/z", 0, false},
		{"expired", "elsewhere/7/x", time.Hour, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			delete(s.holders, "web")
			if c.holder != "" {
				s.holders["web"] = kube.Holder{Identity: c.holder, Renewed: time.Now().Add(-c.age), Duration: Duration}
			}
			h, err := LiveHolder(context.Background(), s, "web", opts(&w))
			if err != nil || (h != nil) != c.live || (h != nil && h.Identity != c.holder) {
				t.Errorf("LiveHolder: %+v, %v; want live %v", h, err, c.live)
			}
		})
	}
}
