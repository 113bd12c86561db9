package rules

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Forward is one entry of the rules' forward list: connections to port Local on the developer's
// machine go to port Remote of a ready pod of the Deployment.
type Forward struct {
	Local, Remote int
	// Line is where the entry is in the annotation (0 for one given by a flag), for error messages.
	Line int
}

// String renders the forward as it is written: "LOCAL:REMOTE", or "PORT" when both are the same.
func (f Forward) String() string {
	if f.Local == f.Remote {
		return strconv.Itoa(f.Local)
	}
	return fmt.Sprintf("%d:%d", f.Local, f.Remote)
}

const forwardExample = `forward: ["18080:8080", "9090"]`

// ParseForward reads one forward as the rules and the --forward flag write it: "LOCAL:REMOTE"
// ("18080:8080") or "PORT" (the same port on both sides). The error says what is wrong without a
// location or the value: the caller names the key or the flag, and the value.
func ParseForward(s string) (Forward, error) {
	localText, remoteText, pair := strings.Cut(strings.TrimSpace(s), ":")
	if !pair {
		remoteText = localText
	}
	local, err := port(localText, "local")
	if err != nil {
		return Forward{}, err
	}
	remote, err := port(remoteText, "remote")
	if err != nil {
		return Forward{}, err
	}
	return Forward{Local: local, Remote: remote}, nil
}

// port reads one side of a forward: a TCP port, 1-65535.
func port(s, side string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("the %s port is missing: write LOCAL:REMOTE such as 18080:8080, or one PORT such as 8080", side)
	}
	n, err := strconv.Atoi(s)
	if err != nil || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("the %s port %q is not a number: write LOCAL:REMOTE such as 18080:8080", side, s)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("the %s port %d is out of range: ports are 1-65535", side, n)
	}
	return n, nil
}

// parseForwards reads the forward list: strings "LOCAL:REMOTE" or "PORT" (a bare number is accepted
// too), no local port twice. An empty list is kept as empty, not nil: it turns the default
// forwarding of the container's ports off.
func parseForwards(f field) ([]Forward, error) {
	items, err := list(f.val, "forward", forwardExample)
	if err != nil {
		return nil, err
	}
	out := make([]Forward, 0, len(items))
	for i, item := range items {
		key := fmt.Sprintf("forward[%d]", i)
		if item.Kind != yaml.ScalarNode || (item.ShortTag() != "!!str" && item.ShortTag() != "!!int") {
			return nil, errorf(key, item.Line, "must be a string such as \"18080:8080\", not %s", describe(item))
		}
		fw, err := ParseForward(item.Value)
		if err != nil {
			return nil, errorf(key, item.Line, "%q: %v", item.Value, err)
		}
		fw.Line = item.Line
		for j, prev := range out {
			if prev.Local == fw.Local {
				return nil, errorf(key, item.Line, "local port %d is forwarded twice (forward[%d], line %d): give each forward its own local port, e.g. \"%d:%d\"",
					fw.Local, j, prev.Line, fw.Local+1, fw.Remote)
			}
		}
		out = append(out, fw)
	}
	return out, nil
}
