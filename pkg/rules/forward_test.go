package rules

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestParseForwards: the forward key's accepted forms, and the empty list that turns the default off.
func TestParseForwards(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []Forward
	}{
		{"pair and single port", sync0 + "forward: [\"18080:8080\", \"9090\"]\n", []Forward{{Local: 18080, Remote: 8080, Line: 2}, {Local: 9090, Remote: 9090, Line: 2}}},
		{"bare number", sync0 + "forward:\n  - 3000\n  - '3001:3000'\n", []Forward{{Local: 3000, Remote: 3000, Line: 3}, {Local: 3001, Remote: 3000, Line: 4}}},
		{"same remote twice", sync0 + "forward: ['8080', '18080:8080']\n", []Forward{{Local: 8080, Remote: 8080, Line: 2}, {Local: 18080, Remote: 8080, Line: 2}}},
		{"empty list forwards nothing", sync0 + "forward: []\n", []Forward{}},
		{"no key", sync0, nil},
		{"null reads as absent", sync0 + "forward:\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(tt.text)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(r.Forward, tt.want) {
				t.Errorf("Forward = %#v, want %#v", r.Forward, tt.want)
			}
		})
	}
}

// TestParseForwardErrors: each bad forward is reported with its line, its key and a hint.
func TestParseForwardErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		line int
		key  string
		fix  string
	}{
		{"port zero", sync0 + "forward: ['0:8080']\n", 2, "forward[0]", "local port 0 is out of range: ports are 1-65535"},
		{"remote too big", sync0 + "forward:\n  - '8080:70000'\n", 3, "forward[0]", "remote port 70000 is out of range"},
		{"single port too big", sync0 + "forward: [65536]\n", 2, "forward[0]", "out of range"},
		{"negative", sync0 + "forward: ['-1']\n", 2, "forward[0]", "out of range"},
		{"not a number", sync0 + "forward: ['http:8080']\n", 2, "forward[0]", `local port "http" is not a number`},
		{"missing remote", sync0 + "forward: ['8080:']\n", 2, "forward[0]", "remote port is missing"},
		{"three parts", sync0 + "forward: ['1:2:3']\n", 2, "forward[0]", `remote port "2:3" is not a number`},
		{"duplicate local", sync0 + "forward:\n  - '8080'\n  - '8080:9090'\n", 4, "forward[1]", "local port 8080 is forwarded twice (forward[0], line 3)"},
		{"a string", sync0 + "forward: '8080'\n", 2, "forward", `forward: ["18080:8080", "9090"]`},
		{"a mapping entry", sync0 + "forward:\n  - {local: 1, remote: 2}\n", 3, "forward[0]", `must be a string such as "18080:8080"`},
		{"a boolean", sync0 + "forward: [true]\n", 2, "forward[0]", "not true/false"},
		{"misspelt", sync0 + "forwards: ['8080']\n", 2, "forwards", `did you mean "forward"?`},
		{"inside a sync entry", "sync:\n  - {from: src, to: /app, forward: ['8080']}\n", 2, "sync[0].forward", "belongs at the top level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.text)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse error %T (%v), want *Error", err, err)
			}
			if e.Line != tt.line || e.Key != tt.key || !strings.Contains(e.Msg, tt.fix) {
				t.Errorf("error at line %d key %q msg %q, want line %d key %q containing %q", e.Line, e.Key, e.Msg, tt.line, tt.key, tt.fix)
			}
		})
	}
}

func TestForwardString(t *testing.T) {
	for _, s := range []string{"8080", "18080:8080"} {
		f, err := ParseForward(s)
		if err != nil {
			t.Fatal(err)
		}
		if f.String() != s {
			t.Errorf("ParseForward(%q).String() = %q", s, f.String())
		}
	}
}
