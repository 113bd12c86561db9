package devloop

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/auth"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// endRun makes the in-process synclet count one ended `run` command: with no supervisor listening the
// command itself fails, as a command that writes files and exits would still have ended.
func endRun(t *testing.T, url string) {
	t.Helper()
	var body bytes.Buffer
	if err := protocol.WriteCommandRequest(&body, protocol.CommandRequest{Argv: []string{"gen"}}); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url+protocol.PathRun, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(protocol.VersionHeader, protocol.Version)
	c := &http.Client{Transport: &http.Transport{DialContext: auth.Dialer(devKey, nil)}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// waitFile waits until p holds want.
func waitFile(t *testing.T, p, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(p)
		if err == nil && string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q (%v), want %q", p, b, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDownloadAfterRun: files a run command changes in the pod that match download come back to the
// local tree with the pod's content and mode, others stay in the pod only, and nothing is sent back.
func TestDownloadAfterRun(t *testing.T) {
	base, podRoot := t.TempDir(), t.TempDir()
	src := filepath.Join(base, "src")
	write(t, filepath.Join(src, "index.html"), "v1", 0o644)
	write(t, filepath.Join(src, "lock.json"), "v1", 0o644)
	rep, url := runLoopAt(t, base, podRoot, "sync:\n  - from: ./src\n    to: /www\n    keep: [cache/]\n    download: [lock.json, \"gen/**\"]\nrestart: none\n")
	equalTrees(t, src, podRoot, nil)
	rep.mu.Lock()
	sent := len(rep.updates)
	rep.mu.Unlock()

	write(t, filepath.Join(podRoot, "lock.json"), "v2 from the pod", 0o644)
	write(t, filepath.Join(podRoot, "gen/deep/x.sh"), "#!/bin/sh\n", 0o755)
	write(t, filepath.Join(podRoot, "notes.txt"), "not downloaded", 0o644)
	write(t, filepath.Join(podRoot, "cache/y"), "kept", 0o644)
	endRun(t, url)
	waitFile(t, filepath.Join(src, "lock.json"), "v2 from the pod")
	waitFile(t, filepath.Join(src, "gen/deep/x.sh"), "#!/bin/sh\n")
	if fi, err := os.Stat(filepath.Join(src, "gen/deep/x.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("mode not kept: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(src, "notes.txt")); !os.IsNotExist(err) {
		t.Errorf("a file no download pattern names came back: %v", err)
	}
	time.Sleep(time.Second) // the watcher's events for the downloaded files come and go
	rep.mu.Lock()
	bounced := rep.updates[sent:]
	lines := strings.Join(rep.lines, "\n")
	rep.mu.Unlock()
	if len(bounced) != 0 {
		t.Errorf("downloaded files were sent back: %+v", bounced)
	}
	if !strings.Contains(lines, "downloaded "+filepath.Join(src, "lock.json")+" from pod web-1") {
		t.Errorf("no download reported:\n%s", lines)
	}
	// the next edit is sent as usual, and the kept file stays in the pod
	write(t, filepath.Join(src, "index.html"), "v2", 0o644)
	waitFile(t, filepath.Join(podRoot, "index.html"), "v2")
	if b, err := os.ReadFile(filepath.Join(podRoot, "cache/y")); err != nil || string(b) != "kept" {
		t.Errorf("kept file: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(podRoot, "notes.txt")); err == nil {
		t.Logf("notes.txt still in the pod (%q) until the next converge", b)
	}
}

func entryOf(rel, content string) tree.Entry {
	return tree.Entry{Path: rel, Kind: tree.File, Mode: 0o644, Size: int64(len(content)), Hash: sha256.Sum256([]byte(content))}
}

// TestSaveDownload: the local file is replaced only when it is as last synced (or new on both sides);
// otherwise the pod's version goes beside it, and nothing is written through a symlink.
func TestSaveDownload(t *testing.T) {
	tests := []struct {
		name     string
		local    string // "" = absent, "@link" = a symlink
		synced   string // last synced content, "" = never synced
		want     downloadResult
		wantFile string // the local file afterwards
		wantCopy string // the conflict copy afterwards, "" = none
	}{
		{"new on both sides", "", "", downloaded, "pod", ""},
		{"as last synced", "old", "old", downloaded, "pod", ""},
		{"already the pod's", "pod", "old", alreadyLocal, "pod", ""},
		{"changed locally", "mine", "old", conflicted, "mine", "pod"},
		{"made locally too", "mine", "", conflicted, "mine", "pod"},
		{"deleted locally", "", "old", conflicted, "", "pod"},
		{"a symlink locally", "@link", "old", conflicted, "@link", "pod"},
		{"a directory locally", "@dir", "old", conflicted, "", "pod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "gen", "x.txt")
			switch {
			case tt.local == "@link":
				write(t, filepath.Join(dir, "target"), "t", 0o644)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("../target", p); err != nil {
					t.Fatal(err)
				}
			case tt.local == "@dir":
				write(t, filepath.Join(p, "inside"), "i", 0o644)
			case tt.local != "":
				write(t, p, tt.local, 0o644)
			}
			r, err := rules.Parse("sync: [{from: ., to: /app, download: [gen/**]}]")
			if err != nil {
				t.Fatal(err)
			}
			l, err := newLocal(dir, r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.saveDownload(0, entryOf("gen/x.txt", "pod"), []byte("pod"), entryOf("gen/x.txt", tt.synced), tt.synced != "", tree.Manifest{})
			if err != nil || got != tt.want {
				t.Fatalf("saveDownload = %v, %v; want %v", got, err, tt.want)
			}
			if tt.wantFile == "@link" {
				if tgt, err := os.Readlink(p); err != nil || tgt != "../target" {
					t.Errorf("the symlink was replaced: %q %v", tgt, err)
				}
				if b, _ := os.ReadFile(filepath.Join(dir, "target")); string(b) != "t" {
					t.Errorf("written through the symlink: %q", b)
				}
			} else if b, _ := os.ReadFile(p); string(b) != tt.wantFile {
				t.Errorf("local file = %q, want %q", b, tt.wantFile)
			}
			if b, _ := os.ReadFile(p + rules.ConflictSuffix); string(b) != tt.wantCopy {
				t.Errorf("conflict copy = %q, want %q", b, tt.wantCopy)
			}
			if got == downloaded && !l.roots[0].manifest[("gen/x.txt")].Same(entryOf("gen/x.txt", "pod")) {
				t.Errorf("local manifest not brought up to date: %+v", l.roots[0].manifest["gen/x.txt"])
			}
		})
	}
}

// TestSaveDownloadRefusesLinkedParent: a parent directory that is a symlink is not written through.
func TestSaveDownloadRefusesLinkedParent(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(dir, "gen")); err != nil {
		t.Fatal(err)
	}
	r, err := rules.Parse("sync: [{from: ., to: /app, download: [gen/**]}]")
	if err != nil {
		t.Fatal(err)
	}
	l, err := newLocal(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.saveDownload(0, entryOf("gen/x.txt", "pod"), []byte("pod"), tree.Entry{}, false, tree.Manifest{}); err == nil {
		t.Fatal("saveDownload wrote through a symlinked directory")
	}
	if es, _ := os.ReadDir(elsewhere); len(es) != 0 {
		t.Errorf("files landed outside the tree: %v", es)
	}
}
