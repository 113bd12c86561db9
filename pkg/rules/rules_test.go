package rules

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// designExample is the annotation shown in DESIGN.md, comments included.
const designExample = `container: web                 # which container to develop; default: the first one
sync:                          # local paths are relative to the directory ` + "`up`" + ` runs in (or --dir)
  - from: ./src
    to: /app/src
    ignore: ["**/*.pyc", "tmp/"]   # plus .gitignore/.dockerignore found under ` + "`from`" + `
run:                           # in-pod steps after files land, in order
  - cmd: pip install -r requirements.txt
    trigger: ["requirements.txt"]   # only when a changed file matches; no trigger = every update
  - cmd: go build -o /app/bin/server ./cmd/server
    trigger: ["**/*.go", "go.mod", "go.sum"]
restart: process               # process (default) | container | none
command: ["/app/bin/server"]   # what ` + "`process`" + ` restarts, when the pod spec has no command
fallback: ["Dockerfile"]       # a change here needs a real image rebuild: say so, do not sync it
`

// TestParseValid: each accepted annotation parses to exactly the rules it says. Its length is the
// table's: one row per accepted form.
func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		text string
		want *Rules
	}{
		{
			name: "design example",
			text: designExample,
			want: &Rules{
				Container: "web",
				Sync:      []Sync{{From: "src", To: "/app/src", Ignore: []string{"**/*.pyc", "tmp/"}, Line: 3}},
				Run: []Step{
					{Cmd: "pip install -r requirements.txt", Argv: []string{"pip", "install", "-r", "requirements.txt"}, Trigger: []string{"requirements.txt"}, Line: 7},
					{Cmd: "go build -o /app/bin/server ./cmd/server", Argv: []string{"go", "build", "-o", "/app/bin/server", "./cmd/server"}, Trigger: []string{"**/*.go", "go.mod", "go.sum"}, Line: 9},
				},
				Restart:  protocol.RestartProcess,
				Command:  []string{"/app/bin/server"},
				Fallback: []string{"Dockerfile"},
			},
		},
		{
			name: "minimal gets defaults",
			text: "sync:\n  - from: .\n    to: /app\n",
			want: &Rules{Sync: []Sync{{From: ".", To: "/app", Line: 2}}, Restart: protocol.RestartProcess},
		},
		{
			name: "paths are cleaned and a trailing slash on to is accepted",
			text: "sync:\n  - {from: ./src/../lib/, to: /app/lib/}\n  - {from: web, to: /srv/web}\nrestart: none\n",
			want: &Rules{Sync: []Sync{{From: "lib", To: "/app/lib", Line: 2}, {From: "web", To: "/srv/web", Line: 3}}, Restart: protocol.RestartNone},
		},
		{
			name: "sync volume size and medium",
			text: "sync:\n  - {from: a, to: /app, sizeLimit: 64Mi, medium: Memory}\n",
			want: &Rules{Sync: []Sync{{From: "a", To: "/app", SizeLimit: ptrQuantity("64Mi"), Medium: MediumMemory, Line: 2}}, Restart: protocol.RestartProcess},
		},
		{
			name: "keep patterns beside ignore",
			text: "sync:\n  - from: data\n    to: /app/data\n    ignore: [tmp/]\n    keep: [\"uploads/**\", \"*.sqlite\"]\n",
			want: &Rules{Sync: []Sync{{From: "data", To: "/app/data", Ignore: []string{"tmp/"}, Keep: []string{"uploads/**", "*.sqlite"}, Line: 2}}, Restart: protocol.RestartProcess},
		},
		{
			name: "sibling to paths that share a prefix do not nest",
			text: "sync:\n  - {from: a, to: /app}\n  - {from: b, to: /application}\n",
			want: &Rules{Sync: []Sync{{From: "a", To: "/app", Line: 2}, {From: "b", To: "/application", Line: 3}}, Restart: protocol.RestartProcess},
		},
		{
			name: "empty values read as absent",
			text: "container:\nsync:\n  - from: src\n    to: /app\n    ignore:\nrun:\nrestart:\n",
			want: &Rules{Sync: []Sync{{From: "src", To: "/app", Line: 3}}, Restart: protocol.RestartProcess},
		},
		{
			name: "quoting and sh -c keep shell syntax away from the step runner",
			text: "sync: [{from: src, to: /app}]\nrestart: container\nrun:\n" +
				"  - cmd: sh -c 'go build ./... && go vet ./...'\n" +
				"  - cmd: sh -c \"echo $HOME > /tmp/x\"\n" +
				"  - cmd: grep -r 'a|b' \"x;y\" c\\&d\n",
			want: &Rules{
				Sync:    []Sync{{From: "src", To: "/app", Line: 1}},
				Restart: protocol.RestartContainer,
				Run: []Step{
					{Cmd: "sh -c 'go build ./... && go vet ./...'", Argv: []string{"sh", "-c", "go build ./... && go vet ./..."}, Line: 4},
					{Cmd: `sh -c "echo $HOME > /tmp/x"`, Argv: []string{"sh", "-c", "echo $HOME > /tmp/x"}, Line: 5},
					{Cmd: `grep -r 'a|b' "x;y" c\&d`, Argv: []string{"grep", "-r", "a|b", "x;y", "c&d"}, Line: 6},
				},
			},
		},
		{
			name: "anchors and aliases are followed",
			text: "sync:\n  - from: src\n    to: /app\n    ignore: &junk [\"**/*.pyc\"]\nfallback: *junk\n",
			want: &Rules{Sync: []Sync{{From: "src", To: "/app", Ignore: []string{"**/*.pyc"}, Line: 2}}, Restart: protocol.RestartProcess, Fallback: []string{"**/*.pyc"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.text)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	_, err := Parse("sync:\n  - from: ./src\n    to: app/src\n")
	want := `annotation fastdev.dev/rules, line 3, key "sync[0].to": must be an absolute in-pod path such as /app/src`
	if err == nil || err.Error() != want {
		t.Errorf("Parse error = %v, want %s", err, want)
	}
}

// sync0 prefixes a valid sync list so a case can focus on one later key.
const sync0 = "sync: [{from: src, to: /app}]\n"

// TestParseErrors: each mistake is reported with its line, its key and a hint. Its length is the
// table's: one row per mistake a user can make.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		line int
		key  string
		fix  string // a substring of the message that tells the user what to do
	}{
		// YAML itself.
		{"invalid yaml", "sync:\n  - from: ./src\n    to: [/app\n", 2, "", "invalid YAML"},
		{"tab indentation", "sync:\n\t- from: src\n", 2, "", "indent with spaces, not tabs"},
		{"unknown anchor", sync0 + "fallback: *nope\n", 0, "", "define an anchor"},
		{"two documents", sync0 + "---\nrestart: none\n", 2, "", `remove the "---" separator`},
		{"empty annotation", "", 1, "sync", "add at least"},
		{"comment only", "# nothing yet\n", 1, "sync", "add at least"},
		{"not a mapping", "- from: src\n", 1, "", "must be a YAML mapping"},

		// Unknown and repeated keys.
		{"unknown top key close to a known one", "synk: []\n", 1, "synk", `did you mean "sync"?`},
		{"unknown key is case sensitive", "Sync: []\n", 1, "Sync", `did you mean "sync"?`},
		{"unknown sync key", "sync:\n  - from: src\n    to: /app\n    ignroe: [x]\n", 4, "sync[0].ignroe", `did you mean "ignore"?`},
		{"unknown run key", sync0 + "run:\n  - cmd: make\n    trigers: [x]\n", 4, "run[0].trigers", `did you mean "trigger"?`},
		{"key at the wrong level", sync0 + "ignore: [x]\n", 2, "ignore", "belongs inside a sync entry"},
		{"run key inside sync", "sync:\n  - {from: src, to: /app, cmd: make}\n", 2, "sync[0].cmd", "belongs inside a run entry"},
		{"unknown key far from any", sync0 + "image: web:latest\n", 2, "image", "allowed in the top level are container, sync"},
		{"non-string key", sync0 + "1: x\n", 2, "", "keys here are container"},
		{"repeated key", sync0 + "restart: none\nrestart: process\n", 3, "restart", "first on line 2"},

		// Wrong types.
		{"sync is a mapping", "sync:\n  from: src\n  to: /app\n", 2, "sync", "must be a list"},
		{"sync is a string", "sync: ./src\n", 1, "sync", "sync: [{from: ./src, to: /app/src}]"},
		{"sync entry is a string", "sync:\n  - ./src\n", 2, "sync[0]", "must be a mapping with keys from, to, ignore, keep, sizeLimit, medium"},
		{"from is a number", "sync: [{from: 1, to: /app}]\n", 1, "sync[0].from", `quote it, as in from: "1"`},
		{"to is a list", "sync: [{from: src, to: [/app]}]\n", 1, "sync[0].to", "must be a string, not a list"},
		{"ignore is a string", "sync:\n  - from: src\n    to: /app\n    ignore: '*.pyc'\n", 4, "sync[0].ignore", `ignore: ["**/*.go", "go.mod"]`},
		{"ignore item is a mapping", "sync:\n  - from: src\n    to: /app\n    ignore:\n      - {a: b}\n", 5, "sync[0].ignore[0]", "must be a string"},
		{"run is a mapping", sync0 + "run:\n  cmd: make\n", 3, "run", "must be a list"},
		{"run entry is a string", sync0 + "run:\n  - make\n", 3, "run[0]", "must be a mapping with keys cmd, trigger"},
		{"trigger is a mapping", sync0 + "run:\n  - cmd: make\n    trigger: {a: b}\n", 4, "run[0].trigger", "must be a list"},
		{"container is a list", sync0 + "container: [web]\n", 2, "container", "must be a string"},
		{"restart is a boolean", sync0 + "restart: true\n", 2, "restart", `quote it`},
		{"command is a string", sync0 + "command: /app/bin/server --port 8080\n", 2, "command", `command: ["/app/bin/server", "--port", "8080"]`},
		{"command item is a number", sync0 + "command: [/app/server, 8080]\n", 2, "command[1]", `quote it, as in command: "8080"`},
		{"fallback is a string", sync0 + "fallback: Dockerfile\n", 2, "fallback", "must be a list"},

		// Sync entries.
		{"empty sync list", "sync: []\n", 1, "sync", "add at least one entry"},
		{"missing sync", "restart: none\n", 1, "sync", "is required"},
		{"missing from", "sync:\n  - to: /app\n", 2, "sync[0].from", "add from: ./src"},
		{"missing to", "sync:\n  - from: src\n", 2, "sync[0].to", "add to: /app/src"},
		{"empty from", "sync:\n  - from: ''\n    to: /app\n", 2, "sync[0].from", "must not be empty"},
		{"multi-line to", "sync:\n  - from: src\n    to: \"/app\\nx\"\n", 3, "sync[0].to", "single line"},
		{"relative to", "sync:\n  - from: src\n    to: app/src\n", 3, "sync[0].to", "absolute in-pod path such as /app/src"},
		{"to with dot-dot", "sync:\n  - from: src\n    to: /app/../etc\n", 3, "sync[0].to", `contains "..": write the absolute in-pod directory it means, such as /etc`},
		{"to not clean", "sync:\n  - from: src\n    to: /app//src\n", 3, "sync[0].to", "write /app/src"},
		{"to with dot segment", "sync:\n  - from: src\n    to: /app/./src\n", 3, "sync[0].to", "write /app/src"},
		{"to is root", "sync:\n  - from: src\n    to: /\n", 3, "sync[0].to", "sync into a directory such as /app/src"},
		{"to in proc", "sync:\n  - from: src\n    to: /proc/self\n", 3, "sync[0].to", "inside /proc"},
		{"duplicate to", "sync:\n  - {from: a, to: /app}\n  - {from: b, to: /app/}\n", 3, "sync[1].to", "same directory as sync[0].to (/app, line 2)"},
		{"to nested inside an earlier one", "sync:\n  - {from: a, to: /app}\n  - {from: b, to: /app/static}\n", 3, "sync[1].to", "must not nest"},
		{"to containing an earlier one", "sync:\n  - {from: a, to: /app/static}\n  - {from: b, to: /app}\n", 3, "sync[1].to", "/app contains sync[0].to"},
		{"from escapes", "sync:\n  - from: ../shared\n    to: /app\n", 2, "sync[0].from", `remove the ".."`},
		{"from escapes after cleaning", "sync:\n  - from: src/../../x\n    to: /app\n", 2, "sync[0].from", "--dir"},
		{"from is absolute", "sync:\n  - from: /home/me/src\n    to: /app\n", 2, "sync[0].from", "relative to the directory `up` runs in"},
		{"from uses backslashes", "sync:\n  - from: .\\src\n    to: /app\n", 2, "sync[0].from", "forward slashes"},

		// Sync volume.
		{"size limit not a quantity", "sync:\n  - from: src\n    to: /app\n    sizeLimit: big\n", 4, "sync[0].sizeLimit", "write a Kubernetes quantity such as 512Mi"},
		{"size limit zero", "sync:\n  - from: src\n    to: /app\n    sizeLimit: 0\n", 4, "sync[0].sizeLimit", "must be more than zero"},
		{"size limit a list", "sync:\n  - from: src\n    to: /app\n    sizeLimit: [1Gi]\n", 4, "sync[0].sizeLimit", "must be a size such as 512Mi, not a list"},
		{"medium lowercase", "sync:\n  - from: src\n    to: /app\n    medium: memory\n", 4, "sync[0].medium", `did you mean "Memory"?`},
		{"medium unknown", "sync:\n  - from: src\n    to: /app\n    medium: HugePages\n", 4, "sync[0].medium", `write "Memory" for a tmpfs`},
		{"size limit at the top", sync0 + "sizeLimit: 1Gi\n", 2, "sizeLimit", "belongs inside a sync entry"},

		// Globs.
		{"bad ignore glob", "sync:\n  - from: src\n    to: /app\n    ignore: [ok, '[abc']\n", 4, "sync[0].ignore[1]", `close every "["`},
		{"bad keep glob", "sync:\n  - from: src\n    to: /app\n    keep: ['[abc']\n", 4, "sync[0].keep[0]", `close every "["`},
		{"keep is a string", "sync:\n  - from: src\n    to: /app\n    keep: '*.db'\n", 4, "sync[0].keep", `keep: ["**/*.go", "go.mod"]`},
		{"keep at the top", sync0 + "keep: [x]\n", 2, "keep", "belongs inside a sync entry (sync[].keep)"},
		{"unknown sync key close to keep", "sync:\n  - from: src\n    to: /app\n    kepe: [x]\n", 4, "sync[0].kepe", `did you mean "keep"?`},
		{"bad trigger glob", sync0 + "run:\n  - cmd: make\n    trigger:\n      - '{a,b'\n", 5, "run[0].trigger[0]", "not a valid glob"},
		{"bad fallback glob", sync0 + "fallback: ['Docker[file']\n", 2, "fallback[0]", "not a valid glob"},
		{"empty glob", sync0 + "fallback: ['']\n", 2, "fallback[0]", "empty glob"},
		{"empty trigger list", sync0 + "run:\n  - cmd: make\n    trigger: []\n", 4, "run[0].trigger", "remove trigger to run on every update"},

		// Run commands.
		{"missing cmd", sync0 + "run:\n  - trigger: [x]\n", 3, "run[0].cmd", "add cmd: go build ./..."},
		{"empty cmd", sync0 + "run:\n  - cmd: '  '\n", 3, "run[0].cmd", "must not be empty"},
		{"empty program in cmd", sync0 + "run:\n  - cmd: \"'' make\"\n", 3, "run[0].cmd", "write the program first"},
		{"comment-only cmd", sync0 + "run:\n  - cmd: '# later'\n", 3, "run[0].cmd", "write the command to run"},
		{"multi-line cmd", sync0 + "run:\n  - cmd: |\n      make\n      make install\n", 3, "run[0].cmd", "one run entry per command"},
		{"unclosed quote", sync0 + "run:\n  - cmd: echo 'hi\n", 3, "run[0].cmd", "close every quote"},
		{"and-and", sync0 + "run:\n  - cmd: go build && go vet\n", 3, "run[0].cmd", `uses "&&"`},
		{"sh -c suggestion", sync0 + "run:\n  - cmd: go build && go vet\n", 3, "run[0].cmd", "write cmd: sh -c 'go build && go vet'"},
		{"pipe", sync0 + "run:\n  - cmd: go test | tee out\n", 3, "run[0].cmd", `uses "|"`},
		{"semicolon", sync0 + "run:\n  - cmd: make; make install\n", 3, "run[0].cmd", `uses ";"`},
		{"redirect out", sync0 + "run:\n  - cmd: go build 2>&1\n", 3, "run[0].cmd", `uses ">"`},
		{"redirect in", sync0 + "run:\n  - cmd: psql < schema.sql\n", 3, "run[0].cmd", `uses "<"`},
		{"command substitution", sync0 + "run:\n  - cmd: go build -ldflags=-X=main.v=$(git describe)\n", 3, "run[0].cmd", `uses "$("`},
		{"backticks", sync0 + "run:\n  - cmd: echo `date`\n", 3, "run[0].cmd", "sh -c 'echo `date`'"},
		{"variable", sync0 + "run:\n  - cmd: go build -o $OUT .\n", 3, "run[0].cmd", "needs a shell"},
		{"background", sync0 + "run:\n  - cmd: 'server &'\n", 3, "run[0].cmd", `uses "&"`},
		{"single quote in cmd", sync0 + "run:\n  - cmd: echo \"it's\" && true\n", 3, "run[0].cmd", "sh -c '...'"},
		{"env assignment", sync0 + "run:\n  - cmd: CGO_ENABLED=0 go build\n", 3, "run[0].cmd", "env CGO_ENABLED=0 go build"},
		{"shell builtin", sync0 + "run:\n  - cmd: cd /app\n", 3, "run[0].cmd", "shell builtin"},

		// Scalars.
		{"restart typo", sync0 + "restart: proces\n", 2, "restart", `did you mean "process"?`},
		{"restart unknown", sync0 + "restart: pod\n", 2, "restart", "use one of process, container, none"},
		{"container name", sync0 + "container: Web_App\n", 2, "container", "use a name from the pod spec"},
		{"empty command list", sync0 + "command: []\n", 2, "command", "remove the key to use the pod spec's command"},
		{"empty program", sync0 + "command: ['', x]\n", 2, "command[0]", "must name the program"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.text)
			if err == nil {
				t.Fatalf("Parse succeeded with %#v, want an error", got)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse error %T (%v), want *Error", err, err)
			}
			if e.Line != tt.line || e.Key != tt.key {
				t.Errorf("error at line %d key %q, want line %d key %q: %v", e.Line, e.Key, tt.line, tt.key, err)
			}
			if !strings.Contains(e.Msg, tt.fix) {
				t.Errorf("message %q does not contain %q", e.Msg, tt.fix)
			}
			if !strings.HasPrefix(err.Error(), "annotation "+AnnotationKey) {
				t.Errorf("error %q does not name the annotation", err)
			}
		})
	}
}

func ptrQuantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}
