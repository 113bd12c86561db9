package rules

import (
	"fmt"
	"path"
	"strings"
)

// ConflictSuffix names the sibling a downloaded file is saved as when the local file changed since it
// was last synced (package-lock.json -> package-lock.json.fastdev-pod). Such siblings are never synced.
const ConflictSuffix = ".fastdev-pod"

// Downloads reports whether rel, a slash path under sync entry i, is a file `up` brings back from the
// pod when a step or a `kubectl fastdev run` command changes it.
func (r *Rules) Downloads(i int, rel string) bool {
	return i >= 0 && i < len(r.Sync) && MatchAny(r.Sync[i].Download, rel)
}

// HasDownloads reports whether any sync entry lists download patterns.
func (r *Rules) HasDownloads() bool {
	for _, s := range r.Sync {
		if len(s.Download) > 0 {
			return true
		}
	}
	return false
}

// parseDownload reads a sync entry's download patterns (MatchAny's globs, relative to the entry) and
// refuses those that could never bring a file back: a pattern that leaves the entry, one written as
// an in-pod path, one the entry's ignore or keep also covers (such files are not synced, so a
// downloaded one could not be told from a local edit), and one naming a conflict copy.
func parseDownload(f field, s Sync) ([]string, error) {
	items, err := list(f.val, f.path, `download: ["package-lock.json", "gen/**"]`)
	if err != nil {
		return nil, err
	}
	ps, err := patterns(f.val, f.path)
	if err != nil {
		return nil, err
	}
	for j, p := range ps {
		k, line := fmt.Sprintf("%s[%d]", f.path, j), f.val.Line
		if j < len(items) {
			line = items[j].Line
		}
		if err := downloadPattern(p, s, k, line); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

func downloadPattern(p string, s Sync, key string, line int) error {
	clean := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSuffix(p, "/"), "./"), "/")
	switch {
	case contains(strings.Split(p, "/"), ".."):
		return errorf(key, line, "%q leaves the sync entry: download patterns are relative to its from (%s), such as package-lock.json or gen/**", p, s.From)
	case strings.HasPrefix(p, "/") && s.To != "" && within(path.Clean(p), s.To):
		return errorf(key, line, "%q is an in-pod path: write it relative to the entry's to (%s), such as %s", p, s.To, strings.TrimPrefix(strings.TrimPrefix(path.Clean(p), s.To), "/"))
	case clean == "" || clean == "." || clean == "**":
		return errorf(key, line, "%q would bring back every file of the entry: list the files the pod makes, such as package-lock.json or gen/**", p)
	case strings.HasSuffix(clean, ConflictSuffix):
		return errorf(key, line, "%q names a conflict copy (%s), which is never synced: list the file itself", p, ConflictSuffix)
	}
	if q := coveredBy(s.Ignore, clean); q != "" {
		return errorf(key, line, "%q is also covered by ignore %q, so those files are not synced: remove it from ignore, or drop the download pattern", p, q)
	}
	if q := coveredBy(s.Keep, clean); q != "" {
		return errorf(key, line, "%q is also covered by keep %q (the pod's own files, never synced): remove it from keep, or drop the download pattern", p, q)
	}
	return nil
}

// coveredBy returns the first of globs that matches the download pattern p read as a path (its
// wildcards as plain names), or "". It catches the overlaps people write (ignore gen/ with download
// gen/**, ignore *.json with download package-lock.json); one that only some paths share is left to
// the local tree, which skips such files when downloading.
func coveredBy(globs []string, p string) string {
	for _, g := range globs {
		if MatchAny([]string{g}, p) {
			return g
		}
	}
	return ""
}
