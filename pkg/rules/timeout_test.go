package rules

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestStepTimeoutParsed: a run entry's timeout is read as a duration; without one the step gets 0,
// which the wire turns into the default.
func TestStepTimeoutParsed(t *testing.T) {
	for _, c := range []struct {
		text string
		want time.Duration
	}{
		{"run: [{cmd: make, timeout: 2m}]\n", 2 * time.Minute},
		{"run: [{cmd: make, timeout: 1h30m}]\n", 90 * time.Minute},
		{"run: [{cmd: make, timeout: \"3s\"}]\n", 3 * time.Second},
		{"run: [{cmd: make, timeout: 24h}]\n", 24 * time.Hour},
		{"run: [{cmd: make}]\n", 0},
		{"run:\n  - cmd: make\n    timeout:\n", 0},
	} {
		t.Run(c.text, func(t *testing.T) {
			r, err := Parse(sync0 + c.text)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Run[0].Timeout; got != c.want {
				t.Errorf("timeout %s, want %s", got, c.want)
			}
		})
	}
}

// TestStepTimeoutErrors: each mistake names the line, the key and what to write.
func TestStepTimeoutErrors(t *testing.T) {
	for _, c := range []struct {
		name, text, fix string
	}{
		{"no unit", "run:\n  - cmd: make\n    timeout: 120\n", "has no unit: write timeout: 120s"},
		{"not a duration", "run:\n  - cmd: make\n    timeout: soon\n", `"soon" is not a duration: write one such as 2m`},
		{"zero", "run:\n  - cmd: make\n    timeout: 0s\n", "from 1s to 24h"},
		{"negative", "run:\n  - cmd: make\n    timeout: -5m\n", "out of range"},
		{"too long", "run:\n  - cmd: make\n    timeout: 48h\n", "or remove the key for the default 10m"},
		{"a list", "run:\n  - cmd: make\n    timeout: [2m]\n", "must be a duration such as 2m or 90s, not a list"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(sync0 + c.text)
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("error %v, want a rules error", err)
			}
			if re.Line != 4 || re.Key != "run[0].timeout" || !strings.Contains(re.Msg, c.fix) {
				t.Errorf("error %q (line %d, key %q), want line 4, key run[0].timeout and %q", re.Msg, re.Line, re.Key, c.fix)
			}
		})
	}
	_, err := Parse(sync0 + "timeout: 2m\n")
	if err == nil || !strings.Contains(err.Error(), "belongs inside a run entry (run[].timeout)") {
		t.Errorf("a top-level timeout: %v, want it placed inside a run entry", err)
	}
}
