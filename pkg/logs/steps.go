package logs

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The synclet logs each in-pod step's output as "[<step>] <line>" and a failure as "step failed:
// <step>: exit code N" (pkg/synclet/server.go); steps queued while the app was down run under the
// supervisor, which logs "supervisor: step "<step>" failed with exit code N". Both loggers prefix
// the date and time with microseconds, which is required here so app lines are never mistaken.
var (
	reSyncletLog   = regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} (.*)$`)
	reStepOutput   = regexp.MustCompile(`^\[(.+?)\] (.*)$`)
	reStepFailed   = regexp.MustCompile(`^step failed: (.+): exit code (-?\d+)$`)
	reQueuedFailed = regexp.MustCompile(`^supervisor: step (".*") failed with exit code (-?\d+)`)
	reUpdateDone   = regexp.MustCompile(`^(update applied|update failed|app container not running)\b`)
)

// maxStepLines bounds the output kept per step; a failure shows its last lines, where the error is.
const maxStepLines = 200

// steps collects each step's output until the step's result is logged.
type steps struct {
	out     map[string][]string
	dropped map[string]int
}

// line handles one line if it is the synclet's step output or a step's result. It returns the failed
// step's error item when the line reports a failure.
func (s *steps) line(l Line) (*Item, bool) {
	m := reSyncletLog.FindStringSubmatch(l.Text)
	if m == nil {
		return nil, false
	}
	msg := m[1]
	if o := reStepOutput.FindStringSubmatch(msg); o != nil {
		s.add(o[1], o[2])
		return nil, true
	}
	step, code := "", 0
	if f := reStepFailed.FindStringSubmatch(msg); f != nil {
		step, code = f[1], atoi(f[2])
	} else if f := reQueuedFailed.FindStringSubmatch(msg); f != nil {
		if u, err := strconv.Unquote(f[1]); err == nil {
			step, code = u, atoi(f[2])
		}
	}
	if step == "" {
		if reUpdateDone.MatchString(msg) {
			s.out, s.dropped = map[string][]string{}, nil // the update is over: its steps' output too
			return nil, true
		}
		return nil, false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "step failed: %s (exit code %d%s)", step, code, ExitMeaning(code))
	if n := s.dropped[step]; n > 0 {
		fmt.Fprintf(&b, "\n... %d earlier line%s of output not shown", n, plural(n))
	}
	for _, o := range s.out[step] {
		b.WriteString("\n" + o)
	}
	delete(s.out, step)
	delete(s.dropped, step)
	return &Item{Kind: KindError, Type: TypeStep, Pod: l.Pod, Container: l.Container, Time: l.Time, Text: b.String()}, true
}

func (s *steps) add(step, line string) {
	out := append(s.out[step], line)
	if len(out) > maxStepLines {
		if s.dropped == nil {
			s.dropped = map[string]int{}
		}
		s.dropped[step] += len(out) - maxStepLines
		out = out[len(out)-maxStepLines:]
	}
	s.out[step] = out
}

// ExitMeaning explains an exit code in plain words, as ", killed by SIGKILL: ..." to append after
// the code, or "" when the code says nothing beyond failure.
func ExitMeaning(code int) string {
	switch code {
	case 2:
		return ", a Go panic or a shell usage error"
	case 126:
		return ", the command is not executable: check its mode"
	case 127:
		return ", command not found in the container"
	case 134:
		return ", aborted (SIGABRT)"
	case 137:
		return ", killed by SIGKILL: usually for exceeding the memory limit"
	case 139:
		return ", segmentation fault (SIGSEGV)"
	case 143:
		return ", stopped by SIGTERM"
	}
	return ""
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
