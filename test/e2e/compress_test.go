package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCompressedSync: the first sync of real source (a copy of three packages of the Go toolchain's
// src tree, about 25 MB) goes to the synclet zstd-compressed, as negotiated, and the pod ends with
// every file intact; a one-file edit after it lands too, sent plain (too small to pay). With
// --compress=off the same sync arrives intact and nothing is compressed.
func TestCompressedSync(t *testing.T) {
	e := newEnv(t)
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	for _, mode := range []string{"auto", "off"} {
		t.Run(mode, func(t *testing.T) {
			e := e.sub(t)
			ns := e.namespace(nil)
			e.applyExample(ns, "web-static", nil)
			dir := e.copyExamples()
			www := filepath.Join(dir, "web-static/www")
			for _, pkg := range []string{"crypto", "net", "go"} {
				if out, err := exec.Command("cp", "-r", filepath.Join(strings.TrimSpace(string(goroot)), "src", pkg), filepath.Join(www, pkg)).CombinedOutput(); err != nil {
					t.Fatalf("copying the corpus: %v: %s", err, out)
				}
			}
			start := time.Now()
			up := e.start(dir, "up", "-n", ns, "web-static", "--compress="+mode)
			e.waitConnected(up, ns, "web-static", 1)
			t.Logf("--compress=%s: up -> connected (injection, rollout and first sync) in %s", mode, time.Since(start).Round(time.Millisecond))
			pod := e.pods(ns, "web-static")[0].Name
			e.sameFiles(ns, pod, www)
			zstd := e.zstdBodies(ns, pod)
			switch {
			case mode == "auto" && len(zstd) != 1:
				t.Fatalf("%d zstd update bodies in the synclet's log, want the first sync's", len(zstd))
			case mode == "auto" && zstd[0].wire*2 > zstd[0].decoded:
				t.Errorf("first sync: %d bytes decoded from %d, want at least 2x", zstd[0].decoded, zstd[0].wire)
			case mode == "off" && len(zstd) != 0:
				t.Fatalf("--compress=off, yet %d zstd update bodies", len(zstd))
			}
			e.writeFile(filepath.Join(www, "net/edit.txt"), "edited "+mode+"\n", 0o644)
			e.serves(ns, "web-static", "/net/edit.txt", "edited "+mode, 1, rollout)
			if n := len(e.zstdBodies(ns, pod)); n != len(zstd) {
				t.Errorf("a one-file edit was compressed (%d zstd bodies, %d before)", n, len(zstd))
			}
		})
	}
}

// sourceLike returns n bytes of lines like code, different for each seed, that compress about as much
// as source does (3-4x).
func sourceLike(seed, n int) string {
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	var b strings.Builder
	for b.Len() < n {
		fmt.Fprintf(&b, "\tv%d := call%d(%d, \"%x\")\n", rng.IntN(1000), rng.IntN(100), rng.IntN(1<<20), rng.Uint32())
	}
	return b.String()[:n]
}

// zstdBody is one compressed update as the synclet logged it.
type zstdBody struct{ decoded, wire int64 }

var zstdLine = regexp.MustCompile(`update body: zstd, (\d+) bytes decoded from (\d+)`)

// zstdBodies returns the compressed updates the pod's synclet logged.
func (e *env) zstdBodies(ns, pod string) []zstdBody {
	e.t.Helper()
	var out []zstdBody
	for _, m := range zstdLine.FindAllStringSubmatch(e.kubectl("-n", ns, "logs", pod, "-c", "fastdev-synclet"), -1) {
		d, _ := strconv.ParseInt(m[1], 10, 64) // the pattern takes digits only
		w, _ := strconv.ParseInt(m[2], 10, 64)
		out = append(out, zstdBody{decoded: d, wire: w})
	}
	return out
}

// sameFiles checks that every regular file under local is in the pod's /www with the same content,
// and that the pod holds no other file.
func (e *env) sameFiles(ns, pod, local string) {
	t := e.t
	t.Helper()
	want := map[string]string{}
	err := filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(local, p)
		h := sha256.Sum256(b)
		want["./"+filepath.ToSlash(rel)] = hex.EncodeToString(h[:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	out := e.kubectl("-n", ns, "exec", pod, "-c", "web", "--", "/bin/sh", "-c", "cd /www && find . -type f -exec sha256sum {} +")
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		sum, path, ok := strings.Cut(l, "  ")
		if ok {
			got[path] = sum
		}
	}
	var bad []string
	for p, h := range want {
		if got[p] != h {
			bad = append(bad, fmt.Sprintf("%s: pod %q, local %s", p, got[p], h))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			bad = append(bad, p+": only in the pod")
		}
	}
	if len(bad) > 0 {
		t.Fatalf("%d of %d files differ, e.g. %v", len(bad), len(want), bad[:min(len(bad), 5)])
	}
	t.Logf("%d files equal in the pod", len(want))
}
