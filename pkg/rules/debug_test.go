package rules

import (
	"strings"
	"testing"
)

func TestParseDebug(t *testing.T) {
	const head = "sync: [{from: ./src, to: /app/src}]\n"
	for _, tc := range []struct {
		name, text string
		want       *Debug
		err        string
	}{
		{"absent", "", nil, ""},
		{"defaults", "debug: {}\n", &Debug{Port: 2345, GCFlags: "-N -l"}, ""},
		{"port and flags", "debug: {port: 40000, gcflags: \"all=-N -l\"}\n", &Debug{Port: 40000, GCFlags: "all=-N -l"}, ""},
		{"builds left alone", "debug: {gcflags: \"\"}\n", &Debug{Port: 2345}, ""},
		{"port out of range", "debug: {port: 70000}\n", nil, `line 2, key "debug.port": must be a port number 1-65535 such as 2345 (Delve's port on the pod's loopback), not 70000`},
		{"port as a string", "debug: {port: \"2345\"}\n", nil, `key "debug.port": must be a port number 1-65535 such as 2345 (Delve's port on the pod's loopback), not the string "2345"`},
		{"unknown key", "debug: {prot: 2345}\n", nil, `key "debug.prot": unknown key "prot": did you mean "port"?`},
		{"not a mapping", "debug: true\n", nil, `key "debug": must be a mapping`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(head + tc.text)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Parse: %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (r.Debug == nil) != (tc.want == nil) || r.Debug != nil && *r.Debug != *tc.want {
				t.Errorf("Debug = %+v, want %+v", r.Debug, tc.want)
			}
		})
	}
}
