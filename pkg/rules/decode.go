package rules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/google/shlex"
	"go.yaml.in/yaml/v3"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// field is one key/value pair of a YAML mapping, with its key path.
type field struct {
	path     string
	key, val *yaml.Node
}

// belongs tells where a key lives when it is written at the wrong level.
var belongs = map[string]string{
	"container": "at the top level",
	"sync":      "at the top level",
	"run":       "at the top level",
	"restart":   "at the top level",
	"command":   "at the top level",
	"fallback":  "at the top level",
	"forward":   "at the top level",
	"synclet":   "at the top level",
	"resources": "inside synclet (synclet.resources)",
	"from":      "inside a sync entry (sync[].from)",
	"to":        "inside a sync entry (sync[].to)",
	"ignore":    "inside a sync entry (sync[].ignore)",
	"keep":      "inside a sync entry (sync[].keep)",
	"download":  "inside a sync entry (sync[].download)",
	"sizeLimit": "inside a sync entry (sync[].sizeLimit)",
	"medium":    "inside a sync entry (sync[].medium)",
	"cmd":       "inside a run entry (run[].cmd)",
	"trigger":   "inside a run entry (run[].trigger)",
	"timeout":   "inside a run entry (run[].timeout)",
}

// resolve follows an alias to the node it names. Anchors are resolved only
// where the schema reads a node, so a self-referencing alias cannot recurse.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's YAML type for "must be X, not Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!null":
			return "empty"
		case "!!bool":
			return "true/false"
		case "!!int", "!!float":
			return "a number"
		}
		return fmt.Sprintf("a %s value", n.ShortTag())
	}
	return "an unsupported value"
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

// mapping checks that n is a mapping whose keys are all known and unique, and
// returns its fields by key. Keys given an explicit null are left out, so
// "key:" with no value reads as if the key were absent.
func mapping(n *yaml.Node, at string, known []string) (map[string]field, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errorf(at, n.Line, "must be a mapping with keys %s, not %s", strings.Join(known, ", "), describe(n))
	}
	fields := map[string]field{}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k == nil || v == nil {
			return nil, errorf(at, n.Line, "holds an alias that names nothing: remove it")
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			return nil, errorf(at, k.Line, "has a key that is %s: keys here are %s", describe(k), strings.Join(known, ", "))
		}
		path := join(at, k.Value)
		if !contains(known, k.Value) {
			return nil, errorf(path, k.Line, "%s", unknownKey(k.Value, at, known))
		}
		if first, dup := seen[k.Value]; dup {
			return nil, errorf(path, k.Line, "is given twice (first on line %d): keep one", first)
		}
		seen[k.Value] = k.Line
		if !isNull(v) {
			fields[k.Value] = field{path: path, key: k, val: v}
		}
	}
	return fields, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func unknownKey(key, at string, known []string) string {
	msg := fmt.Sprintf("unknown key %q", key)
	if where, ok := belongs[key]; ok {
		return fmt.Sprintf("%s here: it belongs %s", msg, where)
	}
	if s := suggest(key, known); s != "" {
		return fmt.Sprintf("%s: did you mean %q?", msg, s)
	}
	if at == "" {
		at = "the top level"
	}
	return fmt.Sprintf("%s: the keys allowed in %s are %s", msg, at, strings.Join(known, ", "))
}

// suggest returns the known word closest to word, if it is close enough to be
// a likely typo (edit distance at most 2, ignoring case), else "".
func suggest(word string, known []string) string {
	best, bestDist := "", 3
	lw := strings.ToLower(word)
	for _, k := range known {
		if d := distance(lw, k); d < bestDist && d < len(k) {
			best, bestDist = k, d
		}
	}
	return best
}

// distance is the Levenshtein edit distance between a and b, in bytes.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64 // far enough apart; keeps hostile input cheap
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// str reads a string scalar. Plain scalars that YAML reads as numbers or
// booleans are refused rather than converted, with a hint to quote them.
func str(n *yaml.Node, key string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", errorf(key, n.Line, "must be a string, not %s", describe(n))
	}
	if n.ShortTag() != "!!str" {
		return "", errorf(key, n.Line, "must be a string, not %s: quote it, as in %s: %q", describe(n), lastKey(key), n.Value)
	}
	if err := placeholder(n.Value, key, n.Line); err != nil { // a value `init` asks the user for
		return "", err
	}
	return n.Value, nil
}

