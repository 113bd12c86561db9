package rules

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FileEntry is the rules of one workload in a rules file (`kubectl fastdev up -f FILE`).
type FileEntry struct {
	// Target is the workload as the file names it: "[TYPE/]NAME", such as "deployment/web" or "web".
	// The command resolves it; this package only checks that it is a non-empty string.
	Target string
	// Text is the entry's rules as they go into the workload's annotation: the file's own lines,
	// comments included, without the file's indentation.
	Text string
	// Rules is Text, parsed and validated.
	Rules *Rules
	// Line is the line of the entry's key in the file, for error messages.
	Line int
}

// FileError is a mistake in a rules file: the file, the line in it, the workload whose rules hold
// the mistake (empty for the file's own layout) and the key path within those rules.
type FileError struct {
	File   string
	Line   int
	Target string
	Key    string
	Msg    string
}

// Error renders the mistake as `fastdev.yaml, line 7, deployment/web, key "sync[0].to": <message>`.
func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ", line %d", e.Line)
	}
	if e.Target != "" {
		b.WriteString(", " + e.Target)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ", key %q", e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

const fileExample = "deployment/web:\n  sync:\n    - from: ./src\n      to: /app/src"

// LoadFile reads and parses the rules file at name (see ParseFile).
func LoadFile(name string) ([]FileEntry, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("reading rules file: %w (check the path given to -f)", err)
	}
	return ParseFile(name, string(data))
}

// ParseFile reads a rules file: a YAML mapping from each workload ("[TYPE/]NAME") to its rules, in
// the annotation's schema. Every entry is parsed strictly; the first mistake is a *FileError naming
// the file, the line in the file and the key. Entries keep the file's order.
func ParseFile(name, text string) ([]FileEntry, error) {
	root, err := document(text)
	if err != nil {
		return nil, fileError(name, "", 0, err)
	}
	if root == nil || isNull(root) {
		return nil, &FileError{File: name, Line: 1, Msg: "holds no workload: write one entry per workload, such as\n" + fileExample}
	}
	if root.Kind != yaml.MappingNode {
		return nil, &FileError{File: name, Line: root.Line, Msg: fmt.Sprintf("must be a mapping from workloads to their rules, not %s; write it as\n%s", describe(root), fileExample)}
	}
	lines := strings.Split(text, "\n")
	var out []FileEntry
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		target, err := fileTarget(name, k, seen)
		if err != nil {
			return nil, err
		}
		if v.Kind == yaml.AliasNode {
			return nil, &FileError{File: name, Line: v.Line, Target: target, Msg: "is an alias (*name): write each workload's rules in full, so each annotation holds them all"}
		}
		end := len(lines)
		if i+2 < len(root.Content) {
			end = root.Content[i+2].Line - 1
		}
		body, first := entryText(lines, k, v, end)
		r, err := Parse(body)
		if err != nil {
			return nil, fileError(name, target, first-1, err)
		}
		out = append(out, FileEntry{Target: target, Text: body, Rules: r, Line: k.Line})
	}
	return out, nil
}

// fileTarget reads one top-level key: a workload, named once.
func fileTarget(name string, k *yaml.Node, seen map[string]int) (string, error) {
	if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" || strings.TrimSpace(k.Value) == "" {
		return "", &FileError{File: name, Line: k.Line, Msg: "has a key that is not a workload name: the top-level keys name workloads, such as deployment/web"}
	}
	if contains(topKeys, k.Value) {
		return "", &FileError{File: name, Line: k.Line, Key: k.Value, Msg: "is a rules key at the top level: a rules file maps each workload to its rules; nest them under the workload, as in\n" + fileExample}
	}
	if first, dup := seen[k.Value]; dup {
		return "", &FileError{File: name, Line: k.Line, Target: k.Value, Msg: fmt.Sprintf("is given twice (first on line %d): keep one entry per workload", first)}
	}
	seen[k.Value] = k.Line
	return k.Value, nil
}

// entryText returns the text of the value v of key k, whose entry ends at line end (1-based,
// inclusive), and the file line of the text's first line. A block value keeps its lines, dedented
// by its indentation, so a line number in it maps back to the file by an offset; a value on the
// key's own line (a flow mapping, a scalar) is cut from its column on.
func entryText(lines []string, k, v *yaml.Node, end int) (string, int) {
	if isNull(v) {
		return "", k.Line
	}
	start, col := v.Line, v.Column-1
	if start == k.Line {
		first := lines[start-1]
		if col > len(first) {
			col = len(first)
		}
		rest := append([]string{first[col:]}, lines[start:max(start, end)]...)
		return strings.Join(rest, "\n"), start
	}
	var body []string
	for _, l := range lines[start-1 : max(start, end)] {
		switch {
		case len(l) >= col && strings.TrimSpace(l[:col]) == "":
			body = append(body, l[col:])
		default: // a blank line or a comment indented less than the entry: not part of the value
			body = append(body, strings.TrimLeft(l, " "))
		}
	}
	return strings.Join(body, "\n"), start
}

// fileError places an annotation *Error of one entry (offset lines below the file's first) in
// the file.
func fileError(name, target string, offset int, err error) error {
	var re *Error
	if !errors.As(err, &re) {
		return &FileError{File: name, Target: target, Msg: err.Error()}
	}
	line := 0
	if re.Line > 0 {
		line = re.Line + offset
	}
	return &FileError{File: name, Line: line, Target: target, Key: re.Key, Msg: re.Msg}
}

// IsPlaceholder reports whether s is a value `kubectl fastdev init` left for the user to fill in,
// written as "<what to write here>": the rules refuse it, naming what it asks for.
func IsPlaceholder(s string) bool {
	return len(s) > 2 && strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">")
}

// placeholder refuses a string value that is still init's placeholder.
func placeholder(s, key string, line int) error {
	if !IsPlaceholder(s) {
		return nil
	}
	return errorf(key, line, "is still the placeholder %q that `kubectl fastdev init` could not guess: replace it with %s", s, strings.Trim(s, "<>"))
}
