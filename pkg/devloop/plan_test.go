package devloop

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

func file(p string, size int64) tree.Entry {
	return tree.Entry{Path: p, Kind: tree.File, Mode: 0o644, Size: size, Hash: tree.Digest{byte(size)}}
}

func dir(p string) tree.Entry { return tree.Entry{Path: p, Kind: tree.Dir, Mode: 0o755} }

func manifest(es ...tree.Entry) tree.Manifest {
	m := tree.Manifest{}
	for _, e := range es {
		m[e.Path] = e
	}
	return m
}

func TestGrowth(t *testing.T) {
	remote := manifest(file("a", 10), dir("d"), file("d/x", 100), dir("d/e"), file("d/e/y", 1000), file("dx", 7))
	tests := []struct {
		name string
		d    tree.Diff
		want int64
	}{
		{"nothing", tree.Diff{}, 0},
		{"a new file", tree.Diff{Put: []tree.Entry{file("b", 5)}}, 5},
		{"a file grows", tree.Diff{Put: []tree.Entry{file("a", 25)}}, 15},
		{"a file shrinks", tree.Diff{Put: []tree.Entry{file("a", 4)}}, -6},
		{"a file deleted", tree.Diff{Delete: []string{"a"}}, -10},
		{"a directory deleted frees what is below it, not a sibling sharing its prefix", tree.Diff{Delete: []string{"d"}}, -1100},
		{"deleting what the pod lacks frees nothing", tree.Diff{Delete: []string{"gone"}}, 0},
		{"puts and deletes together", tree.Diff{Put: []tree.Entry{file("b", 50)}, Delete: []string{"d/e"}}, -950},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := growth(tt.d, remote); got != tt.want {
				t.Errorf("growth = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestTriggeredSteps(t *testing.T) {
	run := []rules.Step{
		{Cmd: "go build", Argv: []string{"go", "build"}, Trigger: []string{"**/*.go"}},
		{Cmd: "pip install", Argv: []string{"pip", "install"}, Trigger: []string{"requirements.txt"}},
		{Cmd: "touch reload", Argv: []string{"touch", "reload"}},
	}
	tests := []struct {
		name  string
		diffs []tree.Diff
		want  []string
	}{
		{"no trigger runs on every update", []tree.Diff{{Put: []tree.Entry{file("index.html", 1)}}}, []string{"touch reload"}},
		{"a put matches", []tree.Diff{{Put: []tree.Entry{file("cmd/main.go", 1)}}}, []string{"go build", "touch reload"}},
		{"a delete matches", []tree.Diff{{Delete: []string{"requirements.txt"}}}, []string{"pip install", "touch reload"}},
		{"any root matches, rules order kept", []tree.Diff{{Put: []tree.Entry{file("requirements.txt", 1)}}, {}, {Delete: []string{"x.go"}}},
			[]string{"go build", "pip install", "touch reload"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, s := range triggeredSteps(run, tt.diffs) {
				got = append(got, s.Display)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("steps = %q, want %q", got, tt.want)
			}
		})
	}
	if got := triggeredSteps(run[:1], []tree.Diff{{Put: []tree.Entry{file("go.mod", 1)}}}); got != nil {
		t.Errorf("no path matches: steps = %v, want none", got)
	}
	if got := triggeredSteps(run[1:2], []tree.Diff{{Put: []tree.Entry{file("requirements.txt", 1)}}}); !reflect.DeepEqual(got, []protocol.Step{{Argv: []string{"pip", "install"}, Display: "pip install"}}) {
		t.Errorf("step = %+v: want its argv and display", got)
	}
}

func TestRoom(t *testing.T) {
	tests := []struct {
		name string
		s    space
		want int64
	}{
		{"nothing known", space{free: -1, limit: -1, used: 50}, -1},
		{"free space only", space{free: 100, limit: -1, used: 50}, 100},
		{"sizeLimit only", space{free: -1, limit: 80, used: 50}, 30},
		{"sizeLimit tighter than the file system", space{free: 100, limit: 80, used: 50}, 30},
		{"file system tighter than sizeLimit", space{free: 10, limit: 80, used: 50}, 10},
		{"volume full", space{free: 0, limit: -1, used: 50}, 0},
		{"more used than the sizeLimit: no room, not unknown", space{free: -1, limit: 40, used: 50}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.room(); got != tt.want {
				t.Errorf("room = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 8192: "8.0 KiB", 3 << 20: "3.0 MiB", 5 << 30: "5.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// twoRoots are rules with two sync roots, a triggered step and a restart.
func twoRoots(t *testing.T, restart string) *rules.Rules {
	t.Helper()
	r, err := rules.Parse("sync:\n  - {from: web, to: /www}\n  - {from: api, to: /api, sizeLimit: 1Ki}\n" +
		"run:\n  - cmd: go build\n    trigger: [\"**/*.go\"]\nrestart: " + restart + "\n")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// planDirs, planView and planDiffs are a batch over two roots: root 0 grows by -260 bytes, root 1 by 800
// (it has a sizeLimit of 1 KiB and 100 bytes used).
var planDirs = []string{"/src/web", "/src/api"}

func planView(free0, free1 int64) *podView {
	return &podView{
		roots: []tree.Manifest{manifest(file("old.html", 300)), manifest(file("main.go", 100))},
		space: []space{{free: free0, limit: -1, used: 300}, {free: free1, limit: 1024, used: 100}},
	}
}

func planDiffs() []tree.Diff {
	return []tree.Diff{
		{Put: []tree.Entry{dir("css"), file("css/a.css", 40)}, Delete: []string{"old.html"}},
		{Put: []tree.Entry{file("main.go", 900)}},
	}
}

func TestPlanUpdate(t *testing.T) {
	dirs, view, diffs := planDirs, planView, planDiffs()
	p, err := planUpdate(twoRoots(t, "process"), dirs, diffs, view(-1, -1))
	if err != nil {
		t.Fatal(err)
	}
	wantPuts := []archive.Put{
		{Root: 0, Local: "/src/web/css", Entry: dir("css")},
		{Root: 0, Local: "/src/web/css/a.css", Entry: file("css/a.css", 40)},
		{Root: 1, Local: "/src/api/main.go", Entry: file("main.go", 900)},
	}
	if !reflect.DeepEqual(p.puts, wantPuts) {
		t.Errorf("puts = %+v\nwant %+v", p.puts, wantPuts)
	}
	wantMeta := protocol.UpdateMeta{Deletes: []string{protocol.EntryName(0, "old.html")},
		Steps: []protocol.Step{{Argv: []string{"go", "build"}, Display: "go build"}}, Restart: protocol.RestartProcess}
	if !reflect.DeepEqual(p.meta, wantMeta) {
		t.Errorf("meta = %+v, want %+v", p.meta, wantMeta)
	}
	if !reflect.DeepEqual(p.growth, []int64{-260, 800}) || !reflect.DeepEqual(p.deletes, [][]string{{"old.html"}, nil}) {
		t.Errorf("growth %v, deletes %q", p.growth, p.deletes)
	}

	if p, err := planUpdate(twoRoots(t, "none"), dirs, diffs, view(-1, -1)); err != nil || p.meta.Restart != "" {
		t.Errorf("restart: none sends no restart: %+v, %v", p, err)
	}
	if p, err := planUpdate(twoRoots(t, "process"), dirs, make([]tree.Diff, 2), view(0, 0)); err != nil || !p.empty() {
		t.Errorf("nothing to do is an empty plan, whatever the room: %+v, %v", p, err)
	}
}

func TestPlanUpdateNoRoom(t *testing.T) {
	dirs, view, diffs := planDirs, planView, planDiffs()
	// root 1 grows by 800 with a sizeLimit of 1 KiB, 100 B used: fits; with 500 B free on its file system it does not
	if _, err := planUpdate(twoRoots(t, "process"), dirs, diffs, view(-1, 924)); err != nil {
		t.Errorf("an update that fits was refused: %v", err)
	}
	_, err := planUpdate(twoRoots(t, "process"), dirs, diffs, view(10, 500))
	var nr *noRoomError
	if !errors.As(err, &nr) {
		t.Fatalf("want a *noRoomError, got %v", err)
	}
	if *nr != (noRoomError{root: 1, key: "sync[1]", dir: "/src/api", to: "/api", need: 800, room: 500, limited: true}) {
		t.Errorf("noRoomError = %+v", *nr)
	}
	for _, want := range []string{"/src/api needs 800 B more under /api", "has 500 B left", "nothing was sent", "sync[1].ignore", "larger sync[1].sizeLimit in the rules"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	nr.limited = false
	if msg := nr.Error(); !strings.Contains(msg, "free space on the node, or set a larger sync[1].sizeLimit for a memory-backed volume") {
		t.Errorf("without a sizeLimit the fix is the node's space: %q", msg)
	}
}

func TestPodView(t *testing.T) {
	free := int64(5000)
	r := twoRoots(t, "none")
	v, err := newPodView(&protocol.Manifest{Roots: []protocol.RootManifest{
		{Root: 1, To: "/api", Entries: []tree.Entry{file("main.go", 100), dir("pkg"), file("pkg/a.go", 20)}},
		{Root: 0, To: "/www", Entries: []tree.Entry{file("old.html", 300)}, Free: &free},
	}}, r)
	if err != nil {
		t.Fatal(err)
	}
	if want := []space{{free: 5000, limit: -1, used: 300}, {free: -1, limit: 1024, used: 120}}; !reflect.DeepEqual(v.space, want) {
		t.Errorf("space = %+v, want %+v", v.space, want)
	}
	p := &plan{deletes: [][]string{{"old.html"}, {"pkg"}}, growth: []int64{-290, -20}}
	sent := []archive.Put{{Root: 0, Entry: file("new.html", 10)}}
	v.applied(p, sent, []int64{4990})
	if want := []tree.Manifest{manifest(file("new.html", 10)), manifest(file("main.go", 100))}; !reflect.DeepEqual(v.roots, want) {
		t.Errorf("roots after the update = %v, want %v", v.roots, want)
	}
	if want := []space{{free: 4990, limit: -1, used: 10}, {free: -1, limit: 1024, used: 100}}; !reflect.DeepEqual(v.space, want) {
		t.Errorf("space after the update = %+v, want %+v (an older synclet reports no free space for root 1)", v.space, want)
	}

	for _, m := range []*protocol.Manifest{{Roots: []protocol.RootManifest{{Root: 0}}}, {Roots: []protocol.RootManifest{{Root: 0}, {Root: 2}}}} {
		if _, err := newPodView(m, r); err == nil || !strings.Contains(err.Error(), "kubectl fastdev up") {
			t.Errorf("roots %+v: want an error naming the fix, got %v", m.Roots, err)
		}
	}
}

// TestPlanUpdateKeep: paths matching a root's keep patterns are the pod's: neither put nor deleted, and
// they trigger no step.
// TestPlanUpdateUnknownModes: files of a local system that does not know modes (Windows) are sent
// with the pod's mode (an image's script keeps +x), new ones with 0644 and 0755.
func TestPlanUpdateUnknownModes(t *testing.T) {
	r, err := rules.Parse("sync:\n  - {from: app, to: /app}\n")
	if err != nil {
		t.Fatal(err)
	}
	script := file("run.sh", 9)
	script.Mode = 0o755
	view := &podView{roots: []tree.Manifest{manifest(script)}, space: []space{{free: -1, limit: -1}}}
	unknown := func(e tree.Entry) tree.Entry { e.Mode = tree.ModeUnknown; return e }
	diffs := []tree.Diff{{Put: []tree.Entry{unknown(file("run.sh", 10)), unknown(dir("lib")), unknown(file("lib/a.py", 3))}}}
	p, err := planUpdate(r, []string{"/src/app"}, diffs, view)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]fs.FileMode{}
	for _, put := range p.puts {
		got[put.Entry.Path] = put.Entry.Mode
	}
	if want := map[string]fs.FileMode{"run.sh": 0o755, "lib": 0o755, "lib/a.py": 0o644}; !reflect.DeepEqual(got, want) {
		t.Errorf("modes sent %v, want %v", got, want)
	}
}

func TestPlanUpdateKeep(t *testing.T) {
	r, err := rules.Parse("sync:\n  - {from: data, to: /app/data, keep: [\"uploads/**\", \"*.sqlite\"]}\n" +
		"run:\n  - cmd: migrate\n    trigger: [\"*.sqlite\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	view := &podView{roots: []tree.Manifest{manifest(file("app.sqlite", 10), dir("uploads"), file("uploads/a.png", 5), file("old.txt", 3))},
		space: []space{{free: -1, limit: -1}}}
	diffs := []tree.Diff{{
		Put:    []tree.Entry{file("db/app.sqlite", 4), file("uploads/b.png", 6), file("index.html", 7)},
		Delete: []string{"app.sqlite", "uploads/a.png", "old.txt"},
	}}
	p, err := planUpdate(r, []string{"/src/data"}, diffs, view)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.puts) != 1 || p.puts[0].Entry.Path != "index.html" {
		t.Errorf("puts = %+v, want index.html alone", p.puts)
	}
	if want := []string{protocol.EntryName(0, "old.txt")}; !reflect.DeepEqual(p.meta.Deletes, want) || !reflect.DeepEqual(p.deletes, [][]string{{"old.txt"}}) {
		t.Errorf("deletes = %q / %q, want old.txt alone", p.meta.Deletes, p.deletes)
	}
	if len(p.meta.Steps) != 0 {
		t.Errorf("a kept path triggered %+v", p.meta.Steps)
	}
	if p.growth[0] != 7-3 {
		t.Errorf("growth %d, want 4 (kept paths count for nothing)", p.growth[0])
	}
	if len(diffs[0].Put) != 3 {
		t.Errorf("planUpdate changed the caller's diffs: %+v", diffs[0])
	}
	// a diff of kept paths alone is an empty plan: nothing is sent
	only := []tree.Diff{{Put: []tree.Entry{file("x.sqlite", 1)}, Delete: []string{"uploads/a.png"}}}
	if p, err := planUpdate(r, []string{"/src/data"}, only, view); err != nil || !p.empty() {
		t.Errorf("kept paths alone: %+v, %v", p, err)
	}
}