func lastKey(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		path = path[i+1:]
	}
	if i := strings.IndexByte(path, '['); i >= 0 {
		path = path[:i]
	}
	return path
}

// list reads a sequence; example shows the expected form in the error when n
// is a single value instead.
func list(n *yaml.Node, key, example string) ([]*yaml.Node, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, errorf(key, n.Line, "must be a list, not %s: write it as %s", describe(n), example)
	}
	items := make([]*yaml.Node, 0, len(n.Content))
	for i, item := range n.Content {
		item = resolve(item)
		if item == nil {
			return nil, errorf(fmt.Sprintf("%s[%d]", key, i), n.Line, "is an alias that names nothing: remove it")
		}
		items = append(items, item)
	}
	return items, nil
}

// patterns reads a list of doublestar globs, refusing empty or invalid ones.
func patterns(n *yaml.Node, key string) ([]string, error) {
	items, err := list(n, key, fmt.Sprintf(`%s: ["**/*.go", "go.mod"]`, lastKey(key)))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		k := fmt.Sprintf("%s[%d]", key, i)
		p, err := str(item, k)
		if err != nil {
			return nil, err
		}
		if p == "" {
			return nil, errorf(k, item.Line, `is an empty glob: remove it or write a pattern such as "**/*.go"`)
		}
		if !doublestar.ValidatePattern(p) {
			return nil, errorf(k, item.Line, `%q is not a valid glob: close every "[" and "{", and escape a literal one with "\\"`, p)
		}
		out = append(out, p)
	}
	return out, nil
}

// dnsLabel is the Kubernetes rule for container names (RFC 1123 label).
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func containerName(n *yaml.Node, key string) (string, error) {
	s, err := str(n, key)
	if err != nil {
		return "", err
	}
	if len(s) > 63 || !dnsLabel.MatchString(s) {
		return "", errorf(key, n.Line, "%q is not a container name: use a name from the pod spec's containers (lowercase letters, digits and '-'), or remove the key to use the first container", s)
	}
	return s, nil
}

func parseRestart(n *yaml.Node, key string) (protocol.Restart, error) {
	s, err := str(n, key)
	if err != nil {
		return "", err
	}
	if contains(restartValues, s) {
		return protocol.Restart(s), nil
	}
	msg := fmt.Sprintf("%q is not a restart mode: use one of %s", s, strings.Join(restartValues, ", "))
	if sg := suggest(s, restartValues); sg != "" {
		msg = fmt.Sprintf("%q is not a restart mode: did you mean %q? (one of %s)", s, sg, strings.Join(restartValues, ", "))
	}
	return "", errorf(key, n.Line, "%s", msg)
}

func parseCommand(n *yaml.Node, key string) ([]string, error) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		return nil, errorf(key, n.Line, "must be a list of words, not a string: write command: %s", quoteList(n.Value))
	}
	items, err := list(n, key, `command: ["/app/bin/server", "--port", "8080"]`)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, errorf(key, n.Line, "is an empty list: give the program and its arguments, or remove the key to use the pod spec's command")
	}
	argv := make([]string, 0, len(items))
	for i, item := range items {
		s, err := str(item, fmt.Sprintf("%s[%d]", key, i))
		if err != nil {
			return nil, err
		}
		argv = append(argv, s)
	}
	if argv[0] == "" {
		return nil, errorf(key+"[0]", items[0].Line, "is empty: it must name the program to run, such as /app/bin/server")
	}
	return argv, nil
}

// quoteList renders s as a YAML flow list of its words, for error hints.
func quoteList(s string) string {
	words, err := shlex.Split(s)
	if err != nil {
		words = strings.Fields(s)
	}
	if len(words) == 0 {
		return `["/app/bin/server"]`
	}
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = strconv.Quote(w)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
