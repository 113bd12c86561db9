package archive

import (
	"bytes"
	"fmt"
	"io"
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

// BenchmarkCompressUpdate costs compressing an update of source text (Compress, as the CLI does one
// built in memory) and decoding it (the synclet's Decoder), by size, and reports what that buys behind
// a 20 Mbit link: the transfer time of the bytes saved less the time spent (saved-µs@20Mbit; negative:
// compression costs more than it saves). syncletclient's minCompress is set from it.
func BenchmarkCompressUpdate(b *testing.B) {
	for _, size := range []int{4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			data := stream(b, protocol.UpdateMeta{ID: "1"}, file("0/main.go", string(sourceText(b, size)), 0o644))
			b.SetBytes(int64(len(data)))
			var saved int
			for range b.N {
				z, _ := Compress(data)
				dec, err := NewDecoder(bytes.NewReader(z), DefaultLimits.MaxStream())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, dec); err != nil {
					b.Fatal(err)
				}
				dec.Close()
				saved = len(data) - len(z)
			}
			perOp := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric((float64(saved)*8/20e6-perOp)*1e6, "saved-µs@20Mbit")
			b.ReportMetric(float64(saved), "saved-bytes")
		})
	}
}
