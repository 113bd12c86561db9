package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a long-running CLI-side process (kubectl-fastdev up, tilt up, skaffold dev) whose output
// lines are kept with the time each was read, so a measure can wait for one and use its timestamp.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error

	mu    sync.Mutex
	lines []line
	grew  chan struct{} // closed and replaced whenever a line arrives
}

type line struct {
	text string
	at   time.Time
}

// start runs cmd, collecting stdout and stderr lines; its output is also copied to the bench log.
func (e *env) start(name string, cmd *exec.Cmd) (*proc, error) {
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), grew: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // stop ends its children too
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	var wg sync.WaitGroup
	for _, r := range []io.Reader{stdout, stderr} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				p.add(sc.Text())
				if e.o.verbose {
					fmt.Fprintf(e.log, "  %s| %s\n", name, sc.Text())
				}
			}
		}()
	}
	go func() { wg.Wait(); p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) add(s string) {
	p.mu.Lock()
	p.lines = append(p.lines, line{s, time.Now()})
	close(p.grew)
	p.grew = make(chan struct{})
	p.mu.Unlock()
}

// mark returns the number of lines so far, for waits that should only see later lines.
func (p *proc) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// output returns every line so far.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, l := range p.lines {
		b.WriteString(l.text + "\n")
	}
	return b.String()
}

// wait returns the first line from index `from` on that match accepts.
func (p *proc) wait(ctx context.Context, from int, timeout time.Duration, what string, match func(string) bool) (line, int, error) {
	deadline := time.After(timeout)
	for i := from; ; {
		p.mu.Lock()
		for ; i < len(p.lines); i++ {
			if match(p.lines[i].text) {
				l := p.lines[i]
				p.mu.Unlock()
				return l, i + 1, nil
			}
		}
		grew := p.grew
		p.mu.Unlock()
		select {
		case <-grew:
		case <-p.done:
			p.mu.Lock()
			n := len(p.lines)
			p.mu.Unlock()
			if i >= n {
				return line{}, i, fmt.Errorf("%s exited (%v) before %s; last output:\n%s", p.name, p.err, what, tail(p.output(), 15))
			}
		case <-deadline:
			return line{}, i, fmt.Errorf("%s: no %s after %s; last output:\n%s", p.name, what, timeout, tail(p.output(), 15))
		case <-ctx.Done():
			return line{}, i, ctx.Err()
		}
	}
}

// stop interrupts the process group (as Ctrl-C would) and kills it if it has not exited after 15 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// pid returns the process id, for CPU and memory readings.
func (p *proc) pid() int { return p.cmd.Process.Pid }

func tail(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

// upUpdate is one "edit->running" line of `kubectl fastdev up`, with the stage split it reports.
type upUpdate struct {
	pod                                         string
	latency, quiet, send, write, steps, restart time.Duration
	at                                          time.Time // when the bench read the line
}

var updateLine = regexp.MustCompile(`^[^/]+/(\S+): .*edit->running (\S+) \(quiet (\S+), send (\S+), write (\S+), steps (\S+), restart (\S+)\)`)

func parseUpdate(l line) (upUpdate, bool) {
	m := updateLine.FindStringSubmatch(l.text)
	if m == nil {
		return upUpdate{}, false
	}
	var d [6]time.Duration
	for i := range d {
		v, err := time.ParseDuration(m[i+2])
		if err != nil {
			return upUpdate{}, false
		}
		d[i] = v
	}
	return upUpdate{pod: m[1], latency: d[0], quiet: d[1], send: d[2], write: d[3], steps: d[4], restart: d[5], at: l.at}, true
}

// up runs `kubectl fastdev up` for one Deployment from dir (the CLI side: inside the simulated
// remote link while it is up) and waits until `pods` pods are connected. A pod already equal to the
// local tree gets no update, so "connected" is the last line it is sure to print; the caller waits
// for convergence itself when it sends files.
func (e *env) up(ctx context.Context, ns, deployment, dir string, pods int, extra ...string) (*proc, error) {
	args := append([]string{"--kubeconfig", e.cliKubeconfig(), "up", "-n", ns, deployment, "--dir", dir}, extra...)
	cmd := e.cmd(ctx, e.fastdev, args...)
	cmd.Env = append(os.Environ(), "HOME="+e.work) // `status` records stay out of the real home
	p, err := e.start("up", cmd)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	from := 0
	for len(seen) < pods {
		var l line
		l, from, err = p.wait(ctx, from, 5*time.Minute, fmt.Sprintf("%d connected pod(s)", pods), func(s string) bool {
			return strings.HasSuffix(s, ": connected")
		})
		if err != nil {
			p.stop()
			return nil, err
		}
		seen[strings.TrimSuffix(l.text, ": connected")] = true
	}
	return p, nil
}
