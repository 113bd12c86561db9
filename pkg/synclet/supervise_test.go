package synclet

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// TestRestartWaitsForExitThenKills restarts an app that exits on SIGTERM (at once) and one that ignores
// it (SIGKILL after the grace period): each restart returns once the old process is gone, and a new one
// runs.
func TestRestartWaitsForExitThenKills(t *testing.T) {
	for _, c := range []struct {
		name     string
		script   string
		min, max time.Duration
	}{
		{"exits on SIGTERM", "echo $$ >> pids; exec sleep 1000", 0, 150 * time.Millisecond},
		{"ignores SIGTERM", "echo $$ >> pids; trap '' TERM; while :; do sleep 0.05; done", 300 * time.Millisecond, 2 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newPod(t, archive.DefaultLimits)
			dir := t.TempDir()
			sup := NewSupervisor(SupervisorConfig{Argv: []string{"sh", "-c", "cd " + dir + " && " + c.script}, Socket: p.srv.cfg.Supervisor,
				Pending: p.pending, Grace: 300 * time.Millisecond, Log: log.New(io.Discard, "", 0)})
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan struct{})
			go func() { sup.Run(ctx); close(stopped) }()
			pids := func() []string {
				b, _ := os.ReadFile(filepath.Join(dir, "pids"))
				return strings.Fields(string(b))
			}
			defer func() {
				// an app that ignores SIGTERM would keep Run waiting (the kubelet kills it in a pod)
				if ps := pids(); len(ps) > 0 {
					var pid int
					fmt.Sscan(ps[len(ps)-1], &pid)
					syscall.Kill(-pid, syscall.SIGKILL)
				}
				cancel()
				<-stopped
			}()
			deadline := time.Now().Add(5 * time.Second)
			for len(pids()) < 1 {
				if time.Now().After(deadline) {
					t.Fatal("the app did not start")
				}
				time.Sleep(5 * time.Millisecond)
			}
			local := filepath.Join(t.TempDir(), "f")
			os.WriteFile(local, []byte("x"), 0o644)
			e, _ := tree.Stat(local, "f")
			start := time.Now()
			res, _, err := p.client(token).Update(context.Background(), protocol.UpdateMeta{ID: "1", Restart: "process"},
				[]archive.Put{{Root: 0, Local: local, Entry: e}}, nil)
			took := time.Since(start)
			if err != nil || res.Error != "" {
				t.Fatal(err, res)
			}
			if took < c.min || took > c.max {
				t.Errorf("restart took %s, want between %s and %s", took, c.min, c.max)
			}
			for len(pids()) < 2 {
				if time.Now().After(deadline) {
					t.Fatal("no new process after the restart")
				}
				time.Sleep(5 * time.Millisecond)
			}
			var old int
			if _, err := fmt.Sscan(pids()[0], &old); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Kill(old, 0); err == nil {
				t.Errorf("old process %d still runs", old)
			}
		})
	}
}
