package cmd

import (
	"fmt"
	"strings"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// debugFirstOnly says, for rules that list several app containers, that `up --debug` runs only the
// first under Delve (the others run as without --debug); "" for one container.
func debugFirstOnly(name string, r *rules.Rules) string {
	if r == nil || len(r.More) == 0 {
		return ""
	}
	var others []string
	for _, a := range r.More {
		others = append(others, a.Container)
	}
	return fmt.Sprintf("debugger for %s: only its first listed container, %s, runs under Delve; %s run as without --debug (move a container first in containers: to debug it)",
		name, r.Container, strings.Join(others, ", "))
}
