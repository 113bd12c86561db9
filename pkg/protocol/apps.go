package protocol

import (
	"fmt"
	"strings"
)

// AppRun is the steps and restart of an update for one app container other than the first, in a pod
// whose rules develop several (the rules' list form). The first container's stay in UpdateMeta's own
// Steps and Restart, so a pod with one app container sees the same update as before the field.
type AppRun struct {
	Container string  `json:"container"`
	Steps     []Step  `json:"steps,omitempty"`
	Restart   Restart `json:"restart,omitempty"`
}

// SupervisorSocketFor is the socket of the supervisor wrapping app container name: SupervisorSocket
// for the first ("" names it), so single-container pods keep the path older releases use.
func SupervisorSocketFor(name string) string {
	if name == "" {
		return SupervisorSocket
	}
	return RunDir + "/supervisor-" + name + ".sock"
}

// PendingFileFor is where app container name's steps wait while it is down: PendingFile for the
// first ("" names it).
func PendingFileFor(name string) string {
	if name == "" {
		return PendingFile
	}
	return RunDir + "/pending-" + name + ".json"
}

// validateApps checks each AppRun as Validate checks the first container's steps and restart.
func validateApps(apps []AppRun) error {
	seen := map[string]bool{}
	for _, a := range apps {
		// a name lands in a path under RunDir: only a container name's characters may pass
		if a.Container == "" || strings.Trim(a.Container, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" || seen[a.Container] {
			return fmt.Errorf("app container %q: want a distinct container name", a.Container)
		}
		seen[a.Container] = true
		if err := (UpdateMeta{Steps: a.Steps, Restart: a.Restart}).Validate(); err != nil {
			return fmt.Errorf("app container %q: %w", a.Container, err)
		}
	}
	return nil
}
