package events

import (
	"fmt"
	"time"
)

// PodState records that a pod's synclet connection came up (connected) or went down (err says why).
func (m *Model) PodState(workload, pod string, connected bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pod(workload, pod)
	p.Connected = connected
	if err != nil {
		p.LastError = "disconnected: " + err.Error()
		p.Progress, p.Step = nil, nil
	}
	m.changed()
}

// PodGone forgets a pod that was deleted.
func (m *Model) PodGone(workload, pod string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pods, workload+"/"+pod)
	m.changed()
}

// Phase records a pod's phase as the pod watch saw it; gone forgets the pod.
func (m *Model) Phase(workload, pod, phase string, gone bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gone {
		delete(m.pods, workload+"/"+pod)
	} else {
		m.pod(workload, pod).Phase = phase
	}
	m.changed()
}

// StepLine records a line of a step's output in a pod: the pod's running step (started when its
// first line came) and its latest output, which a new step starts afresh.
func (m *Model) StepLine(workload, pod, step, line string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pod(workload, pod)
	if p.Step == nil || p.Step.Name != step {
		if p.Step == nil {
			p.Output = nil // the first step of an update: the previous update's output is old
		}
		p.Step = &Step{Name: step, Started: m.now()}
	}
	p.Step.LastLine = line
	p.Output = append(p.Output, fmt.Sprintf("[%s] %s", step, line))
	if len(p.Output) > MaxOutput {
		p.Output = p.Output[len(p.Output)-MaxOutput:]
	}
	m.note(LevelStep, fmt.Sprintf("%s/%s: [%s] %s", workload, pod, step, line))
	m.changed()
}

// Updated records an update a pod answered (or could not be sent, with Err): the chart's data, the
// pod's last sync, and for a success the error blocks it fixed for that pod.
func (m *Model) Updated(u Update) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if u.Time.IsZero() {
		u.Time = m.now()
	}
	p := m.pod(u.Workload, u.Pod)
	p.Connected, p.LastSync, p.LastError = true, u.Time, u.Err
	p.Progress, p.Step = nil, nil
	if u.LatencyMs > 0 {
		p.LatencyMs = u.LatencyMs
	}
	if u.Err == "" {
		p.okAt = u.Time
		m.fixed(u.Pod, u.Time)
	}
	m.updates = append(m.updates, u)
	if len(m.updates) > MaxUpdates {
		m.updates = m.updates[len(m.updates)-MaxUpdates:]
	}
	m.changed()
}

// Converged records that a comparison of the whole tree left the pod equal to the local tree.
func (m *Model) Converged(workload, pod string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pod(workload, pod).Converged = true
	m.changed()
}

// Forwarding records a forward `up` keeps open.
func (m *Model) Forwarding(workload, url string, remote int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fwds = append(m.fwds, Forward{Workload: workload, URL: url, Remote: remote})
	m.changed()
}

// Info records what `up` is doing, where nothing is wrong.
func (m *Model) Info(msg string) { m.add(LevelInfo, msg) }

// Warn records a problem that does not stop `up`.
func (m *Model) Warn(msg string) { m.add(LevelWarn, msg) }

func (m *Model) add(level, msg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.note(level, msg)
	m.changed()
}

// Progressed records how far a large update to a pod, started at started, has come; done (files ==
// total files and bytes == total bytes) clears it, as does the update's result.
func (m *Model) Progressed(workload, pod string, files, totalFiles int, bytes, totalBytes int64, started time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.pod(workload, pod)
	now := m.now()
	if p.Progress == nil {
		p.Progress = &Progress{}
	}
	pr := p.Progress
	pr.Started = started
	pr.Files, pr.TotalFiles, pr.Bytes, pr.TotalBytes = files, totalFiles, bytes, totalBytes
	pr.RateBps, pr.LeftMs = 0, -1
	if el := now.Sub(pr.Started); el > 0 && bytes > 0 {
		pr.RateBps = float64(bytes) / el.Seconds()
		pr.LeftMs = float64(totalBytes-bytes) / pr.RateBps * 1000
	}
	if files >= totalFiles && bytes >= totalBytes {
		p.Progress = nil
	}
	m.changed()
}

// Ms is d in (fractional) milliseconds, the unit of the model's durations.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
