package rules

import (
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Debug is the rules' debug key: run the app under Delve (`kubectl fastdev up --debug` sets it too).
type Debug struct {
	// Port is Delve's port on the pod's loopback (DAP and JSON-RPC); `up` forwards a local port to it.
	Port int
	// GCFlags is what in-pod go builds get as -gcflags while debugging (through GOFLAGS), so Delve sees
	// every variable and line: "-N -l" (optimizations and inlining off) for the packages a build names,
	// "all=-N -l" for their dependencies too (the first build then recompiles them). Empty leaves
	// builds as the rules write them.
	GCFlags string
}

// DefaultDebugPort is Delve's customary port, the one `up --debug` uses when the rules name none.
const DefaultDebugPort = 2345

// DefaultGCFlags keeps what Delve needs in the packages a build names, without recompiling the
// standard library and every dependency on the first build in the pod.
const DefaultGCFlags = "-N -l"

// DefaultDebug is what `up --debug` uses for rules without a debug key.
func DefaultDebug() *Debug { return &Debug{Port: DefaultDebugPort, GCFlags: DefaultGCFlags} }

// parseDebug reads the top-level debug key: `debug: {port: 2345, gcflags: "-N -l"}`; `debug: {}`
// takes the defaults.
func parseDebug(f field) (*Debug, error) {
	d := DefaultDebug()
	fields, err := mapping(f.val, f.path, []string{"port", "gcflags"})
	if err != nil {
		return nil, err
	}
	if g, ok := fields["port"]; ok {
		n := g.val
		v, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || err != nil || v < 1 || v > 65535 {
			what := describe(n)
			if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
				what = n.Value
			}
			return nil, errorf(g.path, n.Line, "must be a port number 1-65535 such as %d (Delve's port on the pod's loopback), not %s", DefaultDebugPort, what)
		}
		d.Port = v
	}
	if g, ok := fields["gcflags"]; ok {
		if d.GCFlags, err = str(g.val, g.path); err != nil {
			return nil, err
		}
	}
	return d, nil
}
