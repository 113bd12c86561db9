package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// wlManifest is a tree as relative path ("./a/b.go") -> sha256 of the file's content.
type wlManifest map[string]string

// localManifest hashes every regular file under dir, skipping directories named in skip
// (node_modules, __pycache__: what the app's tools write in the pod, never synced).
func localManifest(dir string, skip []string) (wlManifest, error) {
	m := wlManifest{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && (slices.Contains(skip, d.Name()) || d.Name() == ".git") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m["./"+filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	return m, err
}

// podManifestScript prints `<sha256>  ./path` for every regular file under dest, skipping the
// named directories, with busybox's (or coreutils') find, xargs and sha256sum.
func podManifestScript(dest string, skip []string) string {
	var prune []string
	for _, s := range skip {
		prune = append(prune, "-name '"+s+"' -prune -o")
	}
	prune = append(prune, "-name .git -prune -o")
	return fmt.Sprintf("cd '%s' && find . %s -type f -print | xargs sha256sum", dest, strings.Join(prune, " "))
}

// parseManifest reads sha256sum's output; the line for stdin ("-", when find printed nothing) is dropped.
func parseManifest(out string) (wlManifest, error) {
	m := wlManifest{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" {
			continue
		}
		sum, p, ok := strings.Cut(l, "  ")
		if !ok || len(sum) != 64 {
			return nil, fmt.Errorf("unexpected sha256sum line %q", l)
		}
		if p == "-" {
			continue
		}
		m[p] = sum
	}
	return m, sc.Err()
}

// diffManifests describes how the pod's tree differs from the local one ("" when equal): counts of
// missing, extra and different files, with a few names.
func diffManifests(local, pod wlManifest) string {
	var missing, extra, changed []string
	for p, h := range local {
		switch ph, ok := pod[p]; {
		case !ok:
			missing = append(missing, p)
		case ph != h:
			changed = append(changed, p)
		}
	}
	for p := range pod {
		if _, ok := local[p]; !ok {
			extra = append(extra, p)
		}
	}
	if len(missing)+len(extra)+len(changed) == 0 {
		return ""
	}
	var parts []string
	for _, g := range []struct {
		what  string
		paths []string
	}{{"missing in the pod", missing}, {"only in the pod", extra}, {"different", changed}} {
		if len(g.paths) == 0 {
			continue
		}
		slices.Sort(g.paths)
		ex := g.paths[:min(3, len(g.paths))]
		parts = append(parts, fmt.Sprintf("%d %s (%s)", len(g.paths), g.what, strings.Join(ex, ", ")))
	}
	return strings.Join(parts, "; ")
}

// presenceOnly blanks the hashes of the named files in both manifests: files the app's own install
// step rewrites in the pod (npm records an added package in package-lock.json), compared by presence.
func presenceOnly(local, pod wlManifest, names []string) {
	for _, n := range names {
		for _, m := range []wlManifest{local, pod} {
			if _, ok := m["./"+n]; ok {
				m["./"+n] = ""
			}
		}
	}
}

// checkPodTree compares the tree under dest in every running pod of the selector with the local
// dir; it returns a description of the first difference, or "" when every pod equals the tree.
func (e *env) checkPodTree(ctx context.Context, ns, selector, container, dir, dest string, skip, loose []string) (string, error) {
	local, err := localManifest(dir, skip)
	if err != nil {
		return "", err
	}
	pods, err := e.runningPods(ctx, ns, selector)
	if err != nil {
		return "", err
	}
	if len(pods) == 0 {
		return "", fmt.Errorf("no running pod of %s to check", selector)
	}
	for _, p := range pods {
		out, err := e.cmd(ctx, e.kubectl, "--kubeconfig", e.cliKubeconfig(), "-n", ns, "exec", p.Name, "-c", container, "--",
			"sh", "-c", podManifestScript(dest, skip)).Output()
		if err != nil {
			return "", fmt.Errorf("hashing the tree in %s: %w", p.Name, err)
		}
		pm, err := parseManifest(string(out))
		if err != nil {
			return "", err
		}
		presenceOnly(local, pm, loose)
		if d := diffManifests(local, pm); d != "" {
			return fmt.Sprintf("pod %s: %s", p.Name, d), nil
		}
	}
	return "", nil
}
