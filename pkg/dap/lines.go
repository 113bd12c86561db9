package dap

import (
	"path"
	"path/filepath"
	"strings"
)

// lineText returns line n (1-based) of src without surrounding blanks, and whether it exists.
func lineText(src []string, n int) (string, bool) {
	if n < 1 || n > len(src) {
		return "", false
	}
	return strings.TrimSpace(src[n-1]), true
}

// relocate finds where a breakpoint set on a line reading text is in the edited source: the line
// itself when it still reads text, else the nearest line that does (an edit above it moved it), else
// the old line number (the text changed: Delve then says whether code is there). A tie goes down:
// the usual edit adds lines above. Blank text, a line
// that was empty or not known, never moves.
func relocate(src []string, line int, text string) int {
	if text == "" {
		return line
	}
	if t, ok := lineText(src, line); ok && t == text {
		return line
	}
	for d := 1; d < len(src)+line; d++ {
		for _, n := range []int{line + d, line - d} {
			if t, ok := lineText(src, n); ok && t == text {
				return n
			}
		}
	}
	return line
}

// Mapping is one sync rule's pair of roots: a local directory and the in-pod path it is synced to.
// Delve translates paths with it (the attach request's substitutePath); the relay reads local sources
// with it.
type Mapping struct {
	Local string // absolute local directory (filepath)
	Pod   string // in-pod directory (slash path)
}

// localPath returns the local file a source path names: itself when it is local already, else the
// local counterpart of an in-pod path under one of the mappings.
func localPath(p string, maps []Mapping) (string, bool) {
	for _, m := range maps {
		if p == m.Local || strings.HasPrefix(p, m.Local+string(filepath.Separator)) {
			return p, true
		}
	}
	for _, m := range maps {
		rel, ok := strings.CutPrefix(p, m.Pod+"/")
		if ok && rel == path.Clean(rel) && rel != ".." && !strings.HasPrefix(rel, "../") {
			return filepath.Join(m.Local, filepath.FromSlash(rel)), true
		}
	}
	return "", false
}
