package follow

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
)

// followPods reads the target's pods once or, when following, subscribes to them: each pod state
// seen starts the log streams of containers not read yet and reports failed exits and stuck starts.
// A dropped watch is re-established by the pod source.
func (f *follower) followPods(ctx context.Context, t *Target, wg *sync.WaitGroup) {
	if !f.cfg.Follow {
		pods, _, err := f.api.ListPods(ctx, t.Selector)
		if err != nil {
			f.warn(fmt.Sprintf("%s: listing pods: %v", t.Name, err))
			return
		}
		for i := range pods {
			f.observe(ctx, t, &pods[i], wg)
		}
		return
	}
	err := f.api.SubscribePods(ctx, t.Selector, func(pod *corev1.Pod, gone bool) {
		if !gone {
			f.observe(ctx, t, pod, wg)
			return
		}
		f.mu.Lock()
		f.gone[pod.Name] = true
		f.mu.Unlock()
		if f.cfg.OnPod != nil {
			f.cfg.OnPod(t.Name, pod, true)
		}
	}, func(err error) {
		f.warn(fmt.Sprintf("%s: watching pods: %v (retrying)", t.Name, err))
	})
	if err != nil {
		f.warn(fmt.Sprintf("%s: watching pods: %v", t.Name, err))
	}
}

// observe takes in one state of a pod.
func (f *follower) observe(ctx context.Context, t *Target, pod *corev1.Pod, wg *sync.WaitGroup) {
	if f.cfg.OnPod != nil {
		f.cfg.OnPod(t.Name, pod, false)
	}
	info := &podInfo{target: t.Name, pod: pod, mappers: f.mappers(t, pod)}
	f.mu.Lock()
	f.pods[pod.Name] = info
	waiting := f.pending[pod.Name]
	delete(f.pending, pod.Name)
	f.mu.Unlock()
	for _, it := range waiting {
		f.emit(ctx, it)
	}
	for _, it := range f.states(pod) {
		f.emit(ctx, it)
	}
	for _, s := range f.toStream(pod) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.stream(ctx, pod.Name, s, mapperFor(info.mappers, s.container))
		}()
	}
}

// mappers builds the path mappers of a pod, by container: each app container the rules develop maps
// through its own sync entries from its own working directory (against which build steps and
// compilers name files); any other container (the synclet's, whose log carries every container's
// step output) through all the entries from the first app container's working directory ("").
func (f *follower) mappers(t *Target, pod *corev1.Pod) map[string]*logs.Mapper {
	if t.Rules == nil {
		return nil
	}
	all := &logs.Mapper{Dir: f.cfg.Dir, Sync: t.Rules.Sync, Exists: f.cfg.Exists, ReadFile: os.ReadFile}
	out := map[string]*logs.Mapper{"": all}
	for k, a := range t.Rules.Apps() {
		for i, c := range pod.Spec.Containers {
			if c.Name == a.Container || (a.Container == "" && i == 0) {
				out[c.Name] = all.Only(k, c.WorkingDir)
				if k == 0 {
					all.Workdir = c.WorkingDir
				}
			}
		}
	}
	return out
}

// mapperFor is the mapper of container's output among ms (nil maps nothing).
func mapperFor(ms map[string]*logs.Mapper, container string) *logs.Mapper {
	if m, ok := ms[container]; ok {
		return m
	}
	return ms[""]
}

// streamSpec is one container instance to read.
type streamSpec struct {
	container, id string
	previous      bool // the instance before the current one (it crashed before we read it)
}

// toStream returns the container instances of pod whose log is not being read yet: every container
// that runs or ran (init containers and the synclet sidecar included), and a previous instance that
// ended before this run could read it.
//
// The kubelet's "current" instance is the newest one, running or not: a container waiting in
// CrashLoopBackOff has the instance that crashed as its current one (and its ID), and "previous" is
// the one before, which is usually gone.
func (f *follower) toStream(pod *corev1.Pod) []streamSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []streamSpec
	for _, s := range statuses(pod) {
		if last := s.LastTerminationState.Terminated; last != nil && last.ContainerID != "" && last.ContainerID != s.ContainerID &&
			!f.started[last.ContainerID] && (f.cfg.Since.IsZero() || !last.FinishedAt.Time.Before(f.cfg.Since)) {
			f.started[last.ContainerID] = true
			out = append(out, streamSpec{container: s.Name, id: last.ContainerID, previous: true})
		}
		if s.ContainerID != "" && !f.started[s.ContainerID] {
			f.started[s.ContainerID] = true
			out = append(out, streamSpec{container: s.Name, id: s.ContainerID})
		}
	}
	return out
}

