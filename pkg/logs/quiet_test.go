package logs

import (
	"strings"
	"testing"
)

// TestQuietKeepsAPanicWaitingForItsGoroutines: a pause after a Go panic's first line (the kubelet
// passing the rest on later) does not split the panic into a bare message and a goroutine dump; a
// pause after a complete block still ends it.
func TestQuietKeepsAPanicWaitingForItsGoroutines(t *testing.T) {
	d := NewDetector()
	var out []Item
	feed := func(lines ...string) {
		for _, l := range lines {
			out = append(out, d.Feed(Line{Pod: "p", Container: "web", Text: l})...)
		}
	}
	feed("panic: fastdev e2e: boom", "")
	if q := d.Quiet(); len(q) != 0 || len(out) != 0 {
		t.Fatalf("a panic without its goroutines was ended by a quiet stream: %+v %+v", q, out)
	}
	feed("goroutine 31 [running]:", "main.crash()", "\t/app/src/main.go:74 +0x3b")
	out = append(out, d.Quiet()...)
	if len(out) != 1 || out[0].Type != TypeGoPanic || !strings.Contains(out[0].Text, "main.crash()") ||
		!strings.HasPrefix(out[0].Text, "panic: fastdev e2e: boom") {
		t.Fatalf("want one Go panic with its goroutine, got %+v", out)
	}

	// a bare panic line the stream never completes still shows at the stream's end, or once more lines
	// than a panic's message may hold have followed
	out = nil
	feed("panic: alone")
	out = append(out, d.Flush()...)
	if len(out) != 1 || out[0].Type != TypeGoPanic {
		t.Fatalf("a bare panic at the stream's end: %+v", out)
	}
	out = nil
	feed("panic: alone again")
	for range goMaxMessage + 1 {
		feed("listening on :8080")
	}
	if len(out) == 0 || out[0].Type != TypeGoPanic || out[0].Text != "panic: alone again" {
		t.Fatalf("a bare panic then plain lines: %+v", out)
	}
}
