package synclet

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

// BenchmarkSmallUpdate is one edited file sent to the synclet, without steps or restart: the per-pod
// cost of the common edit, on both ends of the connection.
func BenchmarkSmallUpdate(b *testing.B) {
	sendEdits(b, newPod(b, archive.DefaultLimits), "")
}

// BenchmarkRestartUpdate is the same edit with `restart: process`: the synclet asks the supervisor to
// replace the app's process (here `sleep`), as for web-static.
func BenchmarkRestartUpdate(b *testing.B) {
	p := newPod(b, archive.DefaultLimits)
	sup := NewSupervisor(SupervisorConfig{Argv: []string{"sleep", "1000"}, Socket: p.srv.cfg.Supervisor, Pending: p.pending,
		Log: p.srv.cfg.Log})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if _, err := sup.Run(ctx); err != nil {
			b.Error(err)
		}
	}()
	defer func() { cancel(); <-stopped }()
	for {
		if _, err := os.Stat(p.srv.cfg.Supervisor); err == nil {
			break
		}
	}
	sendEdits(b, p, protocol.RestartProcess)
}

// sendEdits sends b.N one-file updates with the given restart.
func sendEdits(b *testing.B, p *pod, restart protocol.Restart) {
	c := p.client(devKey)
	local := filepath.Join(b.TempDir(), "index.html")
	if err := os.WriteFile(local, []byte("hello\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	e, err := tree.Stat(local, "index.html")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		meta := protocol.UpdateMeta{ID: string(rune('a' + i%26)), Restart: restart}
		res, _, err := c.Update(context.Background(), meta, []archive.Put{{Root: 0, Local: local, Entry: e}}, nil)
		if err != nil || res.Error != "" {
			b.Fatal(err, res)
		}
	}
}
