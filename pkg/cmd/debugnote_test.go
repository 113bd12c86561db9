package cmd

import (
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// TestDebugFirstOnly: the note appears for the list form only, naming the debugged container and the others.
func TestDebugFirstOnly(t *testing.T) {
	if got := debugFirstOnly("web", &rules.Rules{Container: "app"}); got != "" {
		t.Errorf("one container: %q, want no note", got)
	}
	got := debugFirstOnly("web", &rules.Rules{Listed: true, Container: "api", More: []rules.App{{Container: "worker"}, {Container: "cron"}}})
	if !strings.Contains(got, "only its first listed container, api, runs under Delve; worker, cron run as without --debug") {
		t.Errorf("list form: %q", got)
	}
}
