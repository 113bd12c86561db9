package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// execStream is the persistent `kubectl exec` baseline: one long-lived `kubectl exec -i POD -c C --
// awk ...` whose in-pod awk reads updates from stdin and applies them, so an update costs no new
// exec (no API request, no new SPDY/WebSocket stream, no process start in the container): what a
// hand-written tool that keeps one stream open can do, without a sidecar.
//
// The wire format is line-based, so no in-pod reader can read past an update: the update's files
// as a tar archive in base64 lines, then one control line `@@ <id> <shell command>`. On the control
// line awk closes the `base64 -d | tar x -C DEST` pipe it fed the archive lines to (which waits
// until tar is done), runs the command with system() (a delete, an install, a build, a restart),
// and answers `done <id> <exit code>` on stdout. It needs awk, base64, tar and sh in the container
// (busybox has them).
//
// Usage (web-static or any other app):
//
//	s, err := e.startExecStream(ctx, ns, pod, "web", "/www")
//	defer s.close()
//	rc, err := s.send(ctx, localDir, []string{"index.html"}, "kill $(cat /tmp/app.pid)")
type execStream struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	acks   chan string // "done <id> <rc>" lines, in order
	done   chan struct{}
	mu     sync.Mutex
	next   int
	output bytes.Buffer // everything else the stream printed, for errors
	outMu  sync.Mutex
}

// streamProgram is the in-pod side; dest is passed with -v.
const streamProgram = `BEGIN { x = "base64 -d | tar x -C \"" dest "\"" }
/^@@ / { close(x); id = $2; c = $0; sub(/^@@ [^ ]+ ?/, "", c); rc = 0; if (c != "") rc = system(c); print "done " id " " rc; fflush(); next }
{ print | x }`

// streamArgs is the command the stream runs in the container.
func streamArgs(dest string) []string {
	return []string{"awk", "-v", "dest=" + dest, streamProgram}
}

// startExecStream opens the stream to the container of pod, applying archives under dest.
func (e *env) startExecStream(ctx context.Context, ns, pod, container, dest string) (*execStream, error) {
	args := append([]string{"--kubeconfig", e.cliKubeconfig(), "-n", ns, "exec", "-i", pod, "-c", container, "--"}, streamArgs(dest)...)
	return startStream(e.cmd(ctx, e.kubectl, args...))
}

// startStream runs cmd (kubectl exec, or the program itself in a test) as the stream.
func startStream(cmd *exec.Cmd) (*execStream, error) {
	s := &execStream{cmd: cmd, acks: make(chan string, 16), done: make(chan struct{})}
	var err error
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = &lockedWriter{w: &s.output, mu: &s.outMu}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the exec stream: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "done ") {
				s.acks <- l
			} else {
				s.outMu.Lock()
				s.output.WriteString(l + "\n")
				s.outMu.Unlock()
			}
		}
		_ = cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// send writes the files (paths relative to dir, slash-separated) and then the command as one
// update, and waits for the in-pod side to answer; it returns the command's exit code.
func (s *execStream) send(ctx context.Context, dir string, files []string, command string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	var b bytes.Buffer
	if len(files) > 0 {
		if err := streamUpdate(&b, dir, files); err != nil {
			return 0, err
		}
	}
	fmt.Fprintf(&b, "@@ %d %s\n", s.next, strings.ReplaceAll(command, "\n", " "))
	if _, err := s.stdin.Write(b.Bytes()); err != nil {
		return 0, fmt.Errorf("writing to the exec stream: %w (%s)", err, s.errText())
	}
	for {
		select {
		case l := <-s.acks:
			var id, rc int
			if _, err := fmt.Sscanf(l, "done %d %d", &id, &rc); err != nil {
				return 0, fmt.Errorf("exec stream answered %q", l)
			}
			if id == s.next {
				return rc, nil
			}
		case <-s.done:
			return 0, fmt.Errorf("the exec stream ended: %s", s.errText())
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func (s *execStream) errText() string {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return tail(s.output.String(), 10)
}

// close ends the stream (stdin closed: awk ends) and waits a little for kubectl to exit.
func (s *execStream) close() {
	_ = s.stdin.Close()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// streamUpdate writes the files as a tar archive, base64 in 76-character lines.
func streamUpdate(w io.Writer, dir string, files []string) error {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	dirs := map[string]bool{".": true}
	for _, f := range files {
		// parents first: not every tar creates missing directories
		var parents []string
		for d := path.Dir(f); !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Mode: 0o755, Typeflag: tar.TypeDir, ModTime: time.Now()}); err != nil {
				return err
			}
		}
		p := filepath.Join(dir, filepath.FromSlash(f))
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: f, Mode: int64(fi.Mode().Perm()), Size: int64(len(b)), ModTime: fi.ModTime(), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	enc := base64.StdEncoding.EncodeToString(raw.Bytes())
	for len(enc) > 0 {
		n := min(76, len(enc))
		if _, err := io.WriteString(w, enc[:n]+"\n"); err != nil {
			return err
		}
		enc = enc[n:]
	}
	return nil
}
