package forward

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

func TestParseFlag(t *testing.T) {
	tests := []struct {
		value   string
		deps    []string
		wantDep string
		want    rules.Forward
		err     string
	}{
		{"18080:8080", []string{"web"}, "web", rules.Forward{Local: 18080, Remote: 8080}, ""},
		{"9090", []string{"web"}, "web", rules.Forward{Local: 9090, Remote: 9090}, ""},
		{"api=3001:3000", []string{"web", "api"}, "api", rules.Forward{Local: 3001, Remote: 3000}, ""},
		{"18080:8080", []string{"web", "api"}, "", rules.Forward{}, "say which one, as in --forward web=18080:8080"},
		{"db=5432", []string{"web", "api"}, "", rules.Forward{}, `"db" is not a Deployment`},
		{"web=0:8080", []string{"web"}, "", rules.Forward{}, "local port 0 is out of range"},
		{"70000", []string{"web"}, "", rules.Forward{}, "out of range: ports are 1-65535"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			dep, f, err := ParseFlag(tt.value, tt.deps)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "--forward "+tt.value) {
					t.Fatalf("error %v, want one naming --forward %s and containing %q", err, tt.value, tt.err)
				}
				return
			}
			if err != nil || dep != tt.wantDep || f != tt.want {
				t.Errorf("= %q %v %v, want %q %v", dep, f, err, tt.wantDep, tt.want)
			}
		})
	}
}

