package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/kubectl-fastdev/kubectl-fastdev/hack/mkimage/image"
)

// reLddLib matches a line of ldd's output that names a library file: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6
// (0x...)" or the dynamic loader's "/lib64/ld-linux-x86-64.so.2 (0x...)".
var reLddLib = regexp.MustCompile(`^\s*(?:\S+ => )?(/\S+) \(0x[0-9a-f]+\)$`)

// addSharedLibs adds to l, at the paths the host's loader found them, the shared libraries (and the
// dynamic loader) that the given dynamically linked ELF files need, as `ldd` lists them. The files
// are the host's own ones: the Node.js and Python images run binaries of this Debian host, whose
// libraries match them. A statically linked file or one that is not ELF needs nothing.
func addSharedLibs(ctx context.Context, l *image.Layer, files ...string) error {
	seen := map[string]bool{}
	for _, f := range files {
		if !dynamicELF(f) {
			continue
		}
		libs, err := lddLibs(ctx, f)
		if err != nil {
			return err
		}
		for _, lib := range libs {
			if seen[lib] {
				continue
			}
			seen[lib] = true
			real, err := filepath.EvalSymlinks(lib)
			if err != nil {
				return fmt.Errorf("library %s of %s: %w", lib, f, err)
			}
			l.HostFile(lib, 0o755, real)
		}
	}
	return l.Err()
}

// dynamicELF reports whether file is an ELF file with a dynamic section (an executable with an
// interpreter, or a shared object).
func dynamicELF(file string) bool {
	f, err := elf.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_DYNAMIC {
			return true
		}
	}
	return false
}

// lddLibs returns the absolute paths of the libraries ldd resolves for file.
func lddLibs(ctx context.Context, file string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ldd", file).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("ldd %s (apt-get install libc-bin): %w\n%s", file, err, out)
	}
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "not found") {
			return nil, fmt.Errorf("ldd %s: a library is missing on this host: %s (install the Debian package that has it)", file, strings.TrimSpace(line))
		}
		if m := reLddLib.FindStringSubmatch(line); m != nil {
			libs = append(libs, m[1])
		}
	}
	return libs, sc.Err()
}
