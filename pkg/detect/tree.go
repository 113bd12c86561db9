package detect

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Language is the kind of project a local tree holds, as far as its files tell.
type Language string

// The languages init knows; Unknown is a tree with none of their markers.
const (
	Go      Language = "go"
	Node    Language = "node"
	Python  Language = "python"
	Static  Language = "static"
	Unknown Language = ""
)

// title is the language's name in a sentence.
func (l Language) title() string {
	switch l {
	case Go:
		return "Go"
	case Node:
		return "Node.js"
	case Python:
		return "Python"
	}
	return string(l)
}

// project is what the local tree tells: where the project's files are and what they are.
type project struct {
	// dir is the project's directory within the tree, slash-separated: "." or a child such as "src".
	dir string
	// lang and marker: the language and the file that told it.
	lang   Language
	marker string
	// names are the entries of dir, directories with a trailing slash.
	names []string
	// mainPkg is, for Go, the package the program is built from: "." or "./cmd/NAME".
	mainPkg string
	// pkg is package.json, for Node.
	pkg packageJSON
	// lock is the lockfile next to package.json, for Node ("" without one).
	lock string
}

// packageJSON holds the parts of package.json init reads.
type packageJSON struct {
	Main    string            `json:"main"`
	Scripts map[string]string `json:"scripts"`
}

// markers are the files that tell a project's language, strongest first.
var markers = []struct {
	file string
	lang Language
}{
	{"go.mod", Go},
	{"package.json", Node},
	{"requirements.txt", Python},
	{"pyproject.toml", Python},
	{"index.html", Static},
}

// srcDirs are the children searched for a project when the tree's top holds no marker (a sample's
// directory with its manifests next to src/).
var srcDirs = []string{"src", "app", "www", "public", "site", "web"}

// findProject looks for a marker at the top of tree, else in one of its usual source directories.
func findProject(tree fs.FS) (*project, error) {
	for _, dir := range append([]string{"."}, srcDirs...) {
		p, err := readProject(tree, dir)
		if err != nil {
			return nil, err
		}
		if p.lang != Unknown {
			return p, nil
		}
	}
	return readProject(tree, ".")
}

// readProject reads the directory dir of tree; a directory that does not exist is an Unknown project.
func readProject(tree fs.FS, dir string) (*project, error) {
	p := &project{dir: dir, mainPkg: "."}
	entries, err := fs.ReadDir(tree, dir)
	if err != nil {
		if dir != "." && isNotExist(err) {
			return p, nil
		}
		return nil, err
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() {
			n += "/"
		}
		p.names = append(p.names, n)
	}
	for _, m := range markers {
		if p.has(m.file) {
			p.lang, p.marker = m.lang, m.file
			break
		}
	}
	if p.lang == Unknown && slices.ContainsFunc(p.names, func(n string) bool { return strings.HasSuffix(n, ".html") }) {
		p.lang, p.marker = Static, "an .html file"
	}
	switch p.lang {
	case Go:
		p.mainPkg = goMain(tree, dir, p.names)
	case Node:
		err = p.readPackageJSON(tree)
	}
	return p, err
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// has reports whether dir holds the entry name (a directory written with a trailing slash).
func (p *project) has(name string) bool { return slices.Contains(p.names, name) }

func (p *project) readPackageJSON(tree fs.FS) error {
	data, err := fs.ReadFile(tree, path.Join(p.dir, "package.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &p.pkg); err != nil {
		return &TreeError{File: path.Join(p.dir, "package.json"), Err: err}
	}
	for _, l := range []string{"package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml"} {
		if p.has(l) {
			p.lock = l
			break
		}
	}
	return nil
}

// TreeError is a file of the local tree init could not read as what it claims to be.
type TreeError struct {
	File string
	Err  error
}

// Error names the file and says to fix it or to point --dir elsewhere.
func (e *TreeError) Error() string {
	return "reading " + e.File + ": " + e.Err.Error() + " (fix the file, or point --dir at another directory)"
}

// Unwrap returns the parse error.
func (e *TreeError) Unwrap() error { return e.Err }

var packageMain = regexp.MustCompile(`(?m)^package main\b`)

// goMain finds the package a Go module's program is built from: the top when a .go file there is
// package main, else the only cmd/NAME directory holding one; "." when neither tells.
func goMain(tree fs.FS, dir string, names []string) string {
	if mainIn(tree, dir, names) {
		return "."
	}
	cmds, err := fs.ReadDir(tree, path.Join(dir, "cmd"))
	if err != nil {
		return "."
	}
	var found []string
	for _, c := range cmds {
		if !c.IsDir() {
			continue
		}
		sub := path.Join(dir, "cmd", c.Name())
		entries, err := fs.ReadDir(tree, sub)
		if err != nil {
			continue
		}
		var subNames []string
		for _, e := range entries {
			subNames = append(subNames, e.Name())
		}
		if mainIn(tree, sub, subNames) {
			found = append(found, "./cmd/"+c.Name())
		}
	}
	if len(found) == 1 {
		return found[0]
	}
	return "."
}

func mainIn(tree fs.FS, dir string, names []string) bool {
	for _, n := range names {
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		data, err := fs.ReadFile(tree, path.Join(dir, n))
		if err == nil && packageMain.Match(data) {
			return true
		}
	}
	return false
}
