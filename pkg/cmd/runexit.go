package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
)

// ExitError ends kubectl-fastdev with Code, the exit code of a command `run` ran in a pod. Its
// message, when not empty, explains the code in plain words; main prints it and exits with Code.
type ExitError struct {
	Code int
	Msg  string
}

// Error is the explanation, or empty when the command's own output says it all.
func (e *ExitError) Error() string { return e.Msg }

// podResult is how a command ended in one pod: its result, or why it could not run there.
type podResult struct {
	res *protocol.Event
	err error
}

// runIn runs req in pod through a port-forward to its synclet, writing the output as it comes.
func (o *RunOptions) runIn(ctx context.Context, pod string, req protocol.CommandRequest, out, errOut io.Writer) podResult {
	fwd, err := o.client.PortForward(ctx, pod, o.target.port)
	if err != nil {
		return podResult{err: err}
	}
	defer fwd.Close()
	key, err := devKey()
	if err != nil {
		return podResult{err: err}
	}
	cl := syncletclient.New(fwd.Addr, key)
	defer cl.Close()
	var werr error
	res, err := cl.RunIn(ctx, o.target.in, req, o.In, func(e protocol.Event) {
		w := out
		if e.Type == protocol.EventStderr {
			w = errOut
		} else if e.Type != protocol.EventStdout {
			return
		}
		if _, err := w.Write(e.Data); err != nil && werr == nil {
			werr = err // a closed pipe (| head): the command goes on, the first error is reported
		}
	})
	if err == nil && werr != nil {
		err = fmt.Errorf("writing the command's output: %w", werr)
	}
	var se *syncletclient.StatusError
	if errors.As(err, &se) {
		se.Msg = strings.TrimSpace(se.Msg) // http.Error's newline would leave a blank line under the message
		if se.Code == 401 {
			err = fmt.Errorf("the pod does not accept this machine's key (injected by an up elsewhere): run `kubectl fastdev up %s` (with --take-over if another up holds it) and try again: %w", o.Name, err)
		}
	}
	return podResult{res: res, err: err}
}

// runOutcome turns the results of a command run in pods (in pod name order) into run's error: the
// pods it could not run in, else the first non-zero exit code, explained when it says something
// the command's own output may not.
func runOutcome(pods, argv []string, results []podResult) error {
	var failed []error
	for i, r := range results {
		if r.err != nil {
			failed = append(failed, fmt.Errorf("pod %s: %w", pods[i], r.err))
		}
	}
	if len(failed) > 0 {
		return errors.Join(failed...)
	}
	for i, r := range results {
		if r.res.ExitCode != 0 || r.res.Error != "" {
			code := r.res.ExitCode
			if code == 0 {
				code = 1
			}
			return &ExitError{Code: code, Msg: explainExit(pods[i], argv, code, r.res.Error)}
		}
	}
	return nil
}

// explainExit says in plain words what an exit code of 126, 127 or 137 (or a command that did not
// start) usually means; other codes are the command's own business and get no message.
func explainExit(pod string, argv []string, code int, why string) string {
	cmd := strings.Join(argv, " ")
	switch {
	case why != "":
		return fmt.Sprintf("%s (pod %s)", why, pod)
	case code == 126:
		return fmt.Sprintf("command %q in pod %s exited with code 126: it is not executable (check its mode, and that it is a program and not a directory)", cmd, pod)
	case code == 127:
		return fmt.Sprintf("command %q in pod %s exited with code 127: command not found in the app container (is it installed in the image, and on its PATH?)", cmd, pod)
	case code == 137:
		return fmt.Sprintf("command %q in pod %s exited with code 137: it was killed (SIGKILL), often for exceeding the container's memory limit", cmd, pod)
	}
	return ""
}

// prefixWriter writes whole lines, each prefixed (the pod's name), holding a partial line until its
// end arrives; mu is shared by every pod's writers so lines never interleave.
type prefixWriter struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix string
	buf    []byte
}

// Write passes on every complete line of p, prefixed.
func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	i := bytes.LastIndexByte(p.buf, '\n')
	if i < 0 {
		return len(b), nil
	}
	err := p.emit(p.buf[:i+1])
	p.buf = append(p.buf[:0], p.buf[i+1:]...)
	return len(b), err
}

// emit writes the lines of chunk (each ending in a newline), prefixed, in one write.
func (p *prefixWriter) emit(chunk []byte) error {
	var out bytes.Buffer
	for line := range bytes.Lines(chunk) {
		out.WriteString(p.prefix)
		out.Write(line)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := p.w.Write(out.Bytes())
	return err
}

// flushPrefixed ends the last partial line of prefixed writers with a newline.
func flushPrefixed(ws ...io.Writer) {
	for _, w := range ws {
		if p, ok := w.(*prefixWriter); ok && len(p.buf) > 0 {
			// the output goes to the terminal or a pipe; a failure there was reported by Write already
			_ = p.emit(append(p.buf, '\n'))
			p.buf = nil
		}
	}
}
