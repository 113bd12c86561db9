package archive

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// BenchmarkApplyTree applies a first sync of 2,000 files in 20 directories (10 KB each) to an empty
// root: the synclet's share of an initial sync.
func BenchmarkApplyTree(b *testing.B) {
	var ents []ent
	body := string(bytes.Repeat([]byte("x"), 10_000))
	for d := range 20 {
		ents = append(ents, dir(fmt.Sprintf("0/pkg%02d", d), 0o755))
		for f := range 100 {
			ents = append(ents, file(fmt.Sprintf("0/pkg%02d/file%03d.txt", d, f), body, 0o644))
		}
	}
	data := stream(b, protocol.UpdateMeta{ID: "1"}, ents...)
	b.SetBytes(int64(len(data)))
	for range b.N {
		b.StopTimer()
		root := b.TempDir()
		a, err := NewApplier([]string{root}, DefaultLimits)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, _, err := a.Apply(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		a.Close()
		os.RemoveAll(root)
		b.StartTimer()
	}
}
