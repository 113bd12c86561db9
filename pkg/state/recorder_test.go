package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingWriter counts the writes of each Deployment and keeps a copy of the last one.
type recordingWriter struct {
	mu     sync.Mutex
	writes map[string]int
	last   map[string]Record
	err    error
}

var _ writer = (*recordingWriter)(nil)

func newRecordingWriter() *recordingWriter {
	return &recordingWriter{writes: map[string]int{}, last: map[string]Record{}}
}

func (w *recordingWriter) Write(d *Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes[d.Name]++
	c := *d
	c.Pods = map[string]*PodRecord{}
	for k, p := range d.Pods {
		pc := *p
		c.Pods[k] = &pc
	}
	c.Forwards = append([]ForwardRecord(nil), d.Forwards...)
	w.last[d.Name] = c
	return w.err
}

func (w *recordingWriter) count(name string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes[name]
}

func (w *recordingWriter) record(name string) Record {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last[name]
}

// waitFor polls cond until it holds or the (generous, busy-machine) deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRecorderThrottles: several changes inside the window give one write per Deployment, and that
// write carries the last of them.
func TestRecorderThrottles(t *testing.T) {
	w := newRecordingWriter()
	r := newRecorder(w, "https://api", "dev", []string{"web", "api"}, 42, nil)
	r.every = 200 * time.Millisecond
	if w.count("web") != 1 || w.count("api") != 1 {
		t.Fatalf("initial writes: %v", w.writes)
	}
	start := time.Now()
	r.PodState("web", "web-a", true, nil)
	r.Synced("web", "web-a", 3, 40*time.Millisecond, "")
	r.Synced("web", "web-b", 1, 0, "boom")
	r.PodState("api", "api-a", true, nil)
	r.Synced("other", "x", 1, 0, "") // not served by this process: ignored
	waitFor(t, "a write of web and api", func() bool { return w.count("web") == 2 && w.count("api") == 2 })
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("written after %s, before the window", waited)
	}
	time.Sleep(3 * r.every)
	if w.count("web") != 2 || w.count("api") != 2 || w.count("other") != 0 {
		t.Errorf("writes %v, want one more each for web and api", w.writes)
	}
	got := w.record("web")
	if a := got.Pods["web-a"]; a == nil || !a.Connected || a.LastFiles != 3 || a.LastLatencyMs != 40 || got.PID != 42 {
		t.Errorf("web-a: %+v (record %+v)", a, got)
	}
	if b := got.Pods["web-b"]; b == nil || b.LastError != "boom" {
		t.Errorf("web-b: %+v", b)
	}
	r.PodGone("web", "web-b")
	waitFor(t, "the write after PodGone", func() bool { return w.count("web") == 3 })
	if _, ok := w.record("web").Pods["web-b"]; ok {
		t.Error("web-b still recorded after PodGone")
	}
	r.Stop()
}

// TestRecorderWritesWithinWindow: a single change is written within the window, not held back until
// another arrives.
func TestRecorderWritesWithinWindow(t *testing.T) {
	w := newRecordingWriter()
	r := newRecorder(w, "", "dev", []string{"web"}, 1, nil)
	defer r.Stop()
	start := time.Now()
	r.PodState("web", "web-a", true, nil)
	waitFor(t, "the write", func() bool { return w.count("web") == 2 })
	// the window is RecordEvery; a busy machine may add some delay to the timer, not seconds
	if took := time.Since(start); took > RecordEvery+2*time.Second {
		t.Errorf("written after %s, window %s", took, RecordEvery)
	}
}