func TestSpecsFor(t *testing.T) {
	withRules := &rules.Rules{Forward: []rules.Forward{{Local: 18080, Remote: 8080, Line: 7}}}
	declared := []Declared{{Container: "app", Ports: []int{8080, 9090}}}
	two := []Declared{{Container: "api", Ports: []int{8080}}, {Container: "worker", Ports: []int{9090, 8080}}}
	tests := []struct {
		name     string
		flags    []rules.Forward
		r        *rules.Rules
		declared []Declared // nil: declared
		want     []Spec
	}{
		{"flags replace the rules", []rules.Forward{{Local: 1, Remote: 2}}, withRules, nil,
			[]Spec{{Deployment: "web", Local: 1, Remote: 2, From: "--forward web=1:2"}}},
		{"the rules' list", nil, withRules, nil,
			[]Spec{{Deployment: "web", Local: 18080, Remote: 8080, From: "forward[0] of its rules (line 7)"}}},
		{"declared ports by default", nil, &rules.Rules{}, nil, []Spec{
			{Deployment: "web", Local: 8080, Remote: 8080, Auto: true, From: `containerPort 8080 of container "app"`},
			{Deployment: "web", Local: 9090, Remote: 9090, Auto: true, From: `containerPort 9090 of container "app"`}}},
		{"every app container's declared ports, a shared one once", nil, &rules.Rules{}, two, []Spec{
			{Deployment: "web", Local: 8080, Remote: 8080, Auto: true, From: `containerPort 8080 of container "api"`},
			{Deployment: "web", Local: 9090, Remote: 9090, Auto: true, From: `containerPort 9090 of container "worker"`}}},
		{"an empty list forwards nothing", nil, &rules.Rules{Forward: []rules.Forward{}}, two, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.declared
			if d == nil {
				d = declared
			}
			if got := SpecsFor("web", tt.flags, tt.r, d); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SpecsFor = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestCheckDuplicates(t *testing.T) {
	specs := []Spec{
		{Deployment: "web", Local: 8080, Remote: 8080, From: "forward[0] of its rules (line 3)"},
		{Deployment: "api", Local: 8080, Remote: 3000, From: "--forward api=8080:3000"},
		{Deployment: "api", Local: 8080, Remote: 8080, Auto: true},
	}
	err := Check(specs)
	want := "local port 8080 is forwarded twice: web: forward[0] of its rules (line 3) and api: --forward api=8080:3000; give each its own local port"
	if err == nil || err.Error() != want {
		t.Errorf("Check = %v, want %s", err, want)
	}
	if err := Check(specs[1:]); err != nil {
		t.Errorf("a declared port on a taken one is no error (it moves): %v", err)
	}
}

// busyPorts listens (on a kernel-picked port) for every address not busy, which it then marks busy
// as the kernel would; a busy one fails as a port in use does. It records what was asked for.
type busyPorts struct {
	busy  map[string]bool // host:port
	asked []string
}

func (b *busyPorts) listen(network, address string) (net.Listener, error) {
	b.asked = append(b.asked, address)
	if b.busy[address] {
		return nil, fmt.Errorf("listen %s %s: bind: address already in use", network, address)
	}
	b.busy[address] = true
	return net.Listen(network, "127.0.0.1:0")
}

// TestOpen: asked-for ports are listened on first; a declared port that is not free moves up to the
// next free one, and the note says so.
func TestOpen(t *testing.T) {
	b := &busyPorts{busy: map[string]bool{"127.0.0.1:8080": true, "127.0.0.1:8081": true}}
	specs := []Spec{
		{Deployment: "web", Local: 8080, Remote: 8080, Auto: true, From: "containerPort 8080"},
		{Deployment: "web", Local: 8082, Remote: 9000, From: "--forward web=8082:9000"},
	}
	set, err := Open(specs, []string{"127.0.0.1"}, b.listen)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	wantAsked := []string{"127.0.0.1:8082", "127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083"}
	if !reflect.DeepEqual(b.asked, wantAsked) {
		t.Errorf("asked %v, want %v", b.asked, wantAsked)
	}
	if l := set.Listeners[0]; l.URL() != "http://127.0.0.1:8082" || l.Note != "" {
		t.Errorf("asked-for forward: %s note %q", l.URL(), l.Note)
	}
	l := set.Listeners[1]
	wantNote := "web: local port 8080 is not free (listen tcp 127.0.0.1:8080: bind: address already in use): forwarding http://127.0.0.1:8083 -> port 8080 instead"
	if l.URL() != "http://127.0.0.1:8083" || l.Note != wantNote {
		t.Errorf("declared port: %s note %q, want http://127.0.0.1:8083 and %q", l.URL(), l.Note, wantNote)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name  string
		specs []Spec
		addrs []string
		busy  string
		err   string
	}{
		{"asked-for port in use", []Spec{{Deployment: "web", Local: 18080, Remote: 8080, From: "--forward web=18080:8080"}}, []string{"127.0.0.1"}, "127.0.0.1:18080",
			`deployment "web": local port 18080 (--forward web=18080:8080) is not free: listen tcp 127.0.0.1:18080: bind: address already in use; stop what listens there or pick another local port`},
		{"in use on the second address", []Spec{{Deployment: "web", Local: 18080, Remote: 8080}}, []string{"127.0.0.1", "::1"}, "[::1]:18080", "is not free"},
		{"not an address", []Spec{{Deployment: "web", Local: 1, Remote: 1}}, []string{"my-laptop"}, "", `--address "my-laptop": want an IP address`},
		{"duplicate", []Spec{{Deployment: "web", Local: 1, Remote: 1}, {Deployment: "api", Local: 1, Remote: 2}}, []string{"127.0.0.1"}, "", "local port 1 is forwarded twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opened []net.Listener
			listen := func(network, address string) (net.Listener, error) {
				if address == tt.busy {
					return nil, fmt.Errorf("listen %s %s: bind: address already in use", network, address)
				}
				l, err := net.Listen(network, "127.0.0.1:0")
				opened = append(opened, l)
				return l, err
			}
			_, err := Open(tt.specs, tt.addrs, listen)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Open error %v, want %q", err, tt.err)
			}
			for _, l := range opened {
				if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
					t.Errorf("a listener stayed open after the error")
				}
			}
		})
	}
}

func TestLocalhostAndURL(t *testing.T) {
	b := &busyPorts{busy: map[string]bool{"[::1]:3000": true}}
	set, err := Open([]Spec{{Deployment: "web", Local: 3000, Remote: 3000}}, []string{"localhost"}, b.listen)
	if err != nil {
		t.Fatalf("localhost without ::1 must still listen on 127.0.0.1: %v", err)
	}
	set.Close()
	if got := set.Listeners[0].URL(); got != "http://127.0.0.1:3000" {
		t.Errorf("URL %s", got)
	}
	set, err = Open([]Spec{{Deployment: "web", Local: 3000, Remote: 3000}}, []string{"0.0.0.0"}, b.listen)
	if err != nil {
		t.Fatal(err)
	}
	set.Close()
	if got := set.Listeners[0].URL(); got != "http://localhost:3000" {
		t.Errorf("URL on 0.0.0.0: %s, want localhost", got)
	}
}
