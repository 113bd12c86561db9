package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

var mtime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// sources writes the files an archive is made of, with local modes and times that must not leak into it.
func sources(t *testing.T, dir string, touched time.Time, mode fs.FileMode) []entry {
	t.Helper()
	files := map[string]string{"kubectl-fastdev": "\x7fELF binary", "LICENSE": "Apache License", "kubectl_complete-fastdev": "#!/bin/sh\n"}
	var es []entry
	// given out of name order: the archive sorts them
	for _, name := range []string{"kubectl_complete-fastdev", "kubectl-fastdev", "LICENSE"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(files[name]), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, touched, touched); err != nil {
			t.Fatal(err)
		}
		m := fs.FileMode(0o755)
		if name == "LICENSE" {
			m = 0o644
		}
		es = append(es, entry{Name: name, Path: p, Mode: m})
	}
	return es
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type member struct {
	name string
	mode fs.FileMode
	mod  time.Time
	data string
}

func readTarGz(t *testing.T, path string) []member {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var ms []member
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return ms
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: owner %d/%d %q/%q, want none", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		ms = append(ms, member{h.Name, h.FileInfo().Mode(), h.ModTime, string(b)})
	}
}

func readZip(t *testing.T, path string) []member {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var ms []member
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		ms = append(ms, member{f.Name, f.Mode(), f.Modified, string(b)})
	}
	return ms
}

func TestArchives(t *testing.T) {
	for _, name := range []string{"a.tar.gz", "a.zip"} {
		t.Run(name, func(t *testing.T) {
			// the same contents, once from files with one set of local modes and times, once another
			var built [][]byte
			for i, local := range []struct {
				touched time.Time
				mode    fs.FileMode
			}{{time.Now(), 0o600}, {time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), 0o777}} {
				dir := t.TempDir()
				out := filepath.Join(dir, name)
				sum, err := writeArchive(out, sources(t, dir, local.touched, local.mode), mtime)
				if err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				if want := sha256Hex(b); sum != want {
					t.Errorf("run %d: returned sha256 %s, file has %s", i, sum, want)
				}
				built = append(built, b)
			}
			if !bytes.Equal(built[0], built[1]) {
				t.Fatal("the same contents gave different archives: local file modes or times leak into them")
			}
			path := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(path, built[0], 0o644); err != nil {
				t.Fatal(err)
			}
			var got []member
			if strings.HasSuffix(name, ".zip") {
				got = readZip(t, path)
			} else {
				got = readTarGz(t, path)
			}
			want := []member{
				{"LICENSE", 0o644, mtime, "Apache License"},
				{"kubectl-fastdev", 0o755, mtime, "\x7fELF binary"},
				{"kubectl_complete-fastdev", 0o755, mtime, "#!/bin/sh\n"},
			}
			if len(got) != len(want) {
				t.Fatalf("members %+v, want %+v", got, want)
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.name != w.name || g.mode != w.mode || !g.mod.Equal(w.mod) || g.data != w.data {
					t.Errorf("member %d: %s %v %v %q, want %s %v %v %q", i, g.name, g.mode, g.mod, g.data, w.name, w.mode, w.mod, w.data)
				}
			}
		})
	}
}

func TestArchiveRejectsDuplicateNames(t *testing.T) {
	dir := t.TempDir()
	es := sources(t, dir, mtime, 0o644)
	es = append(es, entry{Name: "LICENSE", Path: es[0].Path, Mode: 0o644})
	if _, err := writeArchive(filepath.Join(dir, "a.tar.gz"), es, mtime); err == nil {
		t.Fatal("an archive with LICENSE twice was written")
	}
	if _, err := os.Stat(filepath.Join(dir, "a.tar.gz")); err == nil {
		t.Error("a failed archive was left behind")
	}
}