// TestRecorderStop: Stop writes every record at once as not served, and nothing is written after it.
func TestRecorderStop(t *testing.T) {
	w := newRecordingWriter()
	r := newRecorder(w, "", "dev", []string{"web"}, 42, nil)
	r.every = 50 * time.Millisecond
	r.PodState("web", "web-a", true, nil)
	r.Stop()
	if w.count("web") != 2 {
		t.Fatalf("writes after Stop: %d, want 2 (initial and stop)", w.count("web"))
	}
	got := w.record("web")
	if got.PID != 0 || got.Pods["web-a"] == nil || got.Pods["web-a"].Connected {
		t.Errorf("record after Stop: %+v pods %+v", got, got.Pods["web-a"])
	}
	if got.Live() {
		t.Error("a stopped record is live")
	}
	r.PodState("web", "web-a", true, nil)
	time.Sleep(4 * r.every)
	if w.count("web") != 2 {
		t.Errorf("written after Stop: %d writes", w.count("web"))
	}
}

// TestRecorderForwards: each forward is recorded once, and a stopped record shows none (they closed).
func TestRecorderForwards(t *testing.T) {
	w := newRecordingWriter()
	r := newRecorder(w, "", "dev", []string{"web"}, 42, nil)
	r.every = 10 * time.Millisecond
	r.Forwarding("web", "http://127.0.0.1:8080", 8080)
	r.Forwarding("web", "http://127.0.0.1:8080", 8080)
	r.Forwarding("web", "http://127.0.0.1:9090", 9000)
	r.Forwarding("other", "http://127.0.0.1:1", 1)
	want := []ForwardRecord{{URL: "http://127.0.0.1:8080", RemotePort: 8080}, {URL: "http://127.0.0.1:9090", RemotePort: 9000}}
	waitFor(t, "the forwards written", func() bool { return len(w.record("web").Forwards) == 2 })
	if got := w.record("web").Forwards; got[0] != want[0] || got[1] != want[1] {
		t.Errorf("forwards %+v, want %+v", got, want)
	}
	r.Stop()
	if got := w.record("web").Forwards; len(got) != 0 {
		t.Errorf("forwards after Stop: %+v", got)
	}
}

// TestRecorderWarnsOnce: failing writes are reported once, with what it means for `status`.
func TestRecorderWarnsOnce(t *testing.T) {
	w := newRecordingWriter()
	w.err = errors.New("no space left on device")
	var mu sync.Mutex
	var warns []string
	r := newRecorder(w, "", "dev", []string{"web", "api"}, 1, func(m string) {
		mu.Lock()
		defer mu.Unlock()
		warns = append(warns, m)
	})
	r.every = 20 * time.Millisecond
	r.PodState("web", "web-a", true, nil)
	waitFor(t, "a second write", func() bool { return w.count("web") == 2 })
	r.Synced("web", "web-a", 1, 0, "")
	waitFor(t, "a third write", func() bool { return w.count("web") == 3 })
	r.Stop()
	mu.Lock()
	defer mu.Unlock()
	if len(warns) != 1 || !strings.Contains(warns[0], "no space left on device") || !strings.Contains(warns[0], "`kubectl fastdev status` will be stale") {
		t.Errorf("warnings: %q, want one naming the error and the stale status", warns)
	}
}

// TestStoreWriteError: a Store that cannot create its directory says so, and the Recorder over it warns.
func TestStoreWriteError(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var warns []string
	r := NewRecorder(Store{Dir: filepath.Join(blocker, "state")}, "", "dev", []string{"web"}, 1, func(m string) { warns = append(warns, m) })
	r.Stop()
	if len(warns) != 1 || !strings.Contains(warns[0], "creating the state directory") {
		t.Errorf("warnings: %q", warns)
	}
}

// TestStoreRoundTrip: a written record reads back; a missing one is nil without error.
func TestStoreRoundTrip(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	rec := &Record{Server: "https://api", Namespace: "dev", Name: "web", PID: os.Getpid(), Pods: map[string]*PodRecord{"web-a": {Connected: true, LastFiles: 2}}}
	if err := s.Write(rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.Read("https://api", "dev", "web")
	if err != nil || got == nil || got.Pods["web-a"].LastFiles != 2 || !got.Live() {
		t.Fatalf("Read: %+v, %v", got, err)
	}
	if got, err := s.Read("https://other", "dev", "web"); got != nil || err != nil {
		t.Errorf("Read of a missing record: %+v, %v", got, err)
	}
}
