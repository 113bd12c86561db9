package devloop

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/tree"
)

func puts(sizes ...int64) []archive.Put {
	var ps []archive.Put
	for _, s := range sizes {
		ps = append(ps, archive.Put{Entry: tree.Entry{Size: s}})
	}
	return ps
}

// TestProgressAt: bytes of the tar stream sent map to the files through and their bytes.
func TestProgressAt(t *testing.T) {
	p := newProgress(puts(100, 1024, 0), time.Now(), nil)
	cases := []struct {
		sent  int64
		files int
		bytes int64
	}{
		{0, 0, 0},
		{1023, 0, 0},           // the first entry is a header and one block
		{1024, 1, 100},         // through
		{1024 + 1536, 2, 1124}, // the second: a header and two blocks
		{1024 + 1536 + 512, 3, 1124},
		{1 << 20, 3, 1124}, // the end of the archive and the metadata are more than the entries
	}
	for _, c := range cases {
		if f, b := p.at(c.sent); f != c.files || b != c.bytes {
			t.Errorf("at %d: %d files, %d bytes; want %d, %d", c.sent, f, b, c.files, c.bytes)
		}
	}
	if p.totalFiles != 3 || p.totalBytes != 1124 {
		t.Errorf("totals %d, %d", p.totalFiles, p.totalBytes)
	}
}

// TestProgressThrottle: nothing in the first second (a quick update shows no bar), then at most one
// report every 250 ms.
func TestProgressThrottle(t *testing.T) {
	t0 := time.Now()
	var got []int
	p := newProgress(puts(10, 10, 10, 10), t0, func(files int, _ int64) { got = append(got, files) })
	p.sent(1024, t0.Add(500*time.Millisecond))
	p.sent(2048, t0.Add(time.Second))
	p.sent(3072, t0.Add(time.Second+100*time.Millisecond))
	p.sent(4096, t0.Add(time.Second+300*time.Millisecond))
	if len(got) != 2 || got[0] != 2 || got[1] != 4 {
		t.Errorf("reports: %v", got)
	}
}

// TestProgressLines: the plain lines say a large update's progress once every few seconds per pod,
// with the rate and time left.
func TestProgressLines(t *testing.T) {
	var errOut bytes.Buffer
	r := &LineReporter{Out: &bytes.Buffer{}, ErrOut: &errOut}
	started := time.Now().Add(-2 * time.Second)
	r.Progressed("web", "web-1", Progress{Files: 2500, TotalFiles: 10000, Bytes: 25 << 20, TotalBytes: 100 << 20, Started: started})
	r.Progressed("web", "web-1", Progress{Files: 2600, TotalFiles: 10000, Bytes: 26 << 20, TotalBytes: 100 << 20, Started: started})
	r.Progressed("web", "web-2", Progress{Files: 1, TotalFiles: 10000, Bytes: 1 << 20, TotalBytes: 100 << 20, Started: started})
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "web/web-1: sending 2500/10000 files, 25.0 MiB/100.0 MiB, 12.") ||
		!strings.Contains(lines[0], "s left") || !strings.HasPrefix(lines[1], "web/web-2: sending 1/10000 files") {
		t.Errorf("lines:\n%s", errOut.String())
	}
}
