package forward

import (
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestRoundRobin: connections go to the ready pods in turn; a pod that is not ready gets none.
func TestRoundRobin(t *testing.T) {
	h := start(t, time.Second)
	h.pods.set("web-a", true, false)
	h.pods.set("web-b", true, false)
	h.pods.set("web-c", false, false)
	var got []string
	for range 4 {
		got = append(got, h.get())
	}
	want := []string{"web-a:8080", "web-b:8080", "web-a:8080", "web-b:8080"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("answers %v, want %v", got, want)
	}
	if n := h.report.count("forwarding web http://127.0.0.1:18080 8080"); n != 1 {
		t.Errorf("forward reported %d times, want once: %v", n, h.report.lines)
	}
}

// TestRefusedFailsOneConnection: a pod refusing (its app restarting) fails that connection only:
// the listener stays, the next connection succeeds, and the streak is reported once.
func TestRefusedFailsOneConnection(t *testing.T) {
	h := start(t, time.Second)
	h.pods.set("web-a", true, false)
	h.dial.set(map[string]bool{"web-a": true})
	for range 3 {
		if got := h.get(); got != "" {
			t.Fatalf("a refused connection answered %q", got)
		}
	}
	h.dial.set(nil)
	if got := h.get(); got != "web-a:8080" {
		t.Fatalf("after the restart: %q, want web-a:8080", got)
	}
	if n := h.report.eventually("warn web: forward http://127.0.0.1:18080 -> port 8080: pod web-a: connection refused", 1); n != 1 {
		t.Errorf("%d refusal warnings, want 1: %v", n, h.report.lines)
	}
	if n := h.report.eventually("info web: forward http://127.0.0.1:18080 -> port 8080: connections reach pod web-a again", 1); n != 1 {
		t.Errorf("%d recovery notes, want 1: %v", n, h.report.lines)
	}
}

// TestDialFailureFailsOneConnection: a port-forward that cannot be made fails that connection only.
func TestDialFailureFailsOneConnection(t *testing.T) {
	h := start(t, time.Second)
	h.pods.set("web-a", true, false)
	h.dial.mu.Lock()
	h.dial.dialFail = map[string]bool{"web-a": true}
	h.dial.mu.Unlock()
	if got := h.get(); got != "" {
		t.Fatalf("a failed dial answered %q", got)
	}
	h.dial.mu.Lock()
	h.dial.dialFail = nil
	h.dial.mu.Unlock()
	if got := h.get(); got != "web-a:8080" {
		t.Fatalf("next connection: %q", got)
	}
}

// TestReplacedPodIsFollowed: a deleted pod gets no connection (and its port-forward is released); a
// connection arriving while no pod is ready waits for the replacement.
func TestReplacedPodIsFollowed(t *testing.T) {
	h := start(t, 5*time.Second)
	h.pods.set("web-old", true, false)
	if got := h.get(); got != "web-old:8080" {
		t.Fatalf("before: %q", got)
	}
	h.pods.set("web-old", true, true)
	answer := make(chan string, 1)
	go func() { answer <- h.get() }()
	time.Sleep(100 * time.Millisecond) // the connection is waiting for a ready pod
	h.pods.set("web-new", false, false)
	h.pods.set("web-new", true, false)
	if got := <-answer; got != "web-new:8080" {
		t.Fatalf("a connection made while no pod was ready: %q, want web-new:8080", got)
	}
	h.dial.mu.Lock()
	defer h.dial.mu.Unlock()
	if !reflect.DeepEqual(h.dial.forgot, []string{"web-old"}) {
		t.Errorf("forgotten pods %v, want [web-old]", h.dial.forgot)
	}
	for _, p := range h.dial.dialed {
		if p == "web-new" {
			return
		}
	}
	t.Errorf("web-new never dialed: %v", h.dial.dialed)
}

// TestNoReadyPod: with no ready pod, a connection is closed after the wait, and that is said.
func TestNoReadyPod(t *testing.T) {
	h := start(t, 100*time.Millisecond)
	h.pods.set("web-a", false, false)
	if got := h.get(); got != "" {
		t.Fatalf("answered %q with no ready pod", got)
	}
	if n := h.report.eventually("warn web: forward http://127.0.0.1:18080 -> port 8080: no pod ready for 100ms", 1); n != 1 {
		t.Errorf("warnings: %v", h.report.lines)
	}
}

// TestCloseEndsListenersAndConnections: when up ends, the listener is closed and so is a
// connection still waiting.
func TestCloseEndsListenersAndConnections(t *testing.T) {
	h := start(t, time.Minute)
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(50 * time.Millisecond) // accepted, waiting for a ready pod
	h.stop()
	if err := c.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Errorf("the waiting connection was not closed: %v", err)
	}
	if c2, err := net.Dial("tcp", h.addr); err == nil {
		c2.Close()
		t.Error("the listener still accepts after Run ended")
	}
}
