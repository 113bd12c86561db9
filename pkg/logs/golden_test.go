package logs

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// detectAll runs a whole log through one detector, maps paths and renders every item without colour.
func detectAll(text string, m *Mapper) string {
	d := NewDetector()
	var items []Item
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		items = append(items, d.Feed(Line{Pod: "app-7f9c-x2k4p", Container: "app", Text: l})...)
	}
	items = append(items, d.Flush()...)
	var b bytes.Buffer
	th := NewTheme(&b, false)
	for _, it := range items {
		m.Map(&it)
		_ = th.Render(&b, it) // a bytes.Buffer does not fail
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run `go test ./pkg/logs -update` to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (run `go test ./pkg/logs -update` after checking the change):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// TestCapturedFixtures: real output of Python 3.11, OpenJDK 17 and Node.js 20, captured with the
// sources under /app/src (testdata/capture/README.md), gives the golden items.
func TestCapturedFixtures(t *testing.T) {
	m := &Mapper{Dir: "svc", Sync: []rules.Sync{{From: "src", To: "/app/src"}}, Workdir: "/app/src"}
	for _, name := range []string{"python", "python-syntax", "java", "node", "node-reject", "node-crashes", "python-http"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", name+".log"))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name, detectAll(string(raw), m))
		})
	}
}

const goProgram = `package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/debug"
)

type config struct{ name string }

func load(path string) *config {
	if _, err := os.Stat(path); err != nil {
		panic(fmt.Errorf("loading config: %w", err))
	}
	return nil
}

func main() {
	fmt.Println("starting", os.Args[1])
	switch os.Args[1] {
	case "goroutine":
		done := make(chan bool)
		go func() { load("/etc/fastdev-test/missing.yaml"); done <- true }()
		<-done
	case "nil":
		var c *config
		fmt.Println(c.name)
	case "http":
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var m map[string]int
			m["hits"]++
		}))
		http.Get(srv.URL)
		fmt.Println("still serving")
	case "stack":
		debug.PrintStack()
		fmt.Println("after the stack")
	}
}
`

// scrub takes out what differs between machines and runs, so the golden file is stable.
func scrub(t *testing.T, s, work string) string {
	s = strings.ReplaceAll(s, work, "$WORK")
	s = strings.ReplaceAll(s, goRoot(t), "$GOROOT")
	for _, r := range []struct{ re, with string }{
		{`\+0x[0-9a-f]+`, "+0x?"},
		{`(\$GOROOT\S*?):\d+`, "$1:N"},
		{`goroutine \d+`, "goroutine N"},
		{`\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(\.\d+)?`, "DATE TIME"},
		{`127\.0\.0\.1:\d+`, "127.0.0.1:PORT"},
		{`0x[0-9a-f]+`, "0x?"},
	} {
		s = regexp.MustCompile(r.re).ReplaceAllString(s, r.with)
	}
	return s
}

func goTool(t *testing.T) string {
	t.Helper()
	g, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build the test programs: %v", err)
	}
	return g
}

// goRoot is the GOROOT of the go command that builds the test programs: their stack traces name it.
func goRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(goTool(t), "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func goCmd(t *testing.T, dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(goTool(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	return cmd
}

// TestGoPanics builds a real Go program and runs it to panic in several ways.
func TestGoPanics(t *testing.T) {
	work := t.TempDir()
	writeTestFile(t, filepath.Join(work, "go.mod"), "module example.com/crasher\n\ngo 1.22\n")
	writeTestFile(t, filepath.Join(work, "main.go"), goProgram)
	if out, err := goCmd(t, work, "build", "-o", "crasher", ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	m := &Mapper{Dir: "svc", Sync: []rules.Sync{{From: "src", To: work}}, Workdir: work}
	for _, mode := range []string{"goroutine", "nil", "http", "stack"} {
		t.Run(mode, func(t *testing.T) {
			out, _ := exec.Command(filepath.Join(work, "crasher"), mode).CombinedOutput()
			golden(t, "go-"+mode, scrub(t, detectAll(string(out), m), work))
		})
	}
}

// TestGoBuildErrors compiles a broken Go program: its compiler output as an app would print it, and
// as the synclet logs a failed `go build` step.
func TestGoBuildErrors(t *testing.T) {
	work := t.TempDir()
	writeTestFile(t, filepath.Join(work, "go.mod"), "module example.com/broken\n\ngo 1.22\n")
	writeTestFile(t, filepath.Join(work, "main.go"), "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(messagee)\n\tvar n int = \"two\"\n\t_ = n\n}\n")
	step := "go build -o /app/bin/server ."
	cmd := goCmd(t, work, "build", "-o", filepath.Join(work, "server"), ".")
	out, err := cmd.CombinedOutput()
	code := cmd.ProcessState.ExitCode()
	if err == nil || code != 1 {
		t.Fatalf("go build of a broken program: %v, exit code %d\n%s", err, code, out)
	}
	m := &Mapper{Dir: "svc", Sync: []rules.Sync{{From: "src", To: work}}, Workdir: work}
	golden(t, "go-build", scrub(t, detectAll("building\n"+string(out)+"build done\n", m), work))

	// the synclet's log, written with the synclet's logger flags and formats (pkg/synclet/server.go)
	var synclet bytes.Buffer
	lg := log.New(&synclet, "", log.LstdFlags|log.Lmicroseconds)
	lg.Printf("synclet serving 1 sync root(s) on 127.0.0.1:17220")
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		lg.Printf("[%s] %s", step, l)
	}
	lg.Printf("step failed: %s: exit code %d", step, code)
	lg.Printf("update failed: %v", fmt.Errorf("step %q failed with exit code %d", step, code))
	golden(t, "go-build-step", scrub(t, detectAll(synclet.String(), m), work))
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
