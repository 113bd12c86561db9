package rules

import (
	"fmt"
	"path"
	"strings"

	"github.com/google/shlex"
	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
)

const syncExample = `sync: [{from: ./src, to: /app/src}]`

// kernelDirs are in-pod trees the kernel owns; mounting over them breaks the
// container, so a sync into them is refused.
var kernelDirs = []string{"/proc", "/sys", "/dev"}

func parseSyncs(f field) ([]Sync, error) {
	items, err := list(f.val, f.path, syncExample)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, errorf(f.path, f.val.Line, "is an empty list: add at least one entry such as %s", syncExample)
	}
	out := make([]Sync, 0, len(items))
	toLines := make([]int, 0, len(items))
	for i, item := range items {
		at := fmt.Sprintf("%s[%d]", f.path, i)
		fields, err := mapping(item, at, []string{"from", "to", "ignore", "keep", "sizeLimit", "medium", "download"})
		if err != nil {
			return nil, err
		}
		s := Sync{Line: item.Line}
		if s.From, err = syncFrom(fields, at, item.Line); err != nil {
			return nil, err
		}
		if s.To, err = syncTo(fields, at, item.Line); err != nil {
			return nil, err
		}
		if g, ok := fields["ignore"]; ok {
			if s.Ignore, err = patterns(g.val, g.path); err != nil {
				return nil, err
			}
		}
		if g, ok := fields["keep"]; ok {
			if s.Keep, err = patterns(g.val, g.path); err != nil {
				return nil, err
			}
		}
		if g, ok := fields["download"]; ok {
			if s.Download, err = parseDownload(g, s); err != nil {
				return nil, err
			}
		}
		if g, ok := fields["sizeLimit"]; ok {
			if s.SizeLimit, err = sizeLimit(g); err != nil {
				return nil, err
			}
		}
		if g, ok := fields["medium"]; ok {
			if s.Medium, err = medium(g); err != nil {
				return nil, err
			}
		}
		toLine := fields["to"].val.Line
		for j, prev := range out {
			if err := overlap(prev.To, s.To, j, toLines[j], at+".to", toLine); err != nil {
				return nil, err
			}
		}
		out = append(out, s)
		toLines = append(toLines, toLine)
	}
	return out, nil
}

// sizeLimit reads a Kubernetes quantity such as 512Mi: the cap on the entry's in-pod volume.
func sizeLimit(f field) (*resource.Quantity, error) {
	var s string
	switch n := f.val; {
	case n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!str" || n.ShortTag() == "!!int"):
		s = n.Value
	default:
		return nil, errorf(f.path, f.val.Line, "must be a size such as 512Mi, not %s", describe(f.val))
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return nil, errorf(f.path, f.val.Line, "%q is not a size: write a Kubernetes quantity such as 512Mi or 2Gi", s)
	}
	if q.Sign() <= 0 {
		return nil, errorf(f.path, f.val.Line, "%q must be more than zero: write a size such as 512Mi, or remove the key for no limit", s)
	}
	return &q, nil
}

// medium reads the sync volume's medium: Memory, or empty for the node's disk.
func medium(f field) (string, error) {
	s, err := str(f.val, f.path)
	if err != nil {
		return "", err
	}
	switch s {
	case "", MediumMemory:
		return s, nil
	case "memory", "tmpfs", "RAM":
		return "", errorf(f.path, f.val.Line, "%q is not a medium: did you mean %q? (or remove the key to use the node's disk)", s, MediumMemory)
	}
	return "", errorf(f.path, f.val.Line, "%q is not a medium: write %q for a tmpfs, or remove the key to use the node's disk", s, MediumMemory)
}

// required reads a non-empty, single-line string value.
func required(fields map[string]field, at, key string, line int, example string) (string, *yaml.Node, error) {
	f, ok := fields[key]
	if !ok {
		return "", nil, errorf(join(at, key), line, "is required: add %s: %s", key, example)
	}
	s, err := str(f.val, f.path)
	if err != nil {
		return "", nil, err
	}
	if strings.TrimSpace(s) == "" {
		return "", nil, errorf(f.path, f.val.Line, "must not be empty: write %s: %s", key, example)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", nil, errorf(f.path, f.val.Line, "must be a single line without control characters, such as %s: %s", key, example)
	}
	return s, f.val, nil
}

