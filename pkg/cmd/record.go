package cmd

import (
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/state"
)

// recordingReporter records pod states and updates for `status` before passing them on to the view.
type recordingReporter struct {
	devloop.Reporter
	rec *state.Recorder
}

var _ devloop.Reporter = recordingReporter{}

func (r recordingReporter) PodState(dep, pod string, ok bool, err error) {
	r.rec.PodState(dep, pod, ok, err)
	r.Reporter.PodState(dep, pod, ok, err)
}

func (r recordingReporter) PodGone(dep, pod string) {
	r.rec.PodGone(dep, pod)
	r.Reporter.PodGone(dep, pod)
}

func (r recordingReporter) Updated(u devloop.Update) {
	r.rec.Synced(u.Deployment, u.Pod, u.Files+u.Deletes, u.Latency, u.Err)
	r.Reporter.Updated(u)
}

// Converged records that a pod converged, for `status` to tell stale pods (devloop.ConvergeReporter),
// and tells the view (the shared model marks the pod synced).
func (r recordingReporter) Converged(dep, pod string) {
	r.rec.Converged(dep, pod)
	if c, ok := r.Reporter.(devloop.ConvergeReporter); ok {
		c.Converged(dep, pod)
	}
}

var _ devloop.ConvergeReporter = recordingReporter{}

// Progressed passes a large update's progress on to the view (devloop.ProgressReporter).
func (r recordingReporter) Progressed(dep, pod string, p devloop.Progress) {
	if pr, ok := r.Reporter.(devloop.ProgressReporter); ok {
		pr.Progressed(dep, pod, p)
	}
}

var _ devloop.ProgressReporter = recordingReporter{}

// serverOf names the cluster in the status records: its API server's address. The error is not
// reported: the callers built their client from the same flags, which already loaded this config.
func serverOf(flags *genericclioptions.ConfigFlags) string {
	if c, err := flags.ToRESTConfig(); err == nil {
		return c.Host
	}
	return ""
}
