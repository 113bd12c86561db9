package tree

import (
	"io/fs"
	"testing"
)

// TestLocalMode: a scan on Windows records no mode (its 0666 and 0777 mean nothing), elsewhere the
// permission bits.
func TestLocalMode(t *testing.T) {
	for _, tc := range []struct {
		goos string
		m    fs.FileMode
		want fs.FileMode
	}{
		{"linux", 0o755, 0o755},
		{"darwin", fs.ModeDir | 0o750, 0o750},
		{"windows", 0o666, ModeUnknown},
		{"windows", fs.ModeDir | 0o777, ModeUnknown},
	} {
		if got := LocalMode(tc.m, tc.goos); got != tc.want {
			t.Errorf("LocalMode(%v, %s) = %v, want %v", tc.m, tc.goos, got, tc.want)
		}
	}
}

// TestUnknownModeKeepsThePods: a local entry of unknown mode equals the pod's whatever its mode (no
// mode-only resend), takes the pod's mode when sent, and a new one gets 0644 or 0755.
func TestUnknownModeKeepsThePods(t *testing.T) {
	script := Entry{Path: "run.sh", Kind: File, Mode: 0o755, Size: 3, Hash: Digest{1}}
	local := script
	local.Mode = ModeUnknown
	if !local.Same(script) || !script.Same(local) {
		t.Error("a mode-only difference with an unknown local mode counts")
	}
	if d := Compare(Manifest{"run.sh": local}, Manifest{"run.sh": script}, nil, nil); !d.Empty() {
		t.Errorf("Compare resends a file for its unknown mode: %+v", d)
	}
	changed := local
	changed.Hash = Digest{2}
	if changed.Same(script) {
		t.Error("a content change is hidden by an unknown mode")
	}
	known := script
	known.Mode = 0o644
	if known.Same(script) {
		t.Error("a known mode change is not seen")
	}
	link := Entry{Path: "l", Kind: Symlink, Mode: 0o777, Target: "x"}
	dir := Entry{Path: "d", Kind: Dir, Mode: ModeUnknown}
	for _, tc := range []struct {
		name   string
		e, pod Entry
		held   bool
		want   fs.FileMode
	}{
		{"known mode sent as it is", known, script, true, 0o644},
		{"unknown: the pod's", changed, script, true, 0o755},
		{"unknown, new file", changed, Entry{}, false, NewFileMode},
		{"unknown, new directory", dir, Entry{}, false, NewDirMode},
		{"unknown, the pod has a directory there", changed, Entry{Path: "run.sh", Kind: Dir, Mode: 0o700}, true, NewFileMode},
		{"unknown directory: the pod's", dir, Entry{Path: "d", Kind: Dir, Mode: 0o750}, true, 0o750},
		{"symlink", link, Entry{}, false, 0o777},
	} {
		if got := SendMode(tc.e, tc.pod, tc.held); got != tc.want {
			t.Errorf("%s: SendMode = %v, want %v", tc.name, got, tc.want)
		}
	}
}
