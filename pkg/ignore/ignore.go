// Package ignore decides which local paths under a sync root stay out of the sync: .git, the rules'
// ignore list, every .gitignore under the root and the root's .dockerignore, and what git ignores
// from outside the root (outer.go): the .gitignores from the repository's root down, the
// repository's .git/info/exclude and the user's global excludes file.
package ignore

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

const (
	gitDir           = ".git"
	gitignoreFile    = ".gitignore"
	dockerignoreFile = ".dockerignore"
)

// Matcher answers whether a path under a sync root is left out of the sync. It is safe for concurrent
// use; Reload swaps in freshly read ignore files atomically.
type Matcher struct {
	root  string
	rules []string // the rules' ignore list, highest priority (parsed by read, below the repository)

	mu  sync.Mutex // guards cur; also serialises Match, as patternmatcher compiles lazily
	cur *set
}

// set is one consistent reading of the ignore files.
type set struct {
	prefix     []string // the root's path below its repository's root: git patterns match prefix + path
	git        gitignore.Matcher
	docker     *patternmatcher.PatternMatcher // nil without a .dockerignore
	exceptions [][]string                     // the .dockerignore's "!" patterns, split on "/"
}

// New reads the ignore files under root (a local directory) and combines them with patterns, the
// rules' ignore list in gitignore syntax relative to root. The rules' patterns take precedence over
// .gitignore files, so a rule such as "!vendor/" can bring back what a .gitignore leaves out.
func New(root string, patterns []string) (*Matcher, error) {
	m := &Matcher{root: root}
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if err := validate(p); err != nil {
			return nil, err
		}
		m.rules = append(m.rules, p)
	}
	if err := m.Reload(); err != nil {
		return nil, err
	}
	return m, nil
}

// validate rejects patterns that gitignore matching would silently never match.
func validate(p string) error {
	body := strings.TrimPrefix(p, "!")
	if strings.Trim(body, "/") == "" {
		return fmt.Errorf("ignore pattern %q matches nothing: give a file or directory name", p)
	}
	for _, seg := range strings.Split(body, "/") {
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("ignore pattern %q: %w", p, err)
		}
	}
	return nil
}

// Reload rereads every .gitignore under the root and the root's .dockerignore. Call it when
// IsIgnoreFile reports that one of them changed.
func (m *Matcher) Reload() error {
	s, err := m.read()
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.cur = s
	m.mu.Unlock()
	return nil
}

// IsIgnoreFile reports whether rel (a slash path relative to the root) is a file whose contents change
// what Match answers, so that a caller watching the tree knows to Reload.
func (m *Matcher) IsIgnoreFile(rel string) bool {
	rel = path.Clean(rel)
	if rel == dockerignoreFile {
		return true
	}
	return path.Base(rel) == gitignoreFile && !hasGitDir(strings.Split(rel, "/"))
}

// Match reports whether rel, a slash path relative to the root, is left out of the sync. isDir says
// whether rel is a directory, which matters for patterns such as "tmp/". A path inside an ignored
// directory is ignored, as git does; the exception is a .dockerignore "!" pattern, which by Docker's
// rules can bring back a path inside an excluded directory.
func (m *Matcher) Match(rel string, isDir bool) bool {
	rel = path.Clean(rel)
	if rel == "." || rel == "/" || rel == "" {
		return false
	}
	parts := strings.Split(strings.TrimPrefix(rel, "/"), "/")
	if hasGitDir(parts) {
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur.match(parts, isDir)
}

func hasGitDir(parts []string) bool {
	for _, p := range parts {
		if p == gitDir {
			return true
		}
	}
	return false
}

func (s *set) match(parts []string, isDir bool) bool {
	// Checking every ancestor, not only the path, gives git's rule that nothing inside an excluded
	// directory can be re-included: go-git's Matcher alone would let "!build/keep" win over "build/".
	for i := 1; i <= len(parts); i++ {
		if s.git.Match(append(s.prefix[:len(s.prefix):len(s.prefix)], parts[:i]...), i < len(parts) || isDir) {
			return true
		}
	}
	if s.docker == nil {
		return false
	}
	ignored, err := s.docker.MatchesOrParentMatches(strings.Join(parts, "/"))
	if err != nil || !ignored {
		return false
	}
	// An excluded directory is still walked when an exception may bring back something inside it;
	// each entry is then judged on its own.
	return !isDir || !s.mayReinclude(parts)
}

// mayReinclude reports whether a .dockerignore exception could match dir or a path below it.
func (s *set) mayReinclude(dir []string) bool {
	for _, ex := range s.exceptions {
		if prefixMatches(ex, dir) {
			return true
		}
	}
	return false
}

func prefixMatches(pattern, dir []string) bool {
	for i, seg := range pattern {
		if i == len(dir) || strings.Contains(seg, "**") {
			return true
		}
		if ok, _ := path.Match(seg, dir[i]); !ok {
			return false
		}
	}
	return true
}

// read builds a set from the files on disk. Patterns are ordered from lowest to highest priority, as
// gitignore.NewMatcher expects: a directory's .gitignore before those below it, the rules' list last.
func (m *Matcher) read() (*set, error) {
	s := &set{}
	docker, err := m.readDockerignore()
	if err != nil {
		return nil, err
	}
	if docker != nil {
		s.docker = docker
		for _, p := range docker.Patterns() {
			if p.Exclusion() {
				s.exceptions = append(s.exceptions, strings.Split(filepath.ToSlash(p.String()), "/"))
			}
		}
	}
	prefix, git, err := outer(m.root)
	if err != nil {
		return nil, err
	}
	s.prefix = prefix
	under := func(domain []string) []string { return append(prefix[:len(prefix):len(prefix)], domain...) }
	rules := make([]gitignore.Pattern, len(m.rules))
	for i, p := range m.rules {
		rules[i] = gitignore.ParsePattern(p, prefix)
	}
	s.git = gitignore.NewMatcher(append(git[:len(git):len(git)], rules...))
	var walk func(dir string, domain []string) error
	walk = func(dir string, domain []string) error {
		ps, err := readGitignore(filepath.Join(dir, gitignoreFile), under(domain))
		if err != nil {
			return err
		}
		git = append(git, ps...)
		s.git = gitignore.NewMatcher(append(git[:len(git):len(git)], rules...))
		entries, err := os.ReadDir(dir)
		if err != nil {
			if len(domain) == 0 {
				return fmt.Errorf("reading sync root: %w", err)
			}
			return nil // unreadable: nothing in it can be synced either
		}
		for _, e := range entries {
			if !e.IsDir() || e.Name() == gitDir {
				continue
			}
			child := append(domain[:len(domain):len(domain)], e.Name())
			// Git reads no .gitignore inside an ignored directory, and nothing there is synced.
			if s.match(child, true) {
				continue
			}
			if err := walk(filepath.Join(dir, e.Name()), child); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(m.root, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// openIfExists opens an ignore file; a missing one is no error and no file.
func openIfExists(file string) (*os.File, error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	return f, nil
}

func readGitignore(file string, domain []string) ([]gitignore.Pattern, error) {
	f, err := openIfExists(file)
	if f == nil || err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only: a failed close loses nothing
	var ps []gitignore.Pattern
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, domain))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	return ps, nil
}

func (m *Matcher) readDockerignore() (*patternmatcher.PatternMatcher, error) {
	file := filepath.Join(m.root, dockerignoreFile)
	f, err := openIfExists(file)
	if f == nil || err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only: a failed close loses nothing
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (fix or remove the pattern)", file, err)
	}
	return pm, nil
}
