package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// chaosTree makes random edits under root and keeps want: what every path should hold afterwards.
type chaosTree struct {
	root  string
	rng   *rand.Rand
	want  map[string]string // rel -> "F|mode|sha" / "D" / "L|target"
	edits int
	big   bool
}

var chaosNames = []string{"a.txt", "b c.html", "naïve café.txt", "日本語.md", "data.bin", "x-y_z.json", "run.sh", "Ünïcødé dir", "deep", "ﬁle"}

func (c *chaosTree) pick(kind byte) string {
	var out []string
	for p, v := range c.want {
		if v[0] == kind && p != "index.html" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return ""
	}
	sort.Strings(out)
	return out[c.rng.Intn(len(out))]
}

func (c *chaosTree) newPath() string {
	dir := "."
	if d := c.pick('D'); d != "" && c.rng.Intn(3) > 0 {
		dir = d
	}
	return filepath.ToSlash(filepath.Join(dir, fmt.Sprintf("%d %s", c.rng.Intn(1000), chaosNames[c.rng.Intn(len(chaosNames))])))
}

func (c *chaosTree) write(rel string, data []byte, mode os.FileMode) {
	p := filepath.Join(c.root, rel)
	must(os.MkdirAll(filepath.Dir(p), 0o755))
	c.remove(rel) // a directory or link of that name goes, and what want says was below it
	must(os.WriteFile(p, data, mode))
	must(os.Chmod(p, mode))
	h := sha256.Sum256(data)
	c.want[rel] = fmt.Sprintf("F|%o|%s", mode, hex.EncodeToString(h[:]))
	for d := filepath.ToSlash(filepath.Dir(rel)); d != "."; d = filepath.ToSlash(filepath.Dir(d)) {
		c.want[d] = "D"
	}
}

// must stops the run on a local file system error: the edits are the test's own, on its temp dir,
// and want would no longer describe the tree.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

func (c *chaosTree) remove(rel string) {
	os.RemoveAll(filepath.Join(c.root, rel))
	for p := range c.want {
		if p == rel || strings.HasPrefix(p, rel+"/") {
			delete(c.want, p)
		}
	}
}

func (c *chaosTree) rename(from, to string) {
	must(os.MkdirAll(filepath.Dir(filepath.Join(c.root, to)), 0o755))
	if err := os.Rename(filepath.Join(c.root, from), filepath.Join(c.root, to)); err != nil {
		return
	}
	for p, v := range c.want {
		if p == from || strings.HasPrefix(p, from+"/") {
			delete(c.want, p)
			c.want[to+strings.TrimPrefix(p, from)] = v
		}
	}
	for d := filepath.ToSlash(filepath.Dir(to)); d != "."; d = filepath.ToSlash(filepath.Dir(d)) {
		c.want[d] = "D"
	}
}

func (c *chaosTree) content() ([]byte, os.FileMode) {
	switch c.rng.Intn(4) {
	case 0: // binary
		b := make([]byte, c.rng.Intn(64<<10))
		c.rng.Read(b)
		return b, 0o644
	case 1:
		return []byte("#!/bin/sh\necho chaos " + strconv.Itoa(c.rng.Int()) + "\n"), 0o755
	default:
		return []byte(strings.Repeat("line "+strconv.Itoa(c.rng.Int())+"\n", 1+c.rng.Intn(50))), 0o644
	}
}

func (c *chaosTree) randomEdit(big bool) {
	c.edits++
	if big && !c.big {
		c.big = true
		b := make([]byte, 50<<20)
		c.rng.Read(b)
		c.write("big/fifty-megabytes.bin", b, 0o644)
		return
	}
	switch op := c.rng.Intn(10); {
	case op < 3:
		b, mode := c.content()
		c.write(c.newPath(), b, mode)
	case op < 5:
		if f := c.pick('F'); f != "" {
			b, mode := c.content()
			c.write(f, b, mode)
		}
	case op == 5:
		if f := c.pick('F'); f != "" {
			c.remove(f)
		}
	case op == 6:
		if f := c.pick('F'); f != "" {
			c.rename(f, c.newPath())
		}
	case op == 7:
		d := c.newPath()
		if v, ok := c.want[d]; ok && v != "D" {
			c.remove(d) // a file or link of that name: a later edit may pick any name again
		}
		must(os.MkdirAll(filepath.Join(c.root, d), 0o755))
		for x := filepath.ToSlash(d); x != "."; x = filepath.ToSlash(filepath.Dir(x)) {
			c.want[x] = "D"
		}
	case op == 8:
		if d := c.pick('D'); d != "" && !strings.HasPrefix(d, "big") {
			if c.rng.Intn(2) == 0 {
				c.remove(d)
			} else {
				c.rename(d, c.newPath())
			}
		}
	default:
		if f := c.pick('F'); f != "" {
			link := filepath.ToSlash(filepath.Join(filepath.Dir(f), fmt.Sprintf("link %d", c.rng.Intn(1000))))
			c.remove(link)
			if os.Symlink(filepath.Base(f), filepath.Join(c.root, link)) == nil {
				c.want[link] = "L|" + filepath.Base(f)
			}
		}
	}
}

