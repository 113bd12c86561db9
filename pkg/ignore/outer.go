package ignore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	gitconfig "github.com/go-git/go-git/v5/plumbing/format/config"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// outer returns what git ignores under root from outside it, lowest priority first: the user's global
// excludes file, the repository's .git/info/exclude, and the .gitignore of every directory from the
// repository's root down to root's parent. prefix is root's path below the repository's root, the
// domain those patterns are matched in. Outside a repository there is nothing (git applies none of
// them there). So a `from` that is a subdirectory of a repository does not sync the .env or key file
// the repository's own .gitignore keeps out of git.
func outer(root string) (prefix []string, ps []gitignore.Pattern, err error) {
	repo, ok := repoRoot(root)
	if !ok {
		return nil, nil, nil
	}
	if rel, err := filepath.Rel(repo, root); err == nil && rel != "." {
		prefix = strings.Split(filepath.ToSlash(rel), "/")
	}
	if ps, err = globalExcludes(); err != nil {
		return nil, nil, err
	}
	if fi, err := os.Stat(filepath.Join(repo, gitDir)); err == nil && fi.IsDir() {
		ex, err := readGitignore(filepath.Join(repo, gitDir, "info", "exclude"), nil)
		if err != nil {
			return nil, nil, err
		}
		ps = append(ps, ex...)
	}
	dir := repo
	for i := range prefix {
		more, err := readGitignore(filepath.Join(dir, gitignoreFile), prefix[:i])
		if err != nil {
			return nil, nil, err
		}
		ps = append(ps, more...)
		dir = filepath.Join(dir, prefix[i])
	}
	// a `from` that git itself ignores (build output, say) was named on purpose: sync it, and let
	// only the ignore files under it decide
	m := gitignore.NewMatcher(ps)
	for i := 1; i <= len(prefix); i++ {
		if m.Match(prefix[:i], true) {
			return prefix, nil, nil
		}
	}
	return prefix, ps, nil
}

// repoRoot returns the nearest directory at or above dir holding a .git (a directory, or the file of
// a worktree or submodule).
func repoRoot(dir string) (string, bool) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Lstat(filepath.Join(abs, gitDir)); err == nil {
			return abs, true
		}
		parent := filepath.Dir(abs)
		if parent == abs {
			return "", false
		}
		abs = parent
	}
}

// globalExcludes reads git's core.excludesFile from the user's git configuration ($XDG_CONFIG_HOME/git/config
// or ~/.config/git/config, then ~/.gitconfig, which wins), or, when it sets none, git's default
// $XDG_CONFIG_HOME/git/ignore (~/.config/git/ignore). A missing file is no error.
func globalExcludes() ([]gitignore.Pattern, error) {
	home, herr := os.UserHomeDir()
	xdg := os.Getenv("XDG_CONFIG_HOME")
	if xdg == "" && herr == nil {
		xdg = filepath.Join(home, ".config")
	}
	file := ""
	for _, cfg := range []string{filepath.Join(xdg, "git", "config"), filepath.Join(home, ".gitconfig")} {
		if v := excludesFileIn(cfg); v != "" {
			file = v
		}
	}
	switch {
	case file == "" && xdg != "":
		file = filepath.Join(xdg, "git", "ignore")
	case strings.HasPrefix(file, "~/") && herr == nil:
		file = filepath.Join(home, file[2:])
	}
	if file == "" {
		return nil, nil
	}
	ps, err := readGitignore(file, nil)
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("git's global excludes file: %w (make it readable, or set core.excludesFile to another)", err)
	}
	return ps, err
}

// excludesFileIn returns core.excludesFile as set in the git config file cfg ("" when cfg is missing,
// unreadable or does not set it: git would not read a global excludes file from it either).
func excludesFileIn(cfg string) string {
	f, err := os.Open(cfg)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }() // read-only: a failed close loses nothing
	c := gitconfig.New()
	if err := gitconfig.NewDecoder(f).Decode(c); err != nil {
		return ""
	}
	return c.Section("core").Option("excludesfile")
}
