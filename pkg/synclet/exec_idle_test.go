package synclet

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/syncletclient"
)

// TestRunInputMaySilence: a command's input (-i) silent for longer than the server's idle bound on
// request bodies does not cut the command: a user may type nothing for minutes.
func TestRunInputMaySilence(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	superviseApp(t, p, "echo $$ >> pids; exec sleep 1000", time.Second)
	addr := serveWith(t, p, short)
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte("first\n"))
		time.Sleep(3 * short.bodyIdle)
		_, _ = pw.Write([]byte("second\n"))
		_ = pw.Close()
	}()
	var out bytes.Buffer
	res, err := syncletclient.New(addr, devKey).Run(context.Background(), protocol.CommandRequest{Argv: []string{"tr", "a-z", "A-Z"}, Stdin: true}, pr,
		func(e protocol.Event) { out.Write(e.Data) })
	if err != nil || res.ExitCode != 0 || out.String() != "FIRST\nSECOND\n" {
		t.Errorf("got %v %+v %q", err, res, out.String())
	}
}

// TestRunQuietCommandNotCut: a command that prints nothing and reads nothing for longer than every
// server timeout (idle body, idle connection) still runs to its end and reports its exit code.
func TestRunQuietCommandNotCut(t *testing.T) {
	p := newPod(t, archive.DefaultLimits)
	superviseApp(t, p, "echo $$ >> pids; exec sleep 1000", time.Second)
	addr := serveWith(t, p, short)
	var out bytes.Buffer
	res, err := syncletclient.New(addr, devKey).Run(context.Background(), protocol.CommandRequest{Argv: []string{"sh", "-c", "sleep 1.5; echo done; exit 7"}}, nil,
		func(e protocol.Event) { out.Write(e.Data) })
	if err != nil || res.ExitCode != 7 || out.String() != "done\n" {
		t.Errorf("got %v %+v %q", err, res, out.String())
	}
}
