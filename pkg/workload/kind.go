// Package workload is the one place that knows the kinds of workload kubectl-fastdev develops
// (Deployment, StatefulSet, DaemonSet): how a user names them (kubectl's `[TYPE/]NAME`), and, through
// one small interface, "a pod template I can read, patch and restore" with each kind's own rollout
// behaviour. It is pure: pkg/kube reads and writes the objects.
package workload

import (
	"fmt"
	"strings"
)

// Kind is a workload kind, spelled as the API spells it.
type Kind string

// The kinds kubectl-fastdev injects.
const (
	Deployment  Kind = "Deployment"
	StatefulSet Kind = "StatefulSet"
	DaemonSet   Kind = "DaemonSet"
)

// Kinds lists every kind, in the order help texts name them.
var Kinds = []Kind{Deployment, StatefulSet, DaemonSet}

// spelling is how kubectl accepts each kind on the command line: singular, plural and short name
// (`kubectl api-resources`), case-insensitive, optionally qualified by the group ("sts.apps").
var spelling = map[Kind][]string{
	Deployment:  {"deployment", "deployments", "deploy"},
	StatefulSet: {"statefulset", "statefulsets", "sts"},
	DaemonSet:   {"daemonset", "daemonsets", "ds"},
}

// Forms is how the valid target forms are named in errors and help texts.
const Forms = "NAME (a Deployment), deployment/NAME (deploy), statefulset/NAME (sts) or daemonset/NAME (ds)"

// Resource is the kind's resource name in the apps/v1 API ("statefulsets").
func (k Kind) Resource() string { return spelling[k][1] }

// Lower is the kind as kubectl prints it in a TYPE/NAME ("statefulset").
func (k Kind) Lower() string { return spelling[k][0] }

// short is the kind's short name ("sts").
func (k Kind) short() string { return spelling[k][2] }

// ParseKind reads a kind as kubectl accepts it: "sts", "statefulsets", "StatefulSet.apps".
func ParseKind(s string) (Kind, error) {
	t := strings.ToLower(strings.TrimSuffix(strings.ToLower(s), ".apps"))
	for _, k := range Kinds {
		for _, sp := range spelling[k] {
			if t == sp {
				return k, nil
			}
		}
	}
	return "", fmt.Errorf("unknown kind %q: give %s", s, Forms)
}

// Ref names one workload of the namespace.
type Ref struct {
	Kind Kind
	Name string
}

// String is the ref as the commands print it: a Deployment by its bare name (as always), the other
// kinds as kubectl prints them ("statefulset/db"), so the same name of two kinds stays apart.
func (r Ref) String() string {
	if r.Kind == Deployment {
		return r.Name
	}
	return r.Kind.Lower() + "/" + r.Name
}

// LeaseKey is what names the ref's dev lease (kube.LeaseName adds "fastdev-"): a Deployment's bare
// name, so an `up` of an older release and this one still exclude each other, and the short kind
// before the name for the other kinds ("sts-db"), so a StatefulSet and a Deployment called alike
// have leases of their own.
func (r Ref) LeaseKey() string {
	if r.Kind == Deployment {
		return r.Name
	}
	return r.Kind.short() + "-" + r.Name
}

// ParseRef reads one target in kubectl's form: `NAME` (a Deployment) or `TYPE/NAME`.
func ParseRef(arg string) (Ref, error) {
	typ, name, typed := strings.Cut(arg, "/")
	if !typed {
		typ, name = "deployment", arg
	}
	if name == "" || strings.Contains(name, "/") {
		return Ref{}, fmt.Errorf("target %q: give %s", arg, Forms)
	}
	k, err := ParseKind(typ)
	if err != nil {
		return Ref{}, fmt.Errorf("target %q: %w", arg, err)
	}
	return Ref{Kind: k, Name: name}, nil
}

// ParseRefs reads every target of a command line, each once (a target given twice is served once).
func ParseRefs(args []string) ([]Ref, error) {
	var out []Ref
	seen := map[Ref]bool{}
	for _, a := range args {
		r, err := ParseRef(a)
		if err != nil {
			return nil, err
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out, nil
}
