// Command release builds a kubectl-fastdev release into one directory: the plugin for every platform in
// the krew manifest, one reproducible archive per platform (the binary, LICENSE and the
// kubectl_complete-fastdev helper), SHA256SUMS, and the krew manifest rendered from
// hack/krew/fastdev.yaml.tmpl with each archive's sha256. `make dist` runs it from the repository root.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"time"
)

// platform is one GOOS/GOARCH the release ships for.
type platform struct{ OS, Arch string }

// platforms are those krew users run kubectl on; every one gets an archive and a manifest entry.
var platforms = []platform{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

func (p platform) String() string { return p.OS + "/" + p.Arch }

// bin is the plugin binary's name on p: kubectl finds plugins by this name.
func (p platform) bin() string {
	if p.OS == "windows" {
		return "kubectl-fastdev.exe"
	}
	return "kubectl-fastdev"
}

// completion is the name of the helper kubectl runs to complete `kubectl fastdev` on p; Windows finds
// executables by extension, so it gets the .cmd variant.
func (p platform) completion() string {
	if p.OS == "windows" {
		return "kubectl_complete-fastdev.cmd"
	}
	return "kubectl_complete-fastdev"
}

// archive is the release file name for p: zip on Windows, where it is the native format, tar.gz
// elsewhere, where it keeps the executable bits.
func (p platform) archive(version string) string {
	ext := ".tar.gz"
	if p.OS == "windows" {
		ext = ".zip"
	}
	return fmt.Sprintf("kubectl-fastdev_%s_%s_%s%s", version, p.OS, p.Arch, ext)
}

// config is what one release run needs.
type config struct {
	Version    string
	LDFlags    string
	Digest     string // the synclet image's manifest digest, stamped into every binary (pinDigest)
	Main       string // the package to build
	Out        string
	Manifest   string // where the rendered krew manifest goes
	Template   string
	License    string
	Completion map[string]string // helper name in the archive -> local file
	ReleaseURL string
	MTime      time.Time
}

// syncletDigest is an image manifest digest as registries name it.
var syncletDigest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// digestVar is the variable the plugin reads the pinned synclet digest from (pkg/cmd.SyncletDigest).
const digestVar = "github.com/kubectl-fastdev/kubectl-fastdev/pkg/cmd.SyncletDigest"

// pinDigest refuses a release without the synclet image's digest and stamps it into the build's
// ldflags: a release's `up` names the synclet image by digest, so a tag moved or an image replaced on
// a node is never what runs as the app container's PID 1.
func pinDigest(c *config) error {
	if !syncletDigest.MatchString(c.Digest) {
		return fmt.Errorf("-synclet-digest %q: want the synclet image's digest, sha256: and 64 hex digits (make dist reads it from $(IMG)/synclet.tar.digest, written by make images)", c.Digest)
	}
	c.LDFlags = strings.TrimSpace(c.LDFlags + " -X " + digestVar + "=" + c.Digest)
	return nil
}

// krewVersion is what krew accepts as spec.version: a "v"-prefixed semantic version.
var krewVersion = regexp.MustCompile(`^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// zipEpoch is the earliest time a zip entry can record (MS-DOS dates start in 1980).
var zipEpoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	c := config{Completion: map[string]string{}}
	var epoch int64
	var helper, helperWindows string
	flag.StringVar(&c.Version, "version", "", "release version, e.g. v0.1.0 (the VERSION file)")
	flag.StringVar(&c.LDFlags, "ldflags", "", "-ldflags for go build (the Makefile's LDFLAGS: version and commit stamps)")
	flag.StringVar(&c.Digest, "synclet-digest", "", "the synclet image's digest (sha256:...), which the release's `up` injects: make dist reads it from the synclet image mkimage built")
	flag.StringVar(&c.Main, "main", "./cmd/kubectl-fastdev", "package of the plugin binary")
	flag.StringVar(&c.Out, "out", "dist", "directory for the archives, SHA256SUMS and the per-platform binaries (bin/)")
	flag.StringVar(&c.Manifest, "krew", "krew.yaml", "where to write the krew manifest")
	flag.StringVar(&c.Template, "template", "hack/krew/fastdev.yaml.tmpl", "krew manifest template")
	flag.StringVar(&c.License, "license", "LICENSE", "license file shipped in every archive")
	flag.StringVar(&helper, "completion", "hack/kubectl_complete-fastdev", "completion helper for Linux and macOS")
	flag.StringVar(&helperWindows, "completion-windows", "hack/kubectl_complete-fastdev.cmd", "completion helper for Windows")
	flag.StringVar(&c.ReleaseURL, "release-url", "https://github.com/kubectl-fastdev/kubectl-fastdev/releases/download",
		"base of the manifest's uri: <release-url>/<version>/<archive>")
	flag.Int64Var(&epoch, "mtime", zipEpoch.Unix(), "modification time of every archive entry, in Unix seconds (SOURCE_DATE_EPOCH)")
	flag.Parse()
	c.MTime = time.Unix(epoch, 0).UTC()
	c.Completion["kubectl_complete-fastdev"] = helper
	c.Completion["kubectl_complete-fastdev.cmd"] = helperWindows
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	if !krewVersion.MatchString(c.Version) {
		return fmt.Errorf("-version %q: want a semantic version with a v prefix, e.g. v0.1.0 (krew requires it)", c.Version)
	}
	if err := pinDigest(&c); err != nil {
		return err
	}
	if c.MTime.Before(zipEpoch) {
		return fmt.Errorf("-mtime %d: zip cannot record times before 1980; pass a later SOURCE_DATE_EPOCH", c.MTime.Unix())
	}
	// a broken template fails the run before the builds, not after
	if _, err := renderManifest(c.Template, c.Version, nil); err != nil {
		return err
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return err
	}
	if err := removeOldArchives(c.Out); err != nil {
		return err
	}
	sums := map[string]string{}
	var entries []manifestPlatform
	for _, p := range platforms {
		bin := filepath.Join(c.Out, "bin", p.OS+"_"+p.Arch, p.bin())
		fmt.Fprintf(os.Stderr, "building %s\n", p)
		if err := build(c, p, bin); err != nil {
			return err
		}
		helper := c.Completion[p.completion()]
		name := p.archive(c.Version)
		sum, err := writeArchive(filepath.Join(c.Out, name), []entry{
			{Name: p.bin(), Path: bin, Mode: 0o755},
			{Name: "LICENSE", Path: c.License, Mode: 0o644},
			{Name: p.completion(), Path: helper, Mode: 0o755},
		}, c.MTime)
		if err != nil {
			return err
		}
		sums[name] = sum
		entries = append(entries, manifestPlatform{
			OS: p.OS, Arch: p.Arch, Bin: p.bin(), Sha256: sum,
			URI:   strings.TrimSuffix(c.ReleaseURL, "/") + "/" + c.Version + "/" + name,
			Files: []string{p.bin(), "LICENSE", p.completion()},
		})
	}
	if err := writeFile(filepath.Join(c.Out, "SHA256SUMS"), sumsFile(sums)); err != nil {
		return err
	}
	manifest, err := renderManifest(c.Template, c.Version, entries)
	if err != nil {
		return err
	}
	if err := writeFile(c.Manifest, manifest); err != nil {
		return err
	}
	os.Stdout.Write(sumsFile(sums))
	fmt.Printf("wrote %s\n", c.Manifest)
	return nil
}

// manifestPlatform is one entry of the krew manifest's platforms list.
type manifestPlatform struct {
	OS, Arch, URI, Sha256, Bin string
	Files                      []string // archive entries krew copies into the plugin's directory
}

// renderManifest fills the krew manifest template at path; a field the template names but the data
// lacks is an error, not an empty value.
func renderManifest(path, version string, ps []manifestPlatform) ([]byte, error) {
	tmpl, err := template.New(filepath.Base(path)).Option("missingkey=error").ParseFiles(path)
	if err != nil {
		return nil, fmt.Errorf("krew manifest template: %w", err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, struct {
		Version   string
		Platforms []manifestPlatform
	}{version, ps}); err != nil {
		return nil, fmt.Errorf("krew manifest template %s: %w", path, err)
	}
	return b.Bytes(), nil
}

// build cross-compiles the plugin for p, static and without local paths or VCS state, so the same
// source and flags give the same binary.
func build(c config, p platform, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", c.LDFlags, "-o", out, c.Main)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s for %s: %w", c.Main, p, err)
	}
	return nil
}

// sumsFile formats sums as `sha256sum` does, sorted by name, so `sha256sum -c SHA256SUMS` checks a
// download.
func sumsFile(sums map[string]string) []byte {
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", sums[n], n)
	}
	return b.Bytes()
}

// removeOldArchives deletes the archives and sums an earlier run left in dir (another version's
// would otherwise sit next to this one's, unlisted in SHA256SUMS), and nothing else.
func removeOldArchives(dir string) error {
	old, err := filepath.Glob(filepath.Join(dir, "kubectl-fastdev_*"))
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range append(old, filepath.Join(dir, "SHA256SUMS")) {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// writeFile replaces path with data in one rename, so an interrupted run leaves the old file.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
