package archive

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

var update = flag.Bool("update", false, "rewrite the seed corpus under testdata/fuzz")

// fuzzLimits keep each fuzz input's writes small, so the fuzzer spends its time on parsing.
var fuzzLimits = Limits{MaxFileSize: 1 << 20, MaxTotal: 4 << 20, MaxEntries: 256}

// FuzzApply feeds arbitrary bytes to Applier.Apply over two fresh sync roots: it must never panic,
// never change anything beside the roots (a canary directory, the roots' own modes), and never leave a
// symlink in a root that resolves outside it.
func FuzzApply(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newSandbox(t, 2)
		a, err := NewApplier(s.roots, fuzzLimits)
		if err != nil {
			t.Fatal(err)
		}
		_, st, err := a.Apply(bytes.NewReader(data))
		a.Close()
		s.checkOutside(t)
		s.checkLinks(t)
		if err == nil && (st.Bytes > fuzzLimits.MaxTotal || st.Files+st.Dirs+st.Links > fuzzLimits.MaxEntries) {
			t.Fatalf("accepted an update over the limits: %+v", st)
		}
	})
}

// seeds are the starting points of FuzzApply, committed under testdata/fuzz/FuzzApply: valid updates
// of every entry kind, and each attack the hardening tests refuse.
func seeds(t testing.TB) map[string][]byte {
	none := protocol.UpdateMeta{}
	full := stream(t, protocol.UpdateMeta{ID: "7", Deletes: []string{"0/old", "1/gone/dir"}, Restart: "process",
		Steps: []protocol.Step{{Argv: []string{"go", "build", "."}, Display: "go build ."}}},
		dir("0/src/", 0o755), file("0/src/main.go", "package main\n", 0o644), file("0/run.sh", "#!/bin/sh\n", 0o755),
		symlink("0/latest", "src/main.go"), dir("1/a b/", 0o700), file("1/a b/ü.txt", "ü", 0o600), symlink("1/a b/up", "../x"))
	long := strings.Repeat("d/", 60) + "f"
	return map[string][]byte{
		"full":              full,
		"empty-update":      stream(t, none),
		"long-name-pax":     stream(t, none, file("0/"+long, "x", 0o644)),
		"replace-dir":       stream(t, none, dir("0/x/", 0o755), file("0/x/y", "y", 0o644), file("0/x", "now a file", 0o644)),
		"dot-dot":           stream(t, none, file("0/../outside/canary", "pwned", 0o644)),
		"root-itself":       stream(t, none, dir("0/.", 0)),
		"absolute-link":     stream(t, none, symlink("0/etc", "/etc")),
		"link-up":           stream(t, none, dir("0/a/", 0o755), symlink("0/a/l", "../../outside")),
		"link-through-link": stream(t, none, symlink("0/x", "."), symlink("0/l", "x/..")),
		"link-in-link-dir":  stream(t, none, symlink("0/d", "."), symlink("0/d/l", "..")),
		"hardlink":          stream(t, none, ent{hdr: tar.Header{Name: "0/h", Typeflag: tar.TypeLink, Linkname: "../outside/canary"}}),
		"fifo":              stream(t, none, ent{hdr: tar.Header{Name: "0/p", Typeflag: tar.TypeFifo, Mode: 0o644}}),
		"delete-dot-dot":    stream(t, protocol.UpdateMeta{Deletes: []string{"0/../outside"}}),
		"bad-meta":          stream(t, []byte(`{"deletes":"0/x"}`)),
		"empty-step":        stream(t, protocol.UpdateMeta{Steps: []protocol.Step{{Display: "x"}}}),
		"truncated":         full[:len(full)/2],
		"not-tar":           []byte("GET /v1/manifest HTTP/1.1\r\n\r\n"),
	}
}

// TestSeedCorpus keeps the committed seed corpus equal to seeds(); -update rewrites it.
func TestSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzApply")
	want := map[string]string{}
	for name, b := range seeds(t) {
		want[name] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
	}
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range want {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var names []string
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want[name] {
			t.Errorf("%s: committed seed differs from seeds() (%v): run go test ./pkg/archive -run TestSeedCorpus -update", name, err)
		}
	}
}