func syncFrom(fields map[string]field, at string, line int) (string, error) {
	s, n, err := required(fields, at, "from", line, "./src")
	if err != nil {
		return "", err
	}
	key := at + ".from"
	switch {
	case strings.Contains(s, `\`):
		return "", errorf(key, n.Line, "%q uses backslashes: write local paths with forward slashes, such as ./src", s)
	case path.IsAbs(s):
		return "", errorf(key, n.Line, "%q is absolute: write it relative to the directory `up` runs in, such as ./src, or pass --dir", s)
	}
	clean := path.Clean(s)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", errorf(key, n.Line, "%q leaves the directory `up` runs in: remove the \"..\", or run up (or pass --dir) from a parent directory", s)
	}
	return clean, nil
}

func syncTo(fields map[string]field, at string, line int) (string, error) {
	s, n, err := required(fields, at, "to", line, "/app/src")
	if err != nil {
		return "", err
	}
	key := at + ".to"
	if !strings.HasPrefix(s, "/") {
		return "", errorf(key, n.Line, "must be an absolute in-pod path such as /app/src")
	}
	trimmed := s
	if len(trimmed) > 1 {
		trimmed = strings.TrimSuffix(trimmed, "/") // "/app/src/" is a harmless way to say "/app/src"
	}
	clean := path.Clean(trimmed)
	switch {
	case contains(strings.Split(s, "/"), ".."):
		return "", errorf(key, n.Line, "%q contains \"..\": write the absolute in-pod directory it means, such as %s", s, clean)
	case trimmed != clean:
		return "", errorf(key, n.Line, "%q is not a clean path: write %s", s, clean)
	case clean == "/":
		return "", errorf(key, n.Line, "cannot be \"/\": the synced directory replaces what the image has there; sync into a directory such as /app/src")
	}
	for _, k := range kernelDirs {
		if within(clean, k) {
			return "", errorf(key, n.Line, "%q is inside %s, which the kernel owns: sync into an application directory such as /app/src", s, k)
		}
	}
	return clean, nil
}

// within reports whether p is dir or below it; both are clean absolute paths.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// overlap refuses two sync entries whose to paths are equal or nested: each
// to becomes its own volume mount, and the synclet must know which entry owns
// every in-pod file.
func overlap(prev, cur string, prevIdx, prevLine int, key string, line int) error {
	other := fmt.Sprintf("sync[%d].to (%s, line %d)", prevIdx, prev, prevLine)
	switch {
	case prev == cur:
		return errorf(key, line, "is the same directory as %s: merge the two entries or pick another directory", other)
	case within(cur, prev):
		return errorf(key, line, "%s is inside %s: sync directories must not nest; drop this entry or use sibling directories", cur, other)
	case within(prev, cur):
		return errorf(key, line, "%s contains %s: sync directories must not nest; drop one entry or use sibling directories", cur, other)
	}
	return nil
}

func parseSteps(f field) ([]Step, error) {
	items, err := list(f.val, f.path, `run: [{cmd: "go build ./...", trigger: ["**/*.go"]}]`)
	if err != nil {
		return nil, err
	}
	out := make([]Step, 0, len(items))
	for i, item := range items {
		at := fmt.Sprintf("%s[%d]", f.path, i)
		fields, err := mapping(item, at, []string{"cmd", "trigger", "timeout"})
		if err != nil {
			return nil, err
		}
		s := Step{Line: item.Line}
		if s.Cmd, s.Argv, err = command(fields, at, item.Line); err != nil {
			return nil, err
		}
		if t, ok := fields["trigger"]; ok {
			if s.Trigger, err = patterns(t.val, t.path); err != nil {
				return nil, err
			}
			if len(s.Trigger) == 0 {
				return nil, errorf(t.path, t.val.Line, "is an empty list, so the step would never run: remove trigger to run on every update, or list globs such as [\"**/*.go\"]")
			}
		}
		if t, ok := fields["timeout"]; ok {
			if s.Timeout, err = stepTimeout(t); err != nil {
				return nil, err
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// builtins exist only inside a shell, so exec-ing them fails.
var builtins = []string{"cd", "export", "source", ".", "set", "unset", "alias", "eval", "exec", "exit", "ulimit", "umask"}

// command reads a run step's cmd and splits it into argv, refusing anything
// that only a shell would understand: steps run without one, so they work in
// images that have no shell.
func command(fields map[string]field, at string, line int) (string, []string, error) {
	key := at + ".cmd"
	if f, ok := fields["cmd"]; ok && f.val.Kind == yaml.ScalarNode && f.val.ShortTag() == "!!str" && strings.Contains(strings.TrimSpace(f.val.Value), "\n") {
		return "", nil, errorf(key, f.val.Line, "spans several lines: write one run entry per command, or join them with sh -c '...'")
	}
	raw, n, err := required(fields, at, "cmd", line, "go build ./...")
	if err != nil {
		return "", nil, err
	}
	cmd := strings.TrimSpace(raw)
	if op := shellSyntax(cmd); op != "" {
		return "", nil, errorf(key, n.Line, "uses %q, which needs a shell, but run steps are executed without one: write cmd: %s (the image needs sh), or split it into separate run entries", op, shWrap(cmd))
	}
	argv, err := shlex.Split(cmd)
	if err != nil {
		return "", nil, errorf(key, n.Line, "cannot be split into words (%v): close every quote, or escape a literal quote with \\", err)
	}
	if len(argv) == 0 {
		return "", nil, errorf(key, n.Line, "has no command, only a comment: write the command to run, such as go build ./...")
	}
	if argv[0] == "" {
		return "", nil, errorf(key, n.Line, "starts with an empty program name: write the program first, such as go build ./...")
	}
	if isAssignment(argv[0]) {
		return "", nil, errorf(key, n.Line, "starts by setting %s, which needs a shell: write cmd: env %s, or sh -c '...'", argv[0], cmd)
	}
	if contains(builtins, argv[0]) {
		return "", nil, errorf(key, n.Line, "%q is a shell builtin, and run steps are executed without a shell: write cmd: %s (the image needs sh)", argv[0], shWrap(cmd))
	}
	return cmd, argv, nil
}

// shellSyntax returns the first shell operator or expansion in cmd that is
// outside quotes, or "".
// The quoting rules are shlex's, so what passes here splits the same way.
func shellSyntax(cmd string) string {
	var single, double bool
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		next := byte(0)
		if i+1 < len(cmd) {
			next = cmd[i+1]
		}
		switch {
		case single:
			single = c != '\''
			continue
		case c == '\\':
			i++
			continue
		case double:
			// Inside double quotes only a wrapped sh -c would expand $ and `,
			// and then the inner shell does; so nothing is refused here.
			double = c != '"'
			continue
		case c == '$' && (next == '(' || next == '{' || next == '_' || isLetter(next)):
			if next == '(' || next == '{' {
				return cmd[i : i+2]
			}
			return "$" + string(next) + "..."
		case c == '`':
			return "`"
		}
		switch c {
		case '\'':
			single = true
		case '"':
			double = true
		case '&', '|', '>', '<':
			if next == c {
				return cmd[i : i+2]
			}
			return string(c)
		case ';':
			return ";"
		}
	}
	return ""
}

func isLetter(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// isAssignment reports whether word has the shell form NAME=value.
func isAssignment(word string) bool {
	name, _, ok := strings.Cut(word, "=")
	if !ok || name == "" || (name[0] >= '0' && name[0] <= '9') {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c != '_' && !isLetter(c) && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// shWrap shows cmd as a sh -c step for error hints.
func shWrap(cmd string) string {
	if strings.Contains(cmd, "'") {
		return "sh -c '...'"
	}
	return "sh -c '" + cmd + "'"
}
