package rules

import (
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// Bounds of a run entry's timeout. Below a second a step is stopped before it can start; a step
// that needs a day is not part of an edit loop.
const (
	minStepTimeout = time.Second
	maxStepTimeout = 24 * time.Hour
)

// stepTimeout reads a run entry's timeout: a Go duration such as 90s, 2m or 1h30m.
func stepTimeout(f field) (time.Duration, error) {
	def := protocol.FormatTimeout(protocol.DefaultStepTimeout)
	n := f.val
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!str" && n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
		return 0, errorf(f.path, n.Line, "must be a duration such as 2m or 90s, not %s (the default is %s)", describe(n), def)
	}
	if n.ShortTag() != "!!str" {
		return 0, errorf(f.path, n.Line, "%s has no unit: write timeout: %ss (or m, h)", n.Value, n.Value)
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		return 0, errorf(f.path, n.Line, "%q is not a duration: write one such as 2m, 90s or 1h30m (the default is %s)", n.Value, def)
	}
	if d < minStepTimeout || d > maxStepTimeout {
		return 0, errorf(f.path, n.Line, "%s is out of range: write a duration from %s to %s, or remove the key for the default %s",
			n.Value, protocol.FormatTimeout(minStepTimeout), protocol.FormatTimeout(maxStepTimeout), def)
	}
	return d, nil
}
