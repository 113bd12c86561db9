package follow

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
)

// stream reads one container instance's log through a detector until it ends: the container stopped,
// the read was not a follow, or ctx ended. When following, a stream the API server closes while the
// container still runs (a dropped connection, the kubelet's idle timeout) is opened again after its
// last line.
func (f *follower) stream(ctx context.Context, pod string, s streamSpec, m *logs.Mapper) {
	det := logs.NewDetector()
	var last time.Time
	for failures := 0; ctx.Err() == nil; {
		opts := &corev1.PodLogOptions{Container: s.container, Timestamps: true, Previous: s.previous, Follow: f.cfg.Follow && !s.previous}
		since := f.cfg.Since
		if last.After(since) {
			since = last
		}
		if !since.IsZero() {
			t := metav1.NewTime(since)
			opts.SinceTime = &t
		}
		rc, err := f.api.StreamLogs(ctx, pod, opts)
		if err != nil {
			// a container that has just started may not have a log yet: try a few times
			if failures++; ctx.Err() == nil && opts.Follow && failures < 4 && sleep(ctx, time.Second) {
				continue
			}
			// a pod that is gone (replaced, scaled down) has no log to read: that is no warning
			if ctx.Err() == nil && !apierrors.IsNotFound(err) && f.present(pod) {
				f.warn(fmt.Sprintf("%s/%s: reading the log: %v", pod, s.container, err))
			}
			break
		}
		failures = 0
		last = f.read(ctx, rc, pod, s.container, det, m, last)
		rc.Close()
		// the log ends when the container stops; the pod watch reports that soon after
		if !opts.Follow || !sleep(ctx, 2*time.Second) || !f.running(pod, s.id) {
			break
		}
	}
	f.send(ctx, det.Flush(), m)
}

// read feeds the lines of one log stream to det, skipping those not after `after` (already read
// before a reconnect), and returns the time of the last line.
func (f *follower) read(ctx context.Context, rc io.Reader, pod, container string, det *logs.Detector, m *logs.Mapper, after time.Time) time.Time {
	lines := make(chan string)
	go func() {
		defer close(lines)
		br := bufio.NewReaderSize(rc, 64<<10)
		for {
			s, err := br.ReadString('\n')
			if s != "" {
				select {
				case lines <- strings.TrimSuffix(s, "\n"):
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	defer quiet.Stop()
	for {
		select {
		case s, ok := <-lines:
			if !ok {
				return after
			}
			ts, text := splitTimestamp(s)
			if ts.IsZero() {
				// every line of a container has a timestamp (Timestamps: true): one without is the
				// kubelet's, such as "unable to retrieve container logs for ..." of a removed instance
				f.warn(fmt.Sprintf("%s/%s: %s", pod, container, s))
				continue
			}
			if !after.IsZero() && !ts.After(after) {
				continue
			}
			after = ts
			f.send(ctx, det.Feed(logs.Line{Pod: pod, Container: container, Time: ts, Text: text}), m)
			quiet.Reset(f.cfg.Quiet)
		case <-quiet.C:
			f.send(ctx, det.Quiet(), m)
		case <-ctx.Done():
			return after
		}
	}
}

// send maps the paths of items and hands them on.
func (f *follower) send(ctx context.Context, items []logs.Item, m *logs.Mapper) {
	for i := range items {
		if items[i].Kind == logs.KindError {
			m.Map(&items[i])
		}
		f.emit(ctx, items[i])
	}
}

// splitTimestamp splits the RFC 3339 time the API server puts before each line (Timestamps: true).
func splitTimestamp(s string) (time.Time, string) {
	ts, text, ok := strings.Cut(s, " ")
	if !ok {
		ts, text = s, ""
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, s
	}
	return t, text
}

// present reports whether pod is still there: not reported gone by the pod watch.
func (f *follower) present(pod string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.gone[pod]
}

// running reports whether the latest state seen of pod has container instance id running.
func (f *follower) running(pod, id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	info := f.pods[pod]
	if info == nil {
		return false
	}
	for _, s := range statuses(info.pod) {
		if s.ContainerID == id {
			return s.State.Running != nil
		}
	}
	return false
}
