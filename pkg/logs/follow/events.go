package follow

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
)

// WarningPodEvents selects the events shown: Warning events about pods (probe failures, back-offs,
// image pulls, scheduling, volume mounts).
const WarningPodEvents = "type=Warning,involvedObject.kind=Pod"

// maxPending bounds the events kept for pods not seen (yet): most are about other Deployments' pods.
const maxPending = 200

// events lists and, when following, watches the namespace's Warning pod events, passing on those
// about the targets' pods.
func (f *follower) events(ctx context.Context) {
	for ctx.Err() == nil {
		list, rv, err := f.api.ListEvents(ctx, WarningPodEvents)
		if err != nil {
			f.warn(fmt.Sprintf("listing events: %v (warnings are not shown)", err))
			if !f.cfg.Follow || !sleep(ctx, 5*time.Second) {
				return
			}
			continue
		}
		for i := range list {
			f.event(ctx, &list[i])
		}
		if !f.cfg.Follow {
			return
		}
		w, err := f.api.WatchEvents(ctx, WarningPodEvents, rv)
		if err != nil {
			f.warn(fmt.Sprintf("watching events: %v (retrying)", err))
			sleep(ctx, 5*time.Second)
			continue
		}
		f.watchEvents(ctx, w)
	}
}

func (f *follower) watchEvents(ctx context.Context, w watch.Interface) {
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.ResultChan():
			if !ok {
				return
			}
			e, isEvent := ev.Object.(*corev1.Event)
			if !isEvent {
				return // an error event: list again
			}
			if ev.Type != watch.Deleted {
				f.event(ctx, e)
			}
		}
	}
}

// event passes on one event if it is about a target's pod and has not been shown. An event about a
// pod not seen yet waits for the pod: the pod and event watches are not ordered with each other.
func (f *follower) event(ctx context.Context, e *corev1.Event) {
	if e.Type != corev1.EventTypeWarning || e.InvolvedObject.Kind != "Pod" {
		return
	}
	t := eventTime(e)
	if !f.cfg.Since.IsZero() && t.Before(f.cfg.Since) {
		return
	}
	pod := e.InvolvedObject.Name
	it := logs.Item{Kind: logs.KindEvent, Type: e.Reason, Pod: pod, Container: containerOf(e.InvolvedObject.FieldPath), Time: t, Text: e.Message}
	f.mu.Lock()
	// an event that happens again only counts up: shown once (a crash loop's exits are shown each time)
	key := fmt.Sprintf("event/%s/%s", e.UID, e.Message)
	if f.seen[key] {
		f.mu.Unlock()
		return
	}
	f.seen[key] = true
	info := f.pods[pod]
	if info == nil {
		if len(f.pending) >= maxPending {
			for p := range f.pending { // drop any one: pending is a best effort for a rare race
				delete(f.pending, p)
				break
			}
		}
		f.pending[pod] = append(f.pending[pod], it)
	}
	f.mu.Unlock()
	if info != nil {
		f.emit(ctx, it)
	}
}

// eventTime is when the event last happened.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// containerOf reads the container name from an event's field path, e.g. "spec.containers{web}".
func containerOf(fieldPath string) string {
	_, rest, ok := strings.Cut(fieldPath, "{")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "}")
	return name
}
