package synclet

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDrainLines: lines of any length are read to the end; long ones are cut for display with a note
// of their length, short ones pass as they are (without \n or \r\n).
func TestDrainLines(t *testing.T) {
	long := strings.Repeat("x", 100)
	for _, c := range []struct {
		name, in string
		want     []string
	}{
		{"lines", "one\ntwo\r\nthree", []string{"one", "two", "three"}},
		{"empty lines kept", "\n\nx\n", []string{"", "", "x"}},
		{"nothing", "", nil},
		{"exactly the limit", long[:16] + "\n", []string{long[:16]}},
		{"cut", long + "\nafter\n", []string{long[:16] + " … [line cut: 100 bytes in all, the first 16 shown]", "after"}},
		{"cut without a newline", long, []string{long[:16] + " … [line cut: 100 bytes in all, the first 16 shown]"}},
		{"cut at a character boundary", strings.Repeat("é", 20) + "\n", []string{strings.Repeat("é", 8) + " … [line cut: 40 bytes in all, the first 16 shown]"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			drainLines(strings.NewReader(c.in), 16, func(l string) { got = append(got, l) })
			if !slices.Equal(got, c.want) {
				t.Errorf("lines %q, want %q", got, c.want)
			}
		})
	}
}

// TestDrainLinesHugeLine: a 2 MB line through a pipe is drained as it is written (the writer never
// blocks) and shown cut, and the lines after it still arrive.
func TestDrainLinesHugeLine(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		_, err := io.WriteString(pw, strings.Repeat("y", 2<<20)+"\nnext\n")
		pw.CloseWithError(err)
	}()
	var got []string
	done := make(chan struct{})
	go func() { defer close(done); drainLines(pr, maxStepLine, func(l string) { got = append(got, l) }) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the reader stopped: a 2 MB line was not drained")
	}
	if len(got) != 2 || len(got[0]) > maxStepLine+100 || !strings.Contains(got[0], "2097152 bytes in all") || got[1] != "next" {
		t.Errorf("got %d lines, the first %d bytes long (%q...), want the cut line and next", len(got), len(got[0]), got[0][len(got[0])-60:])
	}
}
