package logs

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The synclet logs each in-pod step's output as "[<step>] <line>" and a failure as "step failed:
// <step>: exit code N", or "step failed: <step>: timed out after D (exit code N)" (pkg/synclet/run.go);
// steps queued while the app was down run under the supervisor, which logs "supervisor: step "<step>"
// failed with exit code N" or "... timed out after D". The supervisor also logs an app that exited on
// its own and is started again in the same container: "supervisor: <cmd> exited with code N; starting
// it again in D". Both loggers prefix the date and time with microseconds, which is required here so
// app lines are never mistaken.
var (
	reSyncletLog     = regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} (.*)$`)
	reStepOutput     = regexp.MustCompile(`^\[(.+?)\] (.*)$`)
	reStepFailed     = regexp.MustCompile(`^step failed: (.+): exit code (-?\d+)$`)
	reStepTimedOut   = regexp.MustCompile(`^step failed: (.+): timed out after (\S+) \(exit code (-?\d+)\)$`)
	reQueuedFailed   = regexp.MustCompile(`^supervisor: step (".*") failed with exit code (-?\d+)`)
	reQueuedTimedOut = regexp.MustCompile(`^supervisor: step (".*") timed out after (\S+) `)
	reAppRestarted   = regexp.MustCompile(`^supervisor: (.+) exited with code (-?\d+); starting it again in (\S+)`)
	reUpdateDone     = regexp.MustCompile(`^(update applied|update failed|app container not running)\b`)
)

// TypeAppExit is the Type of the KindExit item for an app process that ended on its own while its
// container kept running: the supervisor starts it again after a short backoff.
const TypeAppExit = "AppExited"

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
	if a := reAppRestarted.FindStringSubmatch(msg); a != nil {
		code := atoi(a[2])
		text := fmt.Sprintf("%s exited with code %d%s; the supervisor starts it again in %s (the container is kept)", a[1], code, ExitMeaning(code), a[3])
		retry, _ := time.ParseDuration(a[3]) // the supervisor prints a time.Duration; 0 when another form
		return &Item{Kind: KindExit, Type: TypeAppExit, Pod: l.Pod, Container: l.Container, Time: l.Time, ExitCode: code, Text: text, Retry: retry}, true
	}
	step, how := failedStep(msg)
	if step == "" {
		if reUpdateDone.MatchString(msg) {
			s.out, s.dropped = map[string][]string{}, nil // the update is over: its steps' output too
			return nil, true
		}
		return nil, false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "step failed: %s (%s)", step, how)
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

// failedStep reads a step's failure from a synclet or supervisor log message: the step, and how it
// failed in words; "" when msg is not a failure.
func failedStep(msg string) (string, string) {
	const raise = "; raise the rules' run[].timeout of this step, or make the command end"
	if f := reStepFailed.FindStringSubmatch(msg); f != nil {
		code := atoi(f[2])
		return f[1], fmt.Sprintf("exit code %d%s", code, ExitMeaning(code))
	}
	if f := reStepTimedOut.FindStringSubmatch(msg); f != nil {
		return f[1], fmt.Sprintf("timed out after %s and stopped%s", f[2], raise)
	}
	if f := reQueuedFailed.FindStringSubmatch(msg); f != nil {
		if u, err := strconv.Unquote(f[1]); err == nil {
			code := atoi(f[2])
			return u, fmt.Sprintf("exit code %d%s", code, ExitMeaning(code))
		}
	}
	if f := reQueuedTimedOut.FindStringSubmatch(msg); f != nil {
		if u, err := strconv.Unquote(f[1]); err == nil {
			return u, fmt.Sprintf("timed out after %s and stopped%s", f[2], raise)
		}
	}
	return "", ""
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
