package devloop

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Reporter receives what happens during `up`: the plain line printer here, or a live terminal view.
// Implementations must be safe for concurrent use (every pod worker reports on its own).
type Reporter interface {
	PodState(deployment, pod string, connected bool, err error)
	PodGone(deployment, pod string)
	StepLine(deployment, pod, step, line string)
	Updated(u Update)
	// Info tells what `up` is doing (the trees it watches), where nothing is wrong.
	Info(msg string)
	// Warn tells about a problem that does not stop `up`: something not synced, a retried failure.
	Warn(msg string)
}

// ConvergeReporter is a Reporter that is also told each time a comparison of a pod's whole tree (at
// every connect) leaves the pod equal to the local tree, at once or after the update it needed.
// `status` records it to tell pods that still run the image's code; a Reporter without it is not told.
type ConvergeReporter interface {
	Converged(deployment, pod string)
}

// StepOutput is the outcome of one in-pod step.
type StepOutput struct {
	Cmd      string
	ExitCode int
	Duration time.Duration
}

// Update is the outcome of one update sent to one pod.
type Update struct {
	Deployment, Pod string
	Files, Deletes  int
	Steps           []StepOutput
	// Convergence is set for the comparison after a (re)connect, which is not timed against an edit.
	Convergence bool
	// Queued: the app container was not running; its steps and restart run when it starts.
	Queued bool
	Err    string
	// Latency is edit -> running: first file event to the synclet's reply after the restart.
	Latency                                time.Duration
	Quiet, Send, Write, StepsTime, Restart time.Duration
}

// Line renders the update as the one line `up` prints for it.
func (u Update) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s: ", u.Deployment, u.Pod)
	if u.Err != "" && u.Files == 0 && u.Deletes == 0 && len(u.Steps) == 0 {
		return b.String() + "FAILED: " + u.Err
	}
	if u.Convergence {
		b.WriteString("converged, ")
	}
	fmt.Fprintf(&b, "%d file%s sent, %d deleted", u.Files, plural(u.Files), u.Deletes)
	if len(u.Steps) > 0 {
		var names []string
		for _, s := range u.Steps {
			names = append(names, fmt.Sprintf("%q %s", s.Cmd, round(s.Duration)))
		}
		b.WriteString(", steps: " + strings.Join(names, ", "))
	}
	switch {
	case u.Err != "":
		fmt.Fprintf(&b, "; FAILED: %s", u.Err)
	case u.Queued:
		b.WriteString("; app container not running: steps and restart run when it starts")
	case u.Latency > 0:
		fmt.Fprintf(&b, "; edit->running %s (quiet %s, send %s, write %s, steps %s, restart %s)",
			round(u.Latency), round(u.Quiet), round(u.Send-u.StepsTime-u.Restart), round(u.Write), round(u.StepsTime), round(u.Restart))
	default:
		fmt.Fprintf(&b, " in %s", round(u.Send))
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func round(d time.Duration) string {
	if d < 10*time.Millisecond {
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// LineReporter prints one plain line per event: results to out, diagnostics to errOut. While an
// update's steps run it says so every StepEvery (default 30 s), from the steps' first output line.
type LineReporter struct {
	mu          sync.Mutex
	Out, ErrOut io.Writer
	StepEvery   time.Duration
	sending     map[string]*sendingLine  // a large update under way, by deployment/pod
	steps       map[string]*runningSteps // an update whose steps print, by deployment/pod
}

var (
	_ Reporter         = (*LineReporter)(nil)
	_ ProgressReporter = (*LineReporter)(nil)
)

// PodState implements Reporter.
func (r *LineReporter) PodState(dep, pod string, connected bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case connected:
		fmt.Fprintf(r.ErrOut, "%s/%s: connected\n", dep, pod)
	case err != nil:
		var perm *permanentError
		if errors.As(err, &perm) {
			fmt.Fprintf(r.ErrOut, "%s/%s: disconnected: %v\n", dep, pod, err) // it says it is not retried
			return
		}
		fmt.Fprintf(r.ErrOut, "%s/%s: disconnected: %v (retrying)\n", dep, pod, err)
	}
}

// PodGone implements Reporter.
func (r *LineReporter) PodGone(dep, pod string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stepsOver(dep + "/" + pod)
	fmt.Fprintf(r.ErrOut, "%s/%s: pod gone\n", dep, pod)
}

// StepLine implements Reporter.
func (r *LineReporter) StepLine(dep, pod, step, line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stepSeen(dep+"/"+pod, step)
	fmt.Fprintf(r.ErrOut, "%s/%s: [%s] %s\n", dep, pod, step, line)
}

// Updated implements Reporter.
func (r *LineReporter) Updated(u Update) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.sending, u.Deployment+"/"+u.Pod)
	r.stepsOver(u.Deployment + "/" + u.Pod)
	fmt.Fprintln(r.Out, u.Line())
}

// Forwarding prints a forward `up` keeps open (pkg/forward's Reporter) as its URL.
func (r *LineReporter) Forwarding(dep, url string, remote int) {
	r.line(ForwardLine(dep, url, remote))
}

// ForwardLine is how a forward is said in plain lines and the live view.
func ForwardLine(dep, url string, remote int) string {
	return fmt.Sprintf("%s: forwarding %s -> port %d of a ready pod", dep, url, remote)
}

// Info implements Reporter.
func (r *LineReporter) Info(msg string) { r.line(msg) }

// Warn implements Reporter.
func (r *LineReporter) Warn(msg string) { r.line(msg) }

// line prints msg as it is: diagnostics and information alike go to errOut, results only to out.
func (r *LineReporter) line(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintln(r.ErrOut, msg)
}
