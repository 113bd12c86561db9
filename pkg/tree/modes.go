package tree

import "io/fs"

// ModeUnknown is the Mode of a local file or directory whose permission bits the local system does
// not keep: on Windows Go reports 0666 (0444 when read-only) for every file and 0777 for every
// directory, so scripts would lose +x in the pod and everything would be world-writable. An entry of
// unknown mode is Same as one of any mode (a mode-only difference is never sent), and SendMode gives
// it the pod's bits. (A local 0000 file or directory elsewhere reads the same; it cannot be read to be
// sent anyway.)
const ModeUnknown fs.FileMode = 0

// Modes for a file or directory of unknown mode the pod does not hold yet.
const (
	NewFileMode fs.FileMode = 0o644
	NewDirMode  fs.FileMode = 0o755
)

// ModesKnown reports whether the files of a system (a runtime.GOOS value) have permission bits a
// scan can read.
func ModesKnown(goos string) bool { return goos != "windows" }

// LocalMode is the Mode a scan on goos records for a file or directory of mode m.
func LocalMode(m fs.FileMode, goos string) fs.FileMode {
	if !ModesKnown(goos) {
		return ModeUnknown
	}
	return m.Perm()
}

// SendMode is the mode to send for the local entry e to a pod holding remote at its path (held: it
// does): e's own mode when known; else the mode the pod has for it (of the same kind), so an image's
// executable script stays executable; else NewFileMode or NewDirMode.
func SendMode(e, remote Entry, held bool) fs.FileMode {
	if e.Mode != ModeUnknown || e.Kind == Symlink {
		return e.Mode
	}
	if held && remote.Kind == e.Kind {
		return remote.Mode
	}
	if e.Kind == Dir {
		return NewDirMode
	}
	return NewFileMode
}
