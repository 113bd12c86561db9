package rules

import (
	"sort"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Synclet holds the settings of the containers injection adds to the pod (install, seed, synclet).
type Synclet struct {
	// Requests and Limits replace, per resource (cpu, memory, ephemeral-storage), the requests and
	// limits pkg/inject gives those containers by default; a resource not named keeps its default.
	Requests map[string]resource.Quantity
	Limits   map[string]resource.Quantity
}

// resourceNames are the resources a container's requests and limits may name here.
var resourceNames = []string{"cpu", "memory", "ephemeral-storage"}

// parseSynclet reads the top-level synclet key: `synclet: {resources: {requests: {...}, limits: {...}}}`.
func parseSynclet(f field) (Synclet, error) {
	var s Synclet
	fields, err := mapping(f.val, f.path, []string{"resources"})
	if err != nil {
		return s, err
	}
	res, ok := fields["resources"]
	if !ok {
		return s, nil
	}
	kinds, err := mapping(res.val, res.path, []string{"requests", "limits"})
	if err != nil {
		return s, err
	}
	if g, ok := kinds["requests"]; ok {
		if s.Requests, err = quantities(g); err != nil {
			return s, err
		}
	}
	if g, ok := kinds["limits"]; ok {
		if s.Limits, err = quantities(g); err != nil {
			return s, err
		}
	}
	for _, name := range sortedNames(s.Requests) {
		if q, l := s.Requests[name], s.Limits[name]; !l.IsZero() && q.Cmp(l) > 0 {
			return s, errorf(kinds["requests"].path+"."+name, kinds["requests"].val.Line,
				"%s is more than limits.%s %s: a container cannot request more than its limit; lower the request or raise the limit", q.String(), name, l.String())
		}
	}
	return s, nil
}

// quantities reads a mapping of resource names to Kubernetes quantities, each above zero.
func quantities(f field) (map[string]resource.Quantity, error) {
	fields, err := mapping(f.val, f.path, resourceNames)
	if err != nil {
		return nil, err
	}
	out := map[string]resource.Quantity{}
	for name, g := range fields {
		n := g.val
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!str" && n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
			return nil, errorf(g.path, n.Line, "must be a quantity such as %s, not %s", example(name), describe(n))
		}
		q, err := resource.ParseQuantity(n.Value)
		if err != nil {
			return nil, errorf(g.path, n.Line, "%q is not a quantity: write one such as %s", n.Value, example(name))
		}
		if q.Sign() <= 0 {
			return nil, errorf(g.path, n.Line, "%q must be more than zero: write a quantity such as %s, or remove the key for the default", n.Value, example(name))
		}
		out[name] = q
	}
	return out, nil
}

func example(name string) string {
	if name == "cpu" {
		return "100m or 1"
	}
	return "64Mi or 1Gi"
}

func sortedNames(m map[string]resource.Quantity) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
