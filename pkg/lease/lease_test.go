package lease

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/kube"
)

// fakeStore is the cluster's Leases in memory, with the API server's resourceVersion semantics (a
// create of an existing lease and an update of another version fail); it records every call.
type fakeStore struct {
	mu       sync.Mutex
	holders  map[string]kube.Holder
	version  int
	calls    []string
	getErr   error
	acqErr   error
	afterGet func() // called after each read, outside the lock (a race test's barrier)
}

var _ Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore { return &fakeStore{holders: map[string]kube.Holder{}} }

func (f *fakeStore) GetLease(_ context.Context, d string) (*kube.Holder, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "get "+d)
	h, ok := f.holders[d]
	err, after := f.getErr, f.afterGet
	f.mu.Unlock()
	if after != nil {
		after()
	}
	f.mu.Lock() // the deferred Unlock's
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	return &h, nil
}

func (f *fakeStore) PutLease(_ context.Context, d, identity string, dur time.Duration, read *kube.Holder) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "put "+d+" "+identity)
	if f.acqErr != nil {
		return f.acqErr
	}
	cur, ok := f.holders[d]
	if (read == nil && ok) || (read != nil && (!ok || cur.Version != read.Version)) {
		return kube.ErrLeaseChanged
	}
	f.put(d, identity, dur)
	return nil
}

// put records a holder under a new version; f.mu must be held.
func (f *fakeStore) put(d, identity string, dur time.Duration) {
	f.version++
	f.holders[d] = kube.Holder{Identity: identity, Renewed: time.Now(), Duration: dur, Version: fmt.Sprint(f.version)}
}

func (f *fakeStore) ReleaseLease(_ context.Context, d, identity string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "release "+d+" "+identity)
	if f.holders[d].Identity == identity {
		delete(f.holders, d)
	}
	return nil
}

// set makes another process the holder, renewed now.
func (f *fakeStore) set(d, identity string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.put(d, identity, Duration)
}

func (f *fakeStore) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func (f *fakeStore) holder(d string) (kube.Holder, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.holders[d]
	return h, ok
}

// warnings collects Warn calls.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) warn(m string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, m)
}

func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

// me is the identity opts gives this process.
const me = "here/100/n"