func TestSumsFile(t *testing.T) {
	got := string(sumsFile(map[string]string{"b.zip": strings.Repeat("b", 64), "a.tar.gz": strings.Repeat("a", 64)}))
	// sha256sum's format (two spaces), sorted, so `sha256sum -c SHA256SUMS` reads it
	want := strings.Repeat("a", 64) + "  a.tar.gz\n" + strings.Repeat("b", 64) + "  b.zip\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPlatformNames(t *testing.T) {
	for _, tc := range []struct {
		p                         platform
		archive, bin, completions string
	}{
		{platform{"linux", "amd64"}, "kubectl-fastdev_v1.2.3_linux_amd64.tar.gz", "kubectl-fastdev", "kubectl_complete-fastdev"},
		{platform{"darwin", "arm64"}, "kubectl-fastdev_v1.2.3_darwin_arm64.tar.gz", "kubectl-fastdev", "kubectl_complete-fastdev"},
		{platform{"windows", "amd64"}, "kubectl-fastdev_v1.2.3_windows_amd64.zip", "kubectl-fastdev.exe", "kubectl_complete-fastdev.cmd"},
	} {
		if got := tc.p.archive("v1.2.3"); got != tc.archive {
			t.Errorf("%s archive %q, want %q", tc.p, got, tc.archive)
		}
		if got := tc.p.bin(); got != tc.bin {
			t.Errorf("%s bin %q, want %q", tc.p, got, tc.bin)
		}
		if got := tc.p.completion(); got != tc.completions {
			t.Errorf("%s completion helper %q, want %q", tc.p, got, tc.completions)
		}
	}
}

// TestManifestTemplate renders the real template and reads it back as krew would (field names from
// krew's v1alpha2 Plugin type, unknown fields rejected); test/krew runs krew's own validation on it.
func TestManifestTemplate(t *testing.T) {
	c := config{Version: "v1.2.3", Template: "../krew/fastdev.yaml.tmpl"}
	var ps []manifestPlatform
	for _, p := range platforms {
		ps = append(ps, manifestPlatform{OS: p.OS, Arch: p.Arch, Bin: p.bin(), Sha256: strings.Repeat("0", 64),
			URI: "https://example.com/" + p.archive(c.Version), Files: []string{p.bin(), "LICENSE", p.completion()}})
	}
	out, err := renderManifest(c.Template, c.Version, ps)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Version          string `json:"version"`
			Homepage         string `json:"homepage"`
			ShortDescription string `json:"shortDescription"`
			Description      string `json:"description"`
			Caveats          string `json:"caveats"`
			Platforms        []struct {
				Selector struct {
					MatchLabels map[string]string `json:"matchLabels"`
				} `json:"selector"`
				URI    string `json:"uri"`
				Sha256 string `json:"sha256"`
				Bin    string `json:"bin"`
				Files  []struct {
					From string `json:"from"`
					To   string `json:"to"`
				} `json:"files"`
			} `json:"platforms"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(out, &m); err != nil {
		t.Fatalf("rendered manifest: %v\n%s", err, out)
	}
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Metadata.Name != "fastdev" || m.Spec.Version != "v1.2.3" {
		t.Errorf("header: %s %s %s %s", m.APIVersion, m.Kind, m.Metadata.Name, m.Spec.Version)
	}
	for _, want := range []string{"init container", "sidecar", "emptyDir", "command", "annotations", "kubectl fastdev down",
		"store/fastdev/v1.2.3/kubectl_complete-fastdev"} {
		if !strings.Contains(m.Spec.Caveats, want) {
			t.Errorf("caveats do not mention %q:\n%s", want, m.Spec.Caveats)
		}
	}
	if len(m.Spec.Platforms) != len(platforms) {
		t.Fatalf("%d platforms, want %d", len(m.Spec.Platforms), len(platforms))
	}
	for i, p := range m.Spec.Platforms {
		want := ps[i]
		if p.Selector.MatchLabels["os"] != want.OS || p.Selector.MatchLabels["arch"] != want.Arch || p.URI != want.URI ||
			p.Sha256 != want.Sha256 || p.Bin != want.Bin || len(p.Files) != 3 {
			t.Errorf("platform %d: %+v, want %+v", i, p, want)
		}
	}
}

// TestPinDigest: a release needs the synclet image's digest and stamps it into the binaries' ldflags.
func TestPinDigest(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	c := config{LDFlags: "-s -w", Digest: d}
	if err := pinDigest(&c); err != nil || c.LDFlags != "-s -w -X "+digestVar+"="+d {
		t.Errorf("ldflags %q, %v", c.LDFlags, err)
	}
	for _, bad := range []string{"", "latest", "sha256:abc", "sha512:" + strings.Repeat("ab", 32), "sha256:" + strings.Repeat("AB", 32)} {
		c := config{Digest: bad}
		if err := pinDigest(&c); err == nil || !strings.Contains(err.Error(), "make dist") {
			t.Errorf("digest %q: %v", bad, err)
		}
	}
}