// branchSwitch replaces branch/ with n files at once, as a `git checkout` of another branch does: the
// directory goes, and n files of branch b come back, most under the same names with new content,
// some under names only b has (the window of names slides with b), a few executable.
func (c *chaosTree) branchSwitch(b, n int) {
	c.edits++
	c.remove("branch")
	for i := b * 37 % 200; n > 0; i, n = i+1, n-1 {
		mode := os.FileMode(0o644)
		if i%50 == 0 {
			mode = 0o755
		}
		c.write(fmt.Sprintf("branch/pkg%02d/file%04d.go", i%40, i), []byte(fmt.Sprintf("package pkg%02d // branch %d, file %d\n", i%40, b, i)), mode)
	}
}

// trigger writes a file whose name triggers one of chaosRules' steps (fail, hang or huge).
func (c *chaosTree) trigger(step string, n int) {
	c.edits++
	c.write(fmt.Sprintf("%s-%d.txt", step, n), []byte(step+" "+strconv.Itoa(n)+"\n"), 0o644)
}

// snapshot reads the local tree in the same form as want.
func (c *chaosTree) snapshot(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(c.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == c.root {
			return err
		}
		rel, err := filepath.Rel(c.root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			tgt, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "L|" + tgt
		case fi.IsDir():
			out[rel] = "D"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(b)
			out[rel] = fmt.Sprintf("F|%o|%s", fi.Mode().Perm(), hex.EncodeToString(h[:]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// podTree lists /www in a pod's app container in the snapshot form, using the image's busybox.
func (e *env) podTree(ns, pod string) (map[string]string, error) {
	script := `cd /www && find . -mindepth 1 | while IFS= read -r f; do
  if [ -L "$f" ]; then echo "L|$(readlink "$f")|$f"
  elif [ -d "$f" ]; then echo "D||$f"
  else echo "F|$(stat -c %a "$f")|$(sha256sum < "$f" | cut -d' ' -f1)|$f"; fi; done`
	out, err := exec.Command(e.kubectlBin, "--kubeconfig", e.kubeconfig, "-n", ns, "exec", pod, "-c", "web", "--", "/bin/sh", "-c", script).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("listing pod %s: %v: %s", pod, err, out)
	}
	tree := map[string]string{}
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if l == "" || chaosKept(l) {
			continue
		}
		parts := strings.SplitN(l, "|", 4)
		switch parts[0] {
		case "L":
			tree[strings.TrimPrefix(parts[2], "./")] = "L|" + parts[1]
		case "D":
			tree[strings.TrimPrefix(parts[2], "./")] = "D"
		case "F":
			if len(parts) == 4 {
				tree[strings.TrimPrefix(parts[3], "./")] = "F|" + parts[1] + "|" + parts[2]
			}
		}
	}
	return tree, nil
}

// chaosKept reports a line of podTree under chaosRules' keep path: the pod's own files, not compared.
func chaosKept(line string) bool {
	p := line[strings.LastIndex(line, "|")+1:]
	return p == "./uploads" || strings.HasPrefix(p, "./uploads/")
}

func diffTrees(want, got map[string]string) string {
	var d []string
	for p, w := range want {
		if g, ok := got[p]; !ok {
			d = append(d, "missing "+p)
		} else if g != w {
			d = append(d, fmt.Sprintf("%s is %s, want %s", p, g, w))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			d = append(d, "extra "+p)
		}
	}
	sort.Strings(d)
	if len(d) > 8 {
		d = append(d[:8], fmt.Sprintf("... and %d more", len(d)-8))
	}
	return strings.Join(d, "; ")
}
