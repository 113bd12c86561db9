package detect

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// systemDirs hold the image's programs and configuration, never the project's code.
var systemDirs = []string{"/bin", "/sbin", "/usr", "/lib", "/lib64", "/etc", "/proc", "/sys", "/dev", "/tmp", "/var/run", "/run", "/fastdev"}

// pickContainer returns the container to develop: the first of the template's (the one `up`
// develops without a container key), and why.
func pickContainer(t corev1.PodTemplateSpec) (*corev1.Container, string, error) {
	cs := t.Spec.Containers
	switch len(cs) {
	case 0:
		return nil, "", fmt.Errorf("the pod template has no containers: init reads the app's container to propose rules")
	case 1:
		return &cs[0], "the pod's only container", nil
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return &cs[0], fmt.Sprintf("the first of %d containers (%s): name another to develop it, or give each a directory of its name here (./%s) and run init again to develop several", len(cs), strings.Join(names, ", "), strings.Join(names, ", ./")), nil
}

// argv is what the container starts: its command and args as the pod spec gives them.
func argv(c *corev1.Container) []string {
	return append(append([]string{}, c.Command...), c.Args...)
}

// codeDir guesses where the image keeps the project's code, and why; ok is false when nothing in
// the pod template tells (then init asks for it).
func codeDir(c *corev1.Container, tree fs.FS, p *project) (dir, why string, ok bool) {
	if dir, why, ok := fileInCommand(c, tree, p); ok {
		return dir, why, true
	}
	if p.lang == Static {
		if dir, why, ok := servedDir(c); ok {
			return dir, why, true
		}
	}
	if wd := path.Clean(c.WorkingDir); c.WorkingDir != "" && path.IsAbs(wd) && wd != "/" && !inSystemDir(wd) {
		return wd, "the container's workingDir", true
	}
	return "", "", false
}

// fileInCommand finds an absolute path in the command that ends with a file of the project, such as
// /app/src/server.js for ./server.js: the code is under what comes before. The longest match wins.
func fileInCommand(c *corev1.Container, tree fs.FS, p *project) (string, string, bool) {
	for _, a := range argv(c) {
		if !path.IsAbs(a) || inSystemDir(a) {
			continue
		}
		parts := strings.Split(strings.TrimPrefix(path.Clean(a), "/"), "/")
		for i := 1; i < len(parts); i++ { // parts[:i] is the in-pod directory, parts[i:] the local file
			rel := strings.Join(parts[i:], "/")
			info, err := fs.Stat(tree, path.Join(p.dir, rel))
			if err != nil || info.IsDir() {
				continue
			}
			return "/" + strings.Join(parts[:i], "/"), fmt.Sprintf("the command runs %s, and ./%s is here", a, rel), true
		}
	}
	return "", "", false
}

// servedDir finds, for a static site, the directory its server is given: an absolute argument
// other than the program that names no file (no extension), such as httpd's "-h /www".
func servedDir(c *corev1.Container) (string, string, bool) {
	args := argv(c)
	for i, a := range args {
		if i == 0 || !path.IsAbs(a) || inSystemDir(a) || path.Ext(a) != "" || path.Clean(a) == "/" {
			continue
		}
		why := "the command serves " + a
		if i > 0 && strings.HasPrefix(args[i-1], "-") {
			why += fmt.Sprintf(" (its %s argument)", args[i-1])
		}
		return path.Clean(a), why, true
	}
	return "", "", false
}

func inSystemDir(p string) bool {
	for _, d := range systemDirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// program is the container's absolute program path when the project builds it (Go): not a system
// program and not a file of the synced tree.
func program(c *corev1.Container, to string) (string, bool) {
	if len(c.Command) == 0 {
		return "", false
	}
	prog := path.Clean(c.Command[0])
	if !path.IsAbs(prog) || inSystemDir(prog) || (to != "" && (prog == to || strings.HasPrefix(prog, to+"/"))) {
		return "", false
	}
	return prog, true
}

// readOnlyRoot reports whether the container's root file system is read-only.
func readOnlyRoot(c *corev1.Container) bool {
	sc := c.SecurityContext
	return sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
}

// onVolume reports whether the in-pod path p is on one of the container's volume mounts.
func onVolume(c *corev1.Container, p string) bool {
	for _, m := range c.VolumeMounts {
		mp := path.Clean(m.MountPath)
		if p == mp || strings.HasPrefix(p, mp+"/") {
			return true
		}
	}
	return false
}

// reloads reports whether the command reloads the code by itself (a watch or reload flag), so the
// process needs no restart.
func reloads(c *corev1.Container) (string, bool) {
	for _, a := range argv(c) {
		switch {
		case a == "--reload", a == "--watch", strings.HasPrefix(a, "--watch="), strings.HasSuffix(a, "nodemon"):
			return a, true
		}
	}
	return "", false
}
