package logs

import (
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

// Mapper finds the in-pod paths of an item's text that lie under a sync `to` path and names the local
// file each was synced from, so an error points at the file the developer edits.
type Mapper struct {
	// Dir is the local directory the rules' `from` paths are relative to, as the user gave it
	// (`--dir`, default "."), so the local paths shown are relative when it is.
	Dir  string
	Sync []rules.Sync
	// Workdir is the app container's working directory: compiler errors (./main.go:22:18) and
	// build steps use paths relative to it.
	Workdir string
	// Exists, if set, keeps only local paths that exist (a Java frame names only "Main.java").
	Exists func(local string) bool
	// ReadFile, if set, reads a local file: a failed install step that names a package is mapped to
	// the line of the local package.json or requirements file that names it (packages.go).
	ReadFile func(local string) ([]byte, error)
}

// Only returns a copy of m that maps through the sync entries of app container app alone (the
// Sync.App of the rules' list form) from working directory workdir: a path in one container's output
// names that container's file, even where two containers sync to the same in-pod path.
func (m *Mapper) Only(app int, workdir string) *Mapper {
	c := *m
	c.Sync, c.Workdir = nil, workdir
	for _, s := range m.Sync {
		if s.App == app {
			c.Sync = append(c.Sync, s)
		}
	}
	return &c
}

var (
	rePyFile = regexp.MustCompile(`File "([^"]+)", line (\d+)`)
	// a path with an extension followed by :line and maybe :column, after a space, a bracket or a quote
	rePathLine = regexp.MustCompile(`(?:^|[\s(\['"])((?:\.{1,2}/|/)?[\w.@+~-]+(?:/[\w.@+~-]+)*\.[A-Za-z]\w*):(\d+)(?::(\d+))?`)
)

// Map sets it.Locations from the paths in it.Text.
func (m *Mapper) Map(it *Item) {
	if m == nil || len(m.Sync) == 0 {
		return
	}
	it.Locations = nil
	for i, line := range strings.Split(it.Text, "\n") {
		for _, g := range rePyFile.FindAllStringSubmatch(line, -1) {
			m.add(it, i, g[1], ":"+g[2], `File "`+g[1]+`", line `+g[2])
		}
		for _, g := range rePathLine.FindAllStringSubmatch(line, -1) {
			pos := ":" + g[2]
			if g[3] != "" {
				pos += ":" + g[3]
			}
			m.add(it, i, g[1], pos, g[1]+pos)
		}
	}
	m.mapPackages(it)
}

func (m *Mapper) add(it *Item, line int, p, pos, remote string) {
	local, ok := m.Local(p)
	if !ok {
		return
	}
	m.addLocation(it, Location{Line: line, Remote: remote, Local: local + pos})
}

// addLocation adds loc unless the item has it already.
func (m *Mapper) addLocation(it *Item, loc Location) {
	for _, l := range it.Locations {
		if l.Line == loc.Line && l.Local == loc.Local {
			return
		}
	}
	it.Locations = append(it.Locations, loc)
}

// Local returns the local file an in-pod path (absolute, or relative to Workdir) was synced from.
func (m *Mapper) Local(p string) (string, bool) {
	if !path.IsAbs(p) {
		// "./main.go" is the go command's way of naming a file under the working directory; a bare
		// "Main.java" (a Java frame) could be anywhere, so it counts only if the local file exists
		explicit := strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../")
		if m.Workdir == "" || (!explicit && m.Exists == nil) {
			return "", false
		}
		p = path.Join(m.Workdir, p)
	}
	p = path.Clean(p)
	syncs := append([]rules.Sync(nil), m.Sync...)
	sort.SliceStable(syncs, func(i, j int) bool { return len(syncs[i].To) > len(syncs[j].To) }) // the deepest `to` wins
	for _, s := range syncs {
		rel, ok := strings.CutPrefix(p, s.To)
		if !ok || (rel != "" && rel[0] != '/') {
			continue
		}
		dir := m.Dir
		if dir == "" {
			dir = "."
		}
		local := filepath.Join(dir, filepath.FromSlash(s.From), filepath.FromSlash(strings.TrimPrefix(rel, "/")))
		if m.Exists != nil && !m.Exists(local) {
			return "", false
		}
		return local, true
	}
	return "", false
}
