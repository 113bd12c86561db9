package rules

import (
	"errors"
	"path"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, returns only *Error, and that
// whatever it accepts keeps the invariants the rest of fastdev relies on.
func FuzzParse(f *testing.F) {
	f.Add(designExample)
	f.Add(sync0 + "run:\n  - cmd: sh -c 'a && b'\n")
	f.Fuzz(func(t *testing.T, text string) {
		r, err := Parse(text)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T (%v), want *Error", err, err)
			}
			return
		}
		if len(r.Sync) == 0 {
			t.Fatal("accepted rules without sync entries")
		}
		for i, s := range r.Sync {
			if s.To == "/" || !path.IsAbs(s.To) || path.Clean(s.To) != s.To {
				t.Fatalf("sync[%d].to = %q is not a clean absolute path other than /", i, s.To)
			}
			if path.IsAbs(s.From) || s.From == ".." || strings.HasPrefix(s.From, "../") {
				t.Fatalf("sync[%d].from = %q escapes the run directory", i, s.From)
			}
			for j := range i {
				if within(s.To, r.Sync[j].To) || within(r.Sync[j].To, s.To) {
					t.Fatalf("sync[%d].to %q and sync[%d].to %q nest", i, s.To, j, r.Sync[j].To)
				}
			}
		}
		for i, s := range r.Run {
			if len(s.Argv) == 0 || s.Argv[0] == "" {
				t.Fatalf("run[%d] has empty argv for %q", i, s.Cmd)
			}
		}
		if !contains(restartValues, string(r.Restart)) {
			t.Fatalf("restart = %q", r.Restart)
		}
	})
}
