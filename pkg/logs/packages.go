package logs

import (
	"bufio"
	"bytes"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// An install step that fails on a package names the package, not a file: npm's "request to
// https://registry.npmjs.org/left-pad failed" (ENOTCACHED offline, E404 with a registry) and "No
// matching version found for left-pad@^9" (ETARGET); pip's "No matching distribution found for
// left-pad" and "Could not find a version that satisfies the requirement left-pad". The line the
// developer edits is the one of the manifest the step read (package.json, or pip's -r file) that
// names the package, so that is the location given.
var (
	reNpmURL       = regexp.MustCompile(`^npm (?:error|ERR!) (?:request to |404 Not Found - GET )https?://\S+/(\S+?)(?: failed|\s|$)`)
	reNpmVersion   = regexp.MustCompile(`^npm (?:error|ERR!) (?:notarget )?No matching version found for (\S+)@\S*\.?$`)
	rePipMissing   = regexp.MustCompile(`^ERROR: (?:No matching distribution found for|Could not find a version that satisfies the requirement) ([A-Za-z0-9][A-Za-z0-9._-]*)`)
	rePipReqFile   = regexp.MustCompile(`(?:^|\s)(?:-r|--requirement)[ =](\S+)`)
	rePyNameSep    = regexp.MustCompile(`[-_.]+`)
	reReqLineName  = regexp.MustCompile(`^\s*([A-Za-z0-9][A-Za-z0-9._-]*)`)
	reStepFirstCmd = regexp.MustCompile(`^step failed: (.+) \(`)
)

// mapPackages adds, for each line of a failed step's output that names a package it could not
// install, the line of the local manifest that names it.
func (m *Mapper) mapPackages(it *Item) {
	if m.ReadFile == nil || it.Type != TypeStep {
		return
	}
	lines := strings.Split(it.Text, "\n")
	var cmd string
	if g := reStepFirstCmd.FindStringSubmatch(lines[0]); g != nil {
		cmd = g[1]
	}
	for i, line := range lines {
		manifest, name, find := packageLine(line, cmd)
		if name == "" {
			continue
		}
		local, ok := m.Local(path.Join(m.Workdir, manifest))
		if m.Workdir == "" || !ok {
			continue
		}
		data, err := m.ReadFile(local)
		if err != nil {
			continue // the local file is gone or unreadable: nothing to point at
		}
		if n := find(data, name); n > 0 {
			pos := fmt.Sprintf(":%d", n)
			m.addLocation(it, Location{Line: i, Remote: manifest, Local: local + pos})
		}
	}
}

// packageLine reads one line of a step's output: the manifest to look in, the package it names and
// how to find that package's line; name is "" when the line names no missing package.
func packageLine(line, cmd string) (manifest, name string, find func([]byte, string) int) {
	if g := reNpmURL.FindStringSubmatch(line); g != nil {
		if n, err := url.PathUnescape(g[1]); err == nil { // a scoped package is @scope%2fname
			return "package.json", n, npmLine
		}
	}
	if g := reNpmVersion.FindStringSubmatch(line); g != nil {
		return "package.json", g[1], npmLine
	}
	if g := rePipMissing.FindStringSubmatch(line); g != nil {
		manifest = "requirements.txt"
		if r := rePipReqFile.FindStringSubmatch(cmd); r != nil {
			manifest = r[1]
		}
		return manifest, g[1], pipLine
	}
	return "", "", nil
}

// npmLine returns the 1-based line of package.json that has name as a key, or 0.
func npmLine(data []byte, name string) int {
	key := regexp.MustCompile(`"` + regexp.QuoteMeta(name) + `"\s*:`)
	return firstLine(data, func(l string) bool { return key.MatchString(l) })
}

// pipLine returns the 1-based line of a requirements file whose requirement is name, compared as pip
// does (case, and runs of "-", "_" and "." do not matter), or 0.
func pipLine(data []byte, name string) int {
	want := normalizePy(name)
	return firstLine(data, func(l string) bool {
		g := reReqLineName.FindStringSubmatch(l)
		return g != nil && normalizePy(g[1]) == want
	})
}

func normalizePy(name string) string {
	return strings.ToLower(rePyNameSep.ReplaceAllString(name, "-"))
}

func firstLine(data []byte, match func(string) bool) int {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		if match(sc.Text()) {
			return n
		}
	}
	return 0
}
