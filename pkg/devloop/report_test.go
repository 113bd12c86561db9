package devloop

import (
	"strings"
	"testing"
)

// TestLineReporterForwarding: a forward is one plain line naming its URL, on the diagnostics stream
// with the other information lines (results alone go to Out).
func TestLineReporterForwarding(t *testing.T) {
	var out, errOut strings.Builder
	r := &LineReporter{Out: &out, ErrOut: &errOut}
	r.Forwarding("web", "http://127.0.0.1:18080", 8080)
	if want := "web: forwarding http://127.0.0.1:18080 -> port 8080 of a ready pod\n"; errOut.String() != want || out.Len() != 0 {
		t.Errorf("out %q, errOut %q; want errOut %q", out.String(), errOut.String(), want)
	}
}
