package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/kubectl-fastdev/kubectl-fastdev/hack/mkimage/image"
)

// debWheels writes into out one wheel per package of pyWheelDebs. Each .deb is downloaded with
// `apt-get download` into debs once (a later build finds it there), unpacked into scratch and turned
// into a wheel by wheelFromDist. PyPI is not reachable here; Debian's mirror is.
func debWheels(ctx context.Context, debs, scratch, out string) error {
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return err
	}
	for _, d := range []string{out, scratch} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, pkg := range pyWheelDebs {
		deb, err := debFile(ctx, debs, pkg)
		if err != nil {
			return err
		}
		dir := filepath.Join(scratch, pkg)
		if b, err := exec.CommandContext(ctx, "dpkg-deb", "-x", deb, dir).CombinedOutput(); err != nil {
			return fmt.Errorf("dpkg-deb -x %s: %w\n%s", deb, err, b)
		}
		if _, err := wheelFromDist(filepath.Join(dir, "usr", "lib", "python3", "dist-packages"), out); err != nil {
			return fmt.Errorf("making a wheel of %s: %w", deb, err)
		}
	}
	return nil
}

// debFile returns the cached .deb of pkg in dir, downloading it first when there is none.
func debFile(ctx context.Context, dir, pkg string) (string, error) {
	glob := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, pkg+"_*.deb")) // the pattern is well formed
		return m
	}
	if m := glob(); len(m) > 0 {
		sort.Strings(m)
		return m[len(m)-1], nil
	}
	download := func() ([]byte, error) {
		cmd := exec.CommandContext(ctx, "apt-get", "download", "-q", pkg)
		cmd.Dir = dir
		return cmd.CombinedOutput()
	}
	if _, err := download(); err != nil {
		// a machine whose package lists were never fetched or were cleaned: fetch them once
		if b, err := exec.CommandContext(ctx, "apt-get", "update", "-qq").CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get update (to download %s; run it as root): %w\n%s", pkg, err, b)
		}
		if b, err := download(); err != nil {
			return "", fmt.Errorf("apt-get download %s: %w\n%s", pkg, err, b)
		}
	}
	if m := glob(); len(m) > 0 {
		return m[0], nil
	}
	return "", fmt.Errorf("apt-get download %s wrote no %s_*.deb into %s", pkg, pkg, dir)
}

var reWheelName = regexp.MustCompile(`[-_.]+`)

// wheelFromDist writes a pure-Python wheel (py3-none-any) of the one distribution installed in
// site, a Debian dist-packages directory: its modules, and a .dist-info made from the installed
// .egg-info's PKG-INFO or the .dist-info's METADATA (Debian keeps both kinds), with a generated WHEEL
// and RECORD. Every entry has image.Epoch as its time, so the same package gives the same wheel.
func wheelFromDist(site, out string) (string, error) {
	infos, err := filepath.Glob(filepath.Join(site, "*.*-info"))
	if err != nil || len(infos) != 1 {
		return "", fmt.Errorf("want one .egg-info or .dist-info in %s, found %v", site, infos)
	}
	meta, err := distMetadata(infos[0])
	if err != nil {
		return "", err
	}
	name, version := header(meta, "Name"), header(meta, "Version")
	if name == "" || version == "" {
		return "", fmt.Errorf("%s has no Name or Version", infos[0])
	}
	stem := reWheelName.ReplaceAllString(name, "_") + "-" + version
	file := filepath.Join(out, stem+"-py3-none-any.whl")
	var buf bytes.Buffer
	z := &wheelZip{w: zip.NewWriter(&buf)}
	if err := z.addModules(site, infos[0]); err != nil {
		return "", err
	}
	info := stem + ".dist-info/"
	wheel := "Wheel-Version: 1.0\nGenerator: kubectl-fastdev hack/mkimage (from a Debian package)\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
	for _, f := range [][2]string{{"METADATA", meta}, {"WHEEL", wheel}} {
		if err := z.add(info+f[0], []byte(f[1])); err != nil {
			return "", err
		}
	}
	if err := z.close(info + "RECORD"); err != nil {
		return "", err
	}
	return file, os.WriteFile(file, buf.Bytes(), 0o644)
}

// wheelZip writes a wheel's zip and keeps its RECORD: each entry's sha256 (unpadded urlsafe
// base64) and size.
type wheelZip struct {
	w      *zip.Writer
	record strings.Builder
}

func (z *wheelZip) add(name string, data []byte) error {
	f, err := z.w.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: image.Epoch})
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	fmt.Fprintf(&z.record, "%s,sha256=%s,%d\n", name, base64.RawURLEncoding.EncodeToString(sum[:]), len(data))
	_, err = f.Write(data)
	return err
}

// addModules adds the regular files under site, except the installed metadata directory info and
// __pycache__ directories.
func (z *wheelZip) addModules(site, info string) error {
	return filepath.WalkDir(site, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == site {
			return err
		}
		if d.IsDir() && (p == info || d.Name() == "__pycache__") {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(site, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return z.add(filepath.ToSlash(rel), data)
	})
}

// close writes the RECORD, which lists itself without a hash, and ends the zip.
func (z *wheelZip) close(record string) error {
	z.record.WriteString(record + ",,\n")
	f, err := z.w.CreateHeader(&zip.FileHeader{Name: record, Method: zip.Deflate, Modified: image.Epoch})
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte(z.record.String())); err != nil {
		return err
	}
	return z.w.Close()
}

// distMetadata returns the core metadata of an installed distribution: METADATA of a .dist-info,
// or PKG-INFO of an .egg-info with its requires.txt (the unconditional part) as Requires-Dist.
func distMetadata(info string) (string, error) {
	if strings.HasSuffix(info, ".dist-info") {
		b, err := os.ReadFile(filepath.Join(info, "METADATA"))
		return string(b), err
	}
	b, err := os.ReadFile(filepath.Join(info, "PKG-INFO"))
	if err != nil {
		return "", err
	}
	head, body, _ := strings.Cut(string(b), "\n\n")
	req, err := os.ReadFile(filepath.Join(info, "requires.txt"))
	if err != nil && !os.IsNotExist(err) {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(req))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			break // extras and environment markers: not needed by a plain install
		}
		if line != "" {
			head += "\nRequires-Dist: " + line
		}
	}
	return head + "\n\n" + body, nil
}

// header returns the value of the first "Key: value" line of an RFC 822 style metadata head.
func header(meta, key string) string {
	head, _, _ := strings.Cut(meta, "\n\n")
	for _, line := range strings.Split(head, "\n") {
		if v, ok := strings.CutPrefix(line, key+": "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