// opts names this process "here/100/n" and treats only pids 100 and 200 of this host as alive.
func opts(w *warnings) Options {
	return Options{Host: "here", PID: 100, Nonce: "n", Every: time.Hour, Warn: w.warn, Alive: func(pid int) bool { return pid == 100 || pid == 200 }}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestClaim: free and expired leases are taken for this process; Release gives them back.
func TestClaim(t *testing.T) {
	s := newFakeStore()
	s.holders["api"] = kube.Holder{Identity: "elsewhere/7/x", Renewed: time.Now().Add(-time.Minute), Duration: Duration, Version: "old"}
	var w warnings
	c, err := Acquire(context.Background(), s, []string{"web", "api"}, opts(&w))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"web", "api"} {
		if h, ok := s.holder(d); !ok || h.Identity != me || h.Duration != Duration {
			t.Errorf("%s: holder %+v", d, h)
		}
	}
	if c.Identity() != me {
		t.Errorf("identity %q", c.Identity())
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if len(s.holders) != 0 {
		t.Errorf("leases left after Release: %+v", s.holders)
	}
	if err := c.Release(); err != nil || s.count("release") != 2 {
		t.Errorf("a second Release: %v, %d releases", err, s.count("release"))
	}
	if len(w.all()) != 0 {
		t.Errorf("warnings: %q", w.all())
	}
}

// TestClaimRefused: a lease another live `up` holds is refused with its holder named, and nothing is
// claimed; --take-over claims it anyway.
func TestClaimRefused(t *testing.T) {
	for _, holder := range []string{"elsewhere/7/x", "here/200/y", "here/200"} {
		t.Run(holder, func(t *testing.T) {
			s := newFakeStore()
			s.set("api", holder)
			var w warnings
			_, err := Acquire(context.Background(), s, []string{"web", "api"}, opts(&w))
			var held *HeldError
			if !errors.As(err, &held) || held.Key != "api" || held.Holder.Identity != holder {
				t.Fatalf("err %v, want a HeldError for api held by %s", err, holder)
			}
			for _, want := range []string{`deployment "api"`, holder, "renewed 0s ago", "--take-over"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if n := s.count("put"); n != 0 {
				t.Errorf("%d leases acquired by a refused claim", n)
			}
			o := opts(&w)
			o.TakeOver = true
			c, err := Acquire(context.Background(), s, []string{"web", "api"}, o)
			if err != nil {
				t.Fatal(err)
			}
			defer release(t, c)
			if h, _ := s.holder("api"); h.Identity != me {
				t.Errorf("after --take-over: holder %q", h.Identity)
			}
		})
	}
}

// TestHeldNamesTheWorkload: the refusal names the workload of the lease as Options.Names says (a
// StatefulSet's lease key is "sts-NAME"), not the key taken for a Deployment.
func TestHeldNamesTheWorkload(t *testing.T) {
	s := newFakeStore()
	s.set("sts-db", "elsewhere/7/x")
	var w warnings
	o := opts(&w)
	o.Names = map[string]string{"sts-db": `statefulset "db"`, "web": `deployment "web"`}
	_, err := Acquire(context.Background(), s, []string{"web", "sts-db"}, o)
	var held *HeldError
	if !errors.As(err, &held) || held.Key != "sts-db" || !strings.HasPrefix(err.Error(), `statefulset "db" is served by another`) {
		t.Fatalf("err %v, want a HeldError naming statefulset \"db\"", err)
	}
}

// TestDeadLocalHolder: a holder on this host whose process is gone (an `up` killed with SIGKILL) is
// taken over at once, without waiting for the lease to expire.
func TestDeadLocalHolder(t *testing.T) {
	s := newFakeStore()
	s.set("web", "here/300/z")
	var w warnings
	c, err := Acquire(context.Background(), s, []string{"web"}, opts(&w))
	if err != nil {
		t.Fatalf("a dead local holder blocks the claim: %v", err)
	}
	defer release(t, c)
	if h, _ := s.holder("web"); h.Identity != me {
		t.Errorf("holder %q", h.Identity)
	}
	for _, identity := range []string{"here/x", "here", "/300", "there/300/z"} {
		s.set("api", identity)
		if _, err := Acquire(context.Background(), s, []string{"api"}, opts(&w)); err == nil {
			t.Errorf("holder %q taken for a dead local one", identity)
		}
	}
}

// TestRenew: the leases are renewed every period while held, and not after Release.
func TestRenew(t *testing.T) {
	s := newFakeStore()
	var w warnings
	o := opts(&w)
	o.Every = 5 * time.Millisecond
	c, err := Acquire(context.Background(), s, []string{"web", "api"}, o)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three renewals", func() bool { return s.count("put web") >= 4 && s.count("put api") >= 4 })
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	after := s.count("put")
	time.Sleep(10 * o.Every)
	if s.count("put") != after {
		t.Errorf("renewed after Release: %q", s.calls)
	}
	if _, ok := s.holder("web"); ok {
		t.Error("lease of web left after Release")
	}
	if len(w.all()) != 0 {
		t.Errorf("warnings: %q", w.all())
	}
}

// TestTakenOver: another `up` taking a lease over is noticed at the next renewal: a warning names it,
// TakenOver is called once, renewal stops, and Release leaves the other holder's lease alone.
func TestTakenOver(t *testing.T) {
	s := newFakeStore()
	var w warnings
	o := opts(&w)
	o.Every = 5 * time.Millisecond
	taken := make(chan struct{}, 10)
	o.TakenOver = func() { taken <- struct{}{} }
	c, err := Acquire(context.Background(), s, []string{"web"}, o)
	if err != nil {
		t.Fatal(err)
	}
	s.set("web", "elsewhere/7/x")
	select {
	case <-taken:
	case <-time.After(10 * time.Second):
		t.Fatal("take-over not noticed")
	}
	time.Sleep(10 * o.Every)
	if len(taken) != 0 {
		t.Errorf("TakenOver called %d more times", len(taken))
	}
	if h, _ := s.holder("web"); h.Identity != "elsewhere/7/x" {
		t.Errorf("the new holder's lease was overwritten: %q", h.Identity)
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if h, ok := s.holder("web"); !ok || h.Identity != "elsewhere/7/x" {
		t.Errorf("Release removed the new holder's lease: %+v", h)
	}
	msgs := w.all()
	if len(msgs) != 1 || msgs[0] != "deployment \"web\": taken over by another `kubectl fastdev up` (elsewhere/7/x); stopping" {
		t.Errorf("warnings: %q", msgs)
	}
}

// TestRenewError: a failed renewal is a warning, and renewal carries on.
func TestRenewError(t *testing.T) {
	s := newFakeStore()
	var w warnings
	o := opts(&w)
	o.Every = 5 * time.Millisecond
	c, err := Acquire(context.Background(), s, []string{"web"}, o)
	if err != nil {
		t.Fatal(err)
	}
	defer release(t, c)
	s.mu.Lock()
	s.acqErr = errors.New("connection refused")
	s.mu.Unlock()
	waitFor(t, "two warnings", func() bool { return len(w.all()) >= 2 })
	if msg := w.all()[0]; msg != "renewing the dev lease: connection refused" {
		t.Errorf("warning %q", msg)
	}
}

// TestClaimError: a lease that cannot be read is an error naming the Deployment, wrapping the cause.
func TestClaimError(t *testing.T) {
	s := newFakeStore()
	s.getErr = errors.New("not allowed to get leases")
	var w warnings
	_, err := Acquire(context.Background(), s, []string{"web"}, opts(&w))
	if !errors.Is(err, s.getErr) || !strings.Contains(err.Error(), `reading the dev lease of deployment "web"`) {
		t.Errorf("err %v", err)
	}
	if s.count("put") != 0 {
		t.Errorf("acquired after a failed read: %q", s.calls)
	}
}

// release ends a claim at the end of a test, failing it if the leases could not be released.
func release(t *testing.T, c *Claim) {
	t.Helper()
	if err := c.Release(); err != nil {
		t.Errorf("release: %v", err)
	}
}
