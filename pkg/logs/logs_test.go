package logs

import (
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

func feedAll(lines ...string) []Item {
	d := NewDetector()
	var out []Item
	for _, l := range lines {
		out = append(out, d.Feed(Line{Pod: "p", Container: "c", Text: l})...)
	}
	return append(out, d.Flush()...)
}

func kinds(items []Item) string {
	var s []string
	for _, it := range items {
		if it.Kind == KindLog {
			s = append(s, "log")
		} else {
			s = append(s, string(it.Kind)+":"+it.Type+"("+strconv.Itoa(strings.Count(it.Text, "\n")+1)+")")
		}
	}
	return strings.Join(s, " ")
}

func TestDetectorBoundaries(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		want  string
	}{
		{"an Error line without a stack is a plain line",
			[]string{"Error: not found", "GET / 404", "done"}, "log log log"},
		{"an exception line then frames is a block",
			[]string{"TypeError: x is undefined", "    at f (/app/a.js:1:2)", "next"}, "error:node(2) log"},
		{"blank lines after a panic's frames are not kept",
			[]string{"panic: boom", "", "goroutine 1 [running]:", "main.main()", "\t/app/main.go:3 +0x1", "", "supervisor: exited", ""},
			"error:go-panic(5) log log log"},
		{"a block still open at the end is flushed",
			[]string{"x", "Traceback (most recent call last):", `  File "/a.py", line 1, in <module>`, "ValueError: bad"},
			"log error:python(3)"},
		{"a traceback cut short by a plain line gives its lines back",
			[]string{"Traceback (most recent call last):", "server restarted"}, "log log"},
		{"two panics back to back are two blocks",
			[]string{"panic: one", "", "goroutine 1 [running]:", "main.main()", "panic: two", "", "goroutine 1 [running]:", "main.main()"},
			"error:go-panic(4) error:go-panic(4)"},
		{"a Go source position without a column is not a compiler error",
			[]string{"main.go:12: loading config"}, "log"},
		{"a Node header line not followed by a caret is a plain line",
			[]string{"/app/index.js:3", "hello", "world"}, "log log log"},
		{"a Java exception without frames from a thread still counts",
			[]string{`Exception in thread "main" java.lang.OutOfMemoryError: Java heap space`, "bye"}, "error:java(1) log"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := kinds(feedAll(c.lines...)); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestStepFailure(t *testing.T) {
	pre := "2026/01/02 15:04:05.123456 "
	lines := []string{pre + "[go vet ./...] ok", pre + "update applied: 1 file(s), 0 deletion(s), steps 80ms, restart 3ms"}
	for i := 0; i < maxStepLines+5; i++ {
		lines = append(lines, pre+"[make] line "+strings.Repeat("x", i%3))
	}
	lines = append(lines, pre+"[make] make: *** [all] Error 2", pre+"step failed: make: exit code 2",
		pre+`supervisor: step "make" failed with exit code 127 (command not found in the app container)`)
	items := feedAll(lines...)
	var errs []Item
	for _, it := range items {
		if it.Kind == KindError {
			errs = append(errs, it)
		}
	}
	if len(errs) != 2 {
		t.Fatalf("want 2 step failures, got %d: %s", len(errs), kinds(items))
	}
	text := strings.Split(errs[0].Text, "\n")
	if text[0] != "step failed: make (exit code 2, a Go panic or a shell usage error)" || text[1] != "... 6 earlier lines of output not shown" ||
		text[len(text)-1] != "make: *** [all] Error 2" || len(text) != 2+maxStepLines {
		t.Errorf("first failure: %d lines: %q ... %q", len(text), text[:2], text[len(text)-1])
	}
	if errs[1].Text != "step failed: make (exit code 127, command not found in the container)" {
		t.Errorf("queued step failure: %q (its output went to the first failure)", errs[1].Text)
	}
	if strings.Contains(errs[0].Text, "go vet") {
		t.Errorf("output of an earlier update leaked into the failure:\n%s", errs[0].Text)
	}
}

func TestMapperLocal(t *testing.T) {
	sync := []rules.Sync{{From: "web/src", To: "/app"}, {From: "shared", To: "/app/vendor/shared"}}
	exists := func(p string) bool { return p == "web/src/Main.java" }
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"/app/main.go", "web/src/main.go", true},
		{"/app", "web/src", true},
		{"/application/x.go", "", false},
		{"/app/vendor/shared/lib.go", "shared/lib.go", true},
		{"/app/../etc/passwd", "", false},
		{"./cmd/server/main.go", "web/src/cmd/server/main.go", true},
		{"Main.java", "web/src/Main.java", true},
		{"Other.java", "", false},
	}
	m := &Mapper{Dir: ".", Sync: sync, Workdir: "/app", Exists: func(p string) bool { return !strings.HasSuffix(p, ".java") || exists(p) }}
	for _, c := range cases {
		got, ok := m.Local(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("Local(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// TestMapperOnly: a container's mapper keeps its own sync entries and working directory, and leaves
// the mapper it came from as it was.
func TestMapperOnly(t *testing.T) {
	all := &Mapper{Dir: ".", Sync: []rules.Sync{{From: "api", To: "/app"}, {From: "worker", To: "/app", App: 1}}, Workdir: "/app"}
	w := all.Only(1, "/app/cmd")
	for _, c := range []struct {
		m        *Mapper
		in, want string
	}{
		{w, "/app/main.go", "worker/main.go"},
		{w, "./run.go", "worker/cmd/run.go"},
		{all, "/app/main.go", "api/main.go"},
		{all, "./run.go", "api/run.go"},
	} {
		if got, ok := c.m.Local(c.in); !ok || got != c.want {
			t.Errorf("Local(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
}

func TestGrouper(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	panicOf := func(pod string, gid int, addr string) Item {
		return Item{Kind: KindError, Type: TypeGoPanic, Pod: pod, Container: "web", Time: t0,
			Text: "panic: boom from " + pod + "\n\ngoroutine " + string(rune('0'+gid)) + " [running]:\nmain.handle(" + addr + ")\n\t/app/src/main.go:30 +0x1d"}
	}
	g := &Grouper{Window: 2 * time.Second}
	if out := g.Add(Item{Kind: KindLog, Pod: "a", Text: "GET /"}, t0); len(out) != 1 {
		t.Fatalf("a plain line must pass at once, got %v", out)
	}
	g.Add(panicOf("web-1", 7, "0xc000012345"), t0)
	g.Add(panicOf("web-2", 9, "0xc000099999"), t0.Add(500*time.Millisecond))
	g.Add(Item{Kind: KindExit, Type: "OOMKilled", Pod: "web-1", Container: "web", Text: "OOMKilled, exit code 137", Time: t0}, t0.Add(time.Second))
	g.Add(panicOf("web-3", 4, "0xc0000aaaaa"), t0.Add(1900*time.Millisecond))
	if out := g.Due(t0.Add(1999 * time.Millisecond)); len(out) != 0 {
		t.Fatalf("due before the window ended: %v", out)
	}
	if next, ok := g.Next(); !ok || !next.Equal(t0.Add(2*time.Second)) {
		t.Errorf("Next = %v, %v", next, ok)
	}
	out := g.Due(t0.Add(2 * time.Second))
	if len(out) != 1 || out[0].Count() != 3 || strings.Join(out[0].Pods, ",") != "web-1,web-2,web-3" {
		t.Fatalf("want one panic from 3 pods, got %+v", out)
	}
	g.Add(panicOf("web-2", 5, "0xc000000001"), t0.Add(2500*time.Millisecond)) // after its group was shown: a new one
	rest := g.Flush()
	if len(rest) != 2 || rest[0].Kind != KindExit || rest[1].Count() != 1 {
		t.Errorf("flush: %+v", rest)
	}
	// a different message is a different error
	other := panicOf("web-1", 7, "0x1")
	other.Text = strings.Replace(other.Text, "boom", "bang", 1)
	if Key(other) == Key(panicOf("web-2", 7, "0x1")) {
		t.Error("different panics share a key")
	}
}

func TestRenderCount(t *testing.T) {
	var b strings.Builder
	th := NewTheme(&b, false)
	mustRender(t, th, &b, Item{Kind: KindExit, Type: "OOMKilled", Pod: "a", Container: "hog", Text: "OOMKilled, exit code 137", Pods: []string{"a", "b"}})
	if got := b.String(); got != "✖ container exited ×2 in a, b (hog): OOMKilled, exit code 137\n" {
		t.Errorf("got %q", got)
	}
	b.Reset()
	mustRender(t, NewTheme(&b, true), &b, Item{Kind: KindLog, Pod: "a", Container: "web", Text: "hi"})
	if !strings.Contains(b.String(), "\x1b[") {
		t.Errorf("colour asked for, none written: %q", b.String())
	}
}

func mustRender(t *testing.T, th *Theme, w io.Writer, it Item) {
	t.Helper()
	if err := th.Render(w, it); err != nil {
		t.Fatal(err)
	}
}

// TestStepTimedOutAndAppExit: a timed-out step (from the synclet, and queued under the supervisor)
// is a failed step that names its timeout and the rules key; an app the supervisor restarts in its
// container is an exit item with the app's code.
func TestStepTimedOutAndAppExit(t *testing.T) {
	pre := "2026/01/02 15:04:05.123456 "
	items := feedAll(pre+"[npm run dev] listening on 3000", pre+"step failed: npm run dev: timed out after 3s (exit code 143)",
		pre+`supervisor: step "npm run dev" timed out after 10m0s and was stopped with its processes (raise the rules' run[].timeout of this step, or make the command end)`,
		pre+"supervisor: /app/bin/server exited with code 2; starting it again in 500ms (the container is kept; an update starts it at once)")
	var got []Item
	for _, it := range items {
		if it.Kind != KindLog {
			got = append(got, it)
		}
	}
	if len(got) != 3 {
		t.Fatalf("want 2 step failures and an exit, got %s", kinds(items))
	}
	want := []string{"step failed: npm run dev (timed out after 3s and stopped; raise the rules' run[].timeout of this step, or make the command end)\nlistening on 3000",
		"step failed: npm run dev (timed out after 10m0s and stopped; raise the rules' run[].timeout of this step, or make the command end)",
		"/app/bin/server exited with code 2, a Go panic or a shell usage error; the supervisor starts it again in 500ms (the container is kept)"}
	for i, it := range got {
		if it.Text != want[i] {
			t.Errorf("item %d: %q, want %q", i, it.Text, want[i])
		}
	}
	if got[2].Kind != KindExit || got[2].Type != TypeAppExit || got[2].ExitCode != 2 || got[2].Retry != 500*time.Millisecond {
		t.Errorf("the app's exit: %+v", got[2])
	}
}
