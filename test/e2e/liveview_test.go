package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/inject"
)

// terminal is a tmux server of the test's own (its own socket) running one command in a real
// terminal of a fixed size, read with capture-pane and driven with send-keys.
type terminal struct {
	e    *env
	sock string
}

// startTerminal runs kubectl-fastdev with args in dir inside a new tmux session. When the command
// ends the pane shows "EXITED <code>" and stays, so its last words can be read.
func (e *env) startTerminal(dir string, width, height int, args ...string) *terminal {
	t := e.t
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is needed to test the live view in a real terminal: apt-get install tmux")
	}
	x := &terminal{e: e, sock: fmt.Sprintf("fastdev-e2e-%d-%d", os.Getpid(), time.Now().UnixNano()%100000)}
	line := shellQuote(append([]string{e.binary, "--kubeconfig", e.kubeconfig}, args...)) + `; echo "EXITED $?"; sleep 600`
	out, err := exec.Command("tmux", "-L", x.sock, "new-session", "-d", "-s", "main", "-x", fmt.Sprint(width), "-y", fmt.Sprint(height),
		"-c", dir, "-e", "TERM=xterm-256color", line).CombinedOutput()
	if err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the terminal at the end:\n%s", x.screen())
		}
		_ = exec.Command("tmux", "-L", x.sock, "kill-server").Run() // our own server only (its socket)
	})
	return x
}

func shellQuote(args []string) string {
	var q []string
	for _, a := range args {
		q = append(q, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	return strings.Join(q, " ")
}

func (x *terminal) screen() string {
	out, err := exec.Command("tmux", "-L", x.sock, "capture-pane", "-p", "-t", "main").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(capture-pane: %v: %s)", err, out)
	}
	return string(out)
}

func (x *terminal) keys(keys ...string) {
	t := x.e.t
	t.Helper()
	if out, err := exec.Command("tmux", append([]string{"-L", x.sock, "send-keys", "-t", "main"}, keys...)...).CombinedOutput(); err != nil {
		t.Fatalf("tmux send-keys: %v\n%s", err, out)
	}
}

// waitScreen waits until check accepts what the terminal shows.
func (x *terminal) waitScreen(timeout time.Duration, what string, check func(screen string) error) string {
	t := x.e.t
	t.Helper()
	var s string
	x.e.eventually(timeout, what, func() error {
		s = x.screen()
		if strings.Contains(s, "EXITED") {
			t.Fatalf("the command exited while waiting for %s:\n%s", what, s)
		}
		return check(s)
	})
	return s
}

// TestLiveView runs `up` in a real terminal: it draws a row per pod (phase, connected), and a compile
// error becomes the newest error block with the local file; q stops it and restores the terminal.
func TestLiveView(t *testing.T) {
	e := newEnv(t)
	ns := e.namespace(nil)
	e.applyExample(ns, "web-go", func(d *appsv1.Deployment) { two := int32(2); d.Spec.Replicas = &two })
	dir := e.copyExamples()
	term := e.startTerminal(dir, 160, 45, "up", "-n", ns, "web-go")

	var names []string
	e.eventually(rollout, "2 injected pods of web-go running", func() error {
		names = nil
		for _, p := range e.pods(ns, "web-go") {
			if _, ok := p.Annotations[inject.AnnotationInjected]; ok {
				names = append(names, p.Name)
			}
		}
		if len(names) != 2 {
			return fmt.Errorf("%d injected running pods", len(names))
		}
		return nil
	})
	term.waitScreen(60*time.Second, "a connected, running row per pod", func(s string) error {
		for _, n := range names {
			row := screenLine(s, n)
			// converged: "Running stale" until then
			if f := strings.Fields(row); len(f) < 4 || f[0] != "web-go" || f[2] != "Running" || f[3] != "yes" {
				return fmt.Errorf("row of %s: %q", n, row)
			}
		}
		if !strings.Contains(s, "WORKLOAD") || !strings.Contains(s, "none since up started") {
			return fmt.Errorf("no empty error section")
		}
		return nil
	})

	main := filepath.Join(dir, "web-go/src/main.go")
	src, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(src), "fmt.Fprintln(w, message)", "fmt.Fprintln(w, messagee)", 1)
	line, col := position(broken, "messagee")
	e.writeFile(main, broken, 0o644)
	s := term.waitScreen(120*time.Second, "the compile error as the newest error", func(s string) error {
		_, block, ok := strings.Cut(s, "Newest error")
		if !ok {
			return fmt.Errorf("no error section")
		}
		// both replicas fail the same way: "failed step ×2 in ..." once they both did, "failed step in" before
		for _, want := range []string{"✖ failed step", " in web-go-", "undefined: messagee", fmt.Sprintf("→ web-go/src/main.go:%d:%d", line, col)} {
			if !strings.Contains(block, want) {
				return fmt.Errorf("error section lacks %q", want)
			}
		}
		for _, n := range names {
			if row := screenLine(s, n); !strings.Contains(row, "exit code 1") {
				return fmt.Errorf("row of %s shows no last error: %q", n, row)
			}
		}
		return nil
	})
	if strings.Contains(s, "\x1b") {
		t.Errorf("raw escape codes on the screen:\n%q", s)
	}
	appDown(t, e, term, main, string(src), names)

	term.keys("q")
	e.eventually(30*time.Second, "up to stop on q and leave the terminal readable", func() error {
		s := term.screen()
		if !strings.Contains(s, "EXITED 0") || !strings.Contains(s, "stopped watching") {
			return fmt.Errorf("screen:\n%s", s)
		}
		if strings.Contains(s, "Newest error") {
			return fmt.Errorf("the view was left on the screen:\n%s", s)
		}
		return nil
	})
}

// appDown builds an app that exits at once: the supervisor keeps the container and starts it again
// after its backoff, which each pod's row shows with the exit code; the original source back, the
// update starts the app and the rows say so no more.
func appDown(t *testing.T, e *env, term *terminal, main, src string, names []string) {
	t.Helper()
	e.writeFile(main, strings.Replace(src, "log.SetOutput(os.Stdout)", "log.SetOutput(os.Stdout)\n\tos.Exit(3)", 1), 0o644)
	term.waitScreen(120*time.Second, "the app's exit and restart countdown in each row", func(s string) error {
		for _, n := range names {
			if row := screenLine(s, n); !strings.Contains(row, "app exited 3, again in") {
				return fmt.Errorf("row of %s: %q", n, row)
			}
		}
		return nil
	})
	e.writeFile(main, src, 0o644)
	term.waitScreen(120*time.Second, "the rows without the app's exit once the fix landed", func(s string) error {
		for _, n := range names {
			if row := screenLine(s, n); row == "" || strings.Contains(row, "app exited") || strings.Contains(row, "exit code") {
				return fmt.Errorf("row of %s: %q", n, row)
			}
		}
		return nil
	})
}

// screenLine returns the line of the screen that names the pod as its second column (a table row).
func screenLine(screen, pod string) string {
	for _, l := range strings.Split(screen, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == pod {
			return l
		}
	}
	return ""
}