func statuses(pod *corev1.Pod) []corev1.ContainerStatus {
	return append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
}

// stuck are the waiting reasons of a container that cannot run without someone acting.
var stuck = map[string]bool{
	"CrashLoopBackOff": true, "ImagePullBackOff": true, "ErrImagePull": true, "ErrImageNeverPull": true,
	"InvalidImageName": true, "CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
}

// states returns the failed exits and stuck starts of pod's containers not reported yet.
func (f *follower) states(pod *corev1.Pod) []logs.Item {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []logs.Item
	for _, s := range statuses(pod) {
		for _, term := range []*corev1.ContainerStateTerminated{s.LastTerminationState.Terminated, s.State.Terminated} {
			if term == nil || (term.ExitCode == 0 && term.Reason != "OOMKilled") {
				continue
			}
			// a pod being deleted (a rollout, a scale down) stops its containers on purpose
			if pod.DeletionTimestamp != nil && term.Reason != "OOMKilled" {
				continue
			}
			if !f.cfg.Since.IsZero() && term.FinishedAt.Time.Before(f.cfg.Since) {
				continue
			}
			key := fmt.Sprintf("exit/%s/%s/%s/%s", pod.Name, s.Name, term.ContainerID, term.FinishedAt.UTC())
			if f.seen[key] {
				continue
			}
			f.seen[key] = true
			out = append(out, exitItem(pod.Name, s, term))
		}
		if w := s.State.Waiting; w != nil && stuck[w.Reason] && pod.DeletionTimestamp == nil {
			key := fmt.Sprintf("waiting/%s/%s/%s/%d", pod.Name, s.Name, w.Reason, s.RestartCount)
			if f.seen[key] {
				continue
			}
			f.seen[key] = true
			text := w.Reason
			if w.Message != "" {
				text += ": " + w.Message
			}
			out = append(out, logs.Item{Kind: logs.KindWaiting, Type: w.Reason, Pod: pod.Name, Container: s.Name, Time: time.Now(), Text: text})
		}
	}
	return out
}

func exitItem(pod string, s corev1.ContainerStatus, term *corev1.ContainerStateTerminated) logs.Item {
	reason := term.Reason
	if reason == "" {
		reason = "Error"
	}
	text := fmt.Sprintf("%s, exit code %d%s", reason, term.ExitCode, logs.ExitMeaning(int(term.ExitCode)))
	if term.Signal != 0 {
		text += fmt.Sprintf(", signal %d", term.Signal)
	}
	if msg := strings.TrimSpace(term.Message); msg != "" {
		text += "\n" + msg
	}
	return logs.Item{Kind: logs.KindExit, Type: reason, Pod: pod, Container: s.Name, Time: term.FinishedAt.Time, ExitCode: int(term.ExitCode), Text: text}
}

// Phase sums up a pod the way `kubectl get pods` does in its STATUS column: Terminating, a stuck
// container's reason (CrashLoopBackOff, OOMKilled), or the pod's phase.
func Phase(pod *corev1.Pod) string {
	if pod.DeletionTimestamp != nil {
		return "Terminating"
	}
	for _, s := range statuses(pod) {
		if w := s.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
			return w.Reason
		}
		if term := s.State.Terminated; term != nil && term.ExitCode != 0 {
			if term.Reason == "" {
				return "Error"
			}
			return term.Reason
		}
	}
	phase := string(pod.Status.Phase)
	if pod.Status.Phase == corev1.PodRunning {
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
				return "Running, not ready"
			}
		}
	}
	if phase == "" {
		return "Pending"
	}
	return phase
}
