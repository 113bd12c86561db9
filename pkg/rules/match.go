package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Triggered reports whether a change to rel, a slash path relative to a sync
// root, should run the step. A step without triggers runs on every update.
func (s Step) Triggered(rel string) bool {
	return len(s.Trigger) == 0 || MatchAny(s.Trigger, rel)
}

// MatchAny reports whether rel, a slash path relative to a sync root, matches
// any of the doublestar patterns, following .gitignore habits so that the
// annotation reads naturally:
//   - a pattern without a slash matches a name at any depth, so "Dockerfile"
//     matches "docker/Dockerfile" and "*.go" matches "cmd/main.go";
//   - a pattern with a slash is anchored at the sync root ("/" and "./"
//     prefixes are optional);
//   - a pattern that matches a directory matches everything below it, so
//     "migrations/" and "db/migrations" match "db/migrations/001.sql".
//
// Invalid patterns match nothing; Parse has already refused them.
func MatchAny(patterns []string, rel string) bool {
	rel = strings.TrimPrefix(path.Clean("/"+rel), "/")
	if rel == "" {
		return false
	}
	for _, p := range patterns {
		if matchOne(p, rel) {
			return true
		}
	}
	return false
}

func matchOne(pattern, rel string) bool {
	p := strings.TrimSuffix(pattern, "/")
	anchored := strings.Contains(p, "/")
	p = strings.TrimPrefix(strings.TrimPrefix(p, "./"), "/")
	if p == "" {
		return false
	}
	if !anchored {
		for _, name := range strings.Split(rel, "/") {
			if ok, _ := doublestar.Match(p, name); ok {
				return true
			}
		}
		return false
	}
	// rel itself, then each parent directory of it.
	for s := rel; ; {
		if ok, _ := doublestar.Match(p, s); ok {
			return true
		}
		i := strings.LastIndexByte(s, '/')
		if i < 0 {
			return false
		}
		s = s[:i]
	}
}

// CheckLocal verifies that every sync.from exists under dir and is a
// directory, so a typo is reported before anything is patched. It is the
// only part of the package that touches the file system.
func (r *Rules) CheckLocal(dir string) error {
	for i, s := range r.Sync {
		key := r.SyncKey(i) + ".from"
		local := filepath.Join(dir, filepath.FromSlash(s.From))
		info, err := os.Stat(local)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return errorf(key, s.Line, "directory %s does not exist (looked for %s): fix the path, create the directory, or run up from the project directory (or pass --dir)", s.From, local)
		case err != nil:
			return errorf(key, s.Line, "cannot read %s: %v; check its permissions", local, err)
		case !info.IsDir():
			return errorf(key, s.Line, "%s is a file, not a directory: sync its parent directory and list what to skip under ignore", local)
		}
		if err := inside(dir, local); err != nil {
			return errorf(key, s.Line, "%s: %v", s.From, err)
		}
	}
	return nil
}

// inside refuses a `from` that resolves (through symlinks) outside dir: what `up` sends is what the
// directory it runs in (or --dir) holds, not whatever a link in it points to.
func inside(dir, local string) error {
	base, err := filepath.EvalSymlinks(dir)
	if err == nil {
		base, err = filepath.Abs(base)
	}
	if err != nil {
		return fmt.Errorf("cannot resolve %s: %w", dir, err)
	}
	real, err := filepath.EvalSymlinks(local)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return fmt.Errorf("cannot resolve %s: %w", local, err)
	}
	if rel, err := filepath.Rel(base, real); err != nil || !filepath.IsLocal(rel) && rel != "." {
		return fmt.Errorf("resolves to %s, outside %s (a symlink leads out): sync a directory inside it, or pass --dir with a directory that holds %s", real, base, real)
	}
	return nil
}
