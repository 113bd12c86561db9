package protocol

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the seed corpus under testdata/fuzz")

func TestSplitEntryName(t *testing.T) {
	cases := []struct {
		name  string
		roots int
		root  int
		rel   string
		err   string // substring of the refusal, "" when accepted
	}{
		{"0/index.html", 1, 0, "index.html", ""},
		{"1/a/b c/ü.txt", 2, 1, "a/b c/ü.txt", ""},
		{"0/dir/", 1, 0, "dir", ""}, // tar's directory slash
		{"0/..x", 1, 0, "..x", ""},  // a name that merely starts with dots
		{"0/x..", 1, 0, "x..", ""},
		{"index.html", 1, 0, "", "no sync root prefix"},
		{"", 1, 0, "", "no sync root prefix"},
		{"1/x", 1, 0, "", "unknown sync root"},
		{"-1/x", 2, 0, "", "unknown sync root"},
		{"01/x", 2, 0, "", "unknown sync root"},
		{"+1/x", 2, 0, "", "unknown sync root"},
		{"/x", 1, 0, "", "unknown sync root"},
		{"0/x", 0, 0, "", "unknown sync root"},
		{"99999999999999999999/x", 1, 0, "", "unknown sync root"},
		{"0/", 1, 0, "", "escapes"},
		{"0//", 1, 0, "", "escapes"},
		{"0/.", 1, 0, "", "escapes"}, // the root itself: an entry would chmod or replace the whole root
		{"0/./", 1, 0, "", "escapes"},
		{"0/..", 1, 0, "", "escapes"},
		{"0/../", 1, 0, "", "escapes"},
		{"0/../x", 1, 0, "", "escapes"},
		{"0/a/../../x", 1, 0, "", "escapes"},
		{"0/a/../b", 1, 0, "", "escapes"}, // not canonical
		{"0/a/./b", 1, 0, "", "escapes"},
		{"0/a//b", 1, 0, "", "escapes"},
		{"0/a//", 1, 0, "", "escapes"},
		{"0//etc/passwd", 1, 0, "", "escapes"},
		{"0/a\x00b", 1, 0, "", "escapes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			i, rel, err := SplitEntryName(c.name, c.roots)
			if c.err != "" {
				if err == nil {
					t.Fatalf("accepted as root %d, %q", i, rel)
				}
				if !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "entry") {
					t.Fatalf("error %q does not say %q", err, c.err)
				}
				return
			}
			if err != nil || i != c.root || rel != c.rel {
				t.Fatalf("got %d, %q, %v; want %d, %q", i, rel, err, c.root, c.rel)
			}
		})
	}
}

// FuzzSplitEntryName checks that SplitEntryName never panics and that whatever it accepts is a
// canonical path strictly below a root that exists, which EntryName turns back into the same name.
func FuzzSplitEntryName(f *testing.F) {
	f.Fuzz(func(t *testing.T, name string, roots int) {
		if roots > 64 || roots < -1 {
			roots %= 64
		}
		i, rel, err := SplitEntryName(name, roots)
		if err != nil {
			return
		}
		if i < 0 || i >= roots {
			t.Fatalf("%q: root %d of %d", name, i, roots)
		}
		if rel == "" || rel == "." || path.IsAbs(rel) || path.Clean(rel) != rel || strings.ContainsRune(rel, 0) {
			t.Fatalf("%q: relative path %q is not canonical", name, rel)
		}
		for _, seg := range strings.Split(rel, "/") {
			if seg == ".." || seg == "." || seg == "" {
				t.Fatalf("%q: relative path %q has segment %q", name, rel, seg)
			}
		}
		if back := EntryName(i, rel); back != name && back+"/" != name {
			t.Fatalf("%q: EntryName gives back %q", name, back)
		}
	})
}

