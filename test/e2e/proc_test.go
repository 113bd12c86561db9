package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// proc is a running kubectl-fastdev command whose output the test can wait on.
type proc struct {
	e    *env
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

// Write collects the command's output: p is both its stdout and its stderr.
func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// Output returns everything the command printed so far (stdout and stderr interleaved).
func (p *proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// start runs kubectl-fastdev with args in dir, stopping it (SIGINT) when the test ends.
func (e *env) start(dir string, args ...string) *proc {
	e.t.Helper()
	return e.startAs(e.kubeconfig, dir, args...)
}

// startAs is start with another kubeconfig (another user, or a proxied API server).
func (e *env) startAs(kc, dir string, args ...string) *proc {
	t := e.t
	t.Helper()
	p := &proc{e: e, done: make(chan struct{})}
	p.cmd = exec.Command(e.binary, append([]string{"--kubeconfig", kc}, args...)...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("output of kubectl-fastdev %s:\n%s", strings.Join(args, " "), p.Output())
		}
	})
	return p
}

// stop interrupts the command as Ctrl-C would, and kills it if it has not ended 10 s later.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		p.e.t.Logf("interrupting kubectl-fastdev: %v", err) // it may have ended meanwhile: waited on below
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

// kill ends the command at once, with no chance to clean up, and waits for it.
func (p *proc) kill() {
	if err := p.cmd.Process.Kill(); err != nil {
		p.e.t.Logf("killing kubectl-fastdev: %v", err) // it may have ended meanwhile: waited on below
	}
	<-p.done
}

// waitOutput waits until the output contains want.
func (p *proc) waitOutput(want string, timeout time.Duration) {
	t := p.e.t
	t.Helper()
	p.e.eventually(timeout, fmt.Sprintf("output %q", want), func() error {
		if strings.Contains(p.Output(), want) {
			return nil
		}
		select {
		case <-p.done:
			t.Fatalf("kubectl-fastdev exited (%v) before printing %q:\n%s", p.err, want, p.Output())
		default:
		}
		return fmt.Errorf("not yet")
	})
}

// run runs kubectl-fastdev to completion and returns its combined output.
func (e *env) run(dir string, args ...string) (string, error) {
	e.t.Helper()
	return e.runAs(e.kubeconfig, dir, args...)
}

// runAs is run with another kubeconfig.
func (e *env) runAs(kc, dir string, args ...string) (string, error) {
	cmd := exec.Command(e.binary, append([]string{"--kubeconfig", kc}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// runJSON runs kubectl-fastdev and returns its standard output alone (warnings go to stderr).
func (e *env) runJSON(dir string, args ...string) (string, error) {
	cmd := exec.Command(e.binary, append([]string{"--kubeconfig", e.kubeconfig}, args...)...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%v: %s", err, stderr.String())
	}
	return string(out), nil
}

// kubectl runs the cluster's kubectl and returns its standard output. Its standard error is shown
// only when it fails: kubectl logs client-side noise there (an exec printed "Unknown stream id 1,
// discarding message" before the command's own output in a CI rehearsal).
func (e *env) kubectl(args ...string) string {
	t := e.t
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(e.kubectlBin, append([]string{"--kubeconfig", e.kubeconfig}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}
