package synclet

import (
	"bufio"
	"fmt"
	"io"
	"unicode/utf8"
)

// maxStepLine bounds one line of step output as shown (in the CLI, the synclet's log and `logs`);
// the kubelet splits log lines at 16 KiB anyway, and protocol's event reader allows for it escaped.
const maxStepLine = 64 << 10

// drainLines reads r to its end and passes each line to out, without its line ending. A line longer
// than limit is cut to its first limit bytes (at a character boundary) with a note of its full
// length, and the rest of it is read and dropped: output of any shape keeps the reader going, since
// a reader that stops lets the pipe fill and blocks the step for good.
func drainLines(r io.Reader, limit int, out func(string)) {
	br := bufio.NewReaderSize(r, 32<<10)
	line := make([]byte, 0, 4<<10)
	n := 0 // bytes of the current line read so far, kept or not
	for {
		chunk, err := br.ReadSlice('\n')
		n += len(chunk)
		if room := limit + 1 - len(line); room > 0 { // one byte more than shown, to see its newline
			line = append(line, chunk[:min(room, len(chunk))]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if n > 0 {
			if err == nil { // ReadSlice found the newline: not part of the line
				n--
			}
			out(shown(line, n, limit))
		}
		line, n = line[:0], 0
		if err != nil { // io.EOF, or the pipe closed under a step that left a process holding it
			return
		}
	}
}

// shown is a line as displayed: the first bytes of a line total bytes long (its newline not
// counted), without a trailing carriage return, and cut with a note when it is over limit bytes.
func shown(line []byte, total, limit int) string {
	line = line[:min(len(line), total)]
	if total <= limit && len(line) > 0 && line[len(line)-1] == '\r' {
		line, total = line[:len(line)-1], total-1
	}
	if total <= limit {
		return string(line)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(line[cut]) {
		cut--
	}
	return fmt.Sprintf("%s … [line cut: %d bytes in all, the first %d shown]", line[:cut], total, cut)
}
