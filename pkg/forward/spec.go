package forward

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// Spec is one forward `up` is asked to open for a Deployment.
type Spec struct {
	Deployment    string
	Local, Remote int
	// Auto marks a port taken from the container's declared ports rather than asked for: when the
	// local port is taken, the next free one is used (and said), instead of failing.
	Auto bool
	// From says where the forward was asked for, for messages: `--forward`, `forward[1] (line 12)`,
	// `containerPort 8080 of container "web"`.
	From string
}

// ParseFlag reads one --forward value: "DEPLOYMENT=LOCAL:REMOTE" (or "DEPLOYMENT=PORT"), or
// "LOCAL:REMOTE" alone when `up` serves one Deployment. deployments are the served ones.
func ParseFlag(value string, deployments []string) (string, rules.Forward, error) {
	dep, ports, named := strings.Cut(value, "=")
	if !named {
		if len(deployments) != 1 {
			return "", rules.Forward{}, fmt.Errorf("--forward %s: up serves %d Deployments (%s): say which one, as in --forward %s=%s",
				value, len(deployments), strings.Join(deployments, ", "), first(deployments), value)
		}
		dep, ports = deployments[0], value
	}
	if !contains(deployments, dep) {
		return "", rules.Forward{}, fmt.Errorf("--forward %s: %q is not a Deployment `up` serves here (%s)", value, dep, strings.Join(deployments, ", "))
	}
	f, err := rules.ParseForward(ports)
	if err != nil {
		return "", rules.Forward{}, fmt.Errorf("--forward %s: %w", value, err)
	}
	return dep, f, nil
}

func first(list []string) string {
	if len(list) == 0 {
		return "DEPLOYMENT"
	}
	return list[0]
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Declared is the TCP containerPorts one app container declares.
type Declared struct {
	Container string
	Ports     []int
}

// SpecsFor picks one Deployment's forwards: the --forward flags given for it (they replace its
// rules' list), else its rules' forward list, else the declared TCP ports of every app container
// the rules develop, in the rules' order, each on the same local port when free. A port two
// containers declare (they share the pod's network) is forwarded once, for the first.
func SpecsFor(dep string, flags []rules.Forward, r *rules.Rules, declared []Declared) []Spec {
	var out []Spec
	switch {
	case len(flags) > 0:
		for _, f := range flags {
			out = append(out, Spec{Deployment: dep, Local: f.Local, Remote: f.Remote, From: "--forward " + dep + "=" + f.String()})
		}
	case r != nil && r.Forward != nil:
		for i, f := range r.Forward {
			out = append(out, Spec{Deployment: dep, Local: f.Local, Remote: f.Remote,
				From: fmt.Sprintf("forward[%d] of its rules (line %d)", i, f.Line)})
		}
	default:
		seen := map[int]bool{}
		for _, d := range declared {
			for _, p := range d.Ports {
				if seen[p] {
					continue
				}
				seen[p] = true
				out = append(out, Spec{Deployment: dep, Local: p, Remote: p, Auto: true,
					From: fmt.Sprintf("containerPort %d of container %q", p, d.Container)})
			}
		}
	}
	return out
}

// Check refuses two forwards asked for on one local port (across all Deployments). Declared ports
// (Auto) are left out: they move to a free port instead.
func Check(specs []Spec) error {
	byPort := map[int]Spec{}
	var problems []string
	for _, s := range specs {
		if s.Auto {
			continue
		}
		if prev, ok := byPort[s.Local]; ok {
			problems = append(problems, fmt.Sprintf("local port %d is forwarded twice: %s: %s and %s: %s; give each its own local port",
				s.Local, prev.Deployment, prev.From, s.Deployment, s.From))
			continue
		}
		byPort[s.Local] = s
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n  "))
	}
	return nil
}
