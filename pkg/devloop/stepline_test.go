package devloop

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestStepRunningLines: while an update's steps run, the plain lines say so every StepEvery with the
// time since the first step line and the step that printed last; the update's end stops them.
func TestStepRunningLines(t *testing.T) {
	var out, errOut strings.Builder
	r := &LineReporter{Out: &out, ErrOut: &errOut, StepEvery: 40 * time.Millisecond}
	said := func() string {
		r.mu.Lock()
		defer r.mu.Unlock()
		return errOut.String()
	}
	r.StepLine("web", "web-1", "npm install", "added 1 package")
	r.StepLine("web", "web-1", "npm run build", "building")
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(said(), "steps running for") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no repeated running lines:\n%s", said())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !regexp.MustCompile(`web/web-1: steps running for \d+s \(last output from "npm run build"\)`).MatchString(said()) {
		t.Errorf("running line:\n%s", said())
	}
	r.Updated(Update{Deployment: "web", Pod: "web-1", Files: 1})
	n := strings.Count(said(), "steps running for")
	time.Sleep(150 * time.Millisecond)
	if m := strings.Count(said(), "steps running for"); m != n {
		t.Errorf("%d running lines after the update ended:\n%s", m-n, said())
	}
	if (&LineReporter{}).stepEvery() != 30*time.Second {
		t.Error("the default period is not 30s")
	}
}