// nameSeeds are the starting points of FuzzSplitEntryName, committed under testdata/fuzz.
var nameSeeds = map[string]struct {
	name  string
	roots int
}{
	"plain":         {"0/index.html", 1},
	"second-root":   {"1/a b/ü.txt", 2},
	"dir-slash":     {"0/dir/", 1},
	"no-prefix":     {"index.html", 1},
	"dot-dot":       {"0/../x", 1},
	"dot-dot-inner": {"0/a/../../x", 1},
	"root-itself":   {"0/.", 1},
	"absolute":      {"0//etc/passwd", 1},
	"padded-root":   {"01/x", 2},
	"negative-root": {"-1/x", 2},
	"nul":           {"0/a\x00b", 1},
}

// TestSeedCorpus keeps the committed seed corpus equal to nameSeeds; -update rewrites it.
func TestSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzSplitEntryName")
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for file, s := range nameSeeds {
		want := fmt.Sprintf("go test fuzz v1\nstring(%q)\nint(%d)\n", s.name, s.roots)
		if *update {
			if err := os.WriteFile(filepath.Join(dir, file), []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := os.ReadFile(filepath.Join(dir, file)); err != nil || string(got) != want {
			t.Errorf("%s: committed seed differs (%v): run go test ./pkg/protocol -run TestSeedCorpus -update", file, err)
		}
	}
}

func TestUpdateMetaValidate(t *testing.T) {
	cases := []struct {
		name string
		meta UpdateMeta
		err  string
	}{
		{"empty", UpdateMeta{}, ""},
		{"steps and restart", UpdateMeta{Steps: []Step{{Argv: []string{"go", "build"}, Display: "go build"}}, Restart: "process"}, ""},
		{"every restart value", UpdateMeta{Restart: "container"}, ""},
		{"restart none", UpdateMeta{Restart: "none"}, ""},
		{"no argv", UpdateMeta{Steps: []Step{{Display: "make"}}}, `step 0 ("make") has no command`},
		{"empty program", UpdateMeta{Steps: []Step{{Argv: []string{""}}}}, "step 0"},
		{"unknown restart", UpdateMeta{Restart: "always"}, `restart "always"`},
		{"step timeout", UpdateMeta{Steps: []Step{{Argv: []string{"make"}, TimeoutMs: 3000}}}, ""},
		{"negative step timeout", UpdateMeta{Steps: []Step{{Argv: []string{"make"}, Display: "make", TimeoutMs: -1}}}, `step 0 ("make") has a negative timeout`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.meta.Validate()
			if c.err == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want one containing %q", err, c.err)
			}
		})
	}
}

// TestStepTimeout: a step without a timeout (an older CLI's, or a run entry without one) gets the
// default; one with a timeout gets exactly that, and the field survives the wire.
func TestStepTimeout(t *testing.T) {
	var old Step
	if err := json.Unmarshal([]byte(`{"argv":["make"],"display":"make"}`), &old); err != nil {
		t.Fatal(err)
	}
	if got := old.Timeout(); got != DefaultStepTimeout {
		t.Errorf("a step without timeoutMs: %s, want the default %s", got, DefaultStepTimeout)
	}
	b, err := json.Marshal(Step{Argv: []string{"make"}, Display: "make", TimeoutMs: 2500})
	if err != nil {
		t.Fatal(err)
	}
	var back Step
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got := back.Timeout(); got != 2500*time.Millisecond {
		t.Errorf("timeout after the wire: %s (%s), want 2.5s", got, b)
	}
}

func TestFormatTimeout(t *testing.T) {
	for d, want := range map[time.Duration]string{3 * time.Second: "3s", 10 * time.Minute: "10m", 24 * time.Hour: "24h",
		90 * time.Minute: "1h30m", 90 * time.Second: "1m30s", 400 * time.Millisecond: "400ms", time.Hour + time.Second: "1h0m1s"} {
		if got := FormatTimeout(d); got != want {
			t.Errorf("FormatTimeout(%s) = %q, want %q", d, got, want)
		}
	}
}
