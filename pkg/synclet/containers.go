package synclet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// A pod whose rules develop several app containers has one supervisor per app container, each with
// its own socket and pending file in the shared run directory (protocol.SupervisorSocketFor): the
// first container's keep the single-container paths. The sidecar serves them all; an update names,
// besides the first container's steps and restart, those of the others (UpdateMeta.Apps), and each
// goes to its own container's supervisor only.

// appsFlag collects the --app NAME flags of `synclet serve`: app containers besides the first.
type appsFlag []string

var containerName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// String lists the names, for flag's help text.
func (a *appsFlag) String() string { return strings.Join(*a, ",") }

// Set adds one container name.
func (a *appsFlag) Set(v string) error {
	if !containerName.MatchString(v) {
		return fmt.Errorf("want a container name, got %q", v)
	}
	*a = append(*a, v)
	return nil
}

// AppSupervisor is the supervisor of one app container besides the first: where it listens, and where
// its steps wait while the container is down.
type AppSupervisor struct {
	Name, Socket, Pending string
}

// appSupervisors gives each name of --app the in-pod paths injection gave its supervisor.
func appSupervisors(names []string) []AppSupervisor {
	out := make([]AppSupervisor, len(names))
	for i, n := range names {
		out[i] = AppSupervisor{Name: n, Socket: protocol.SupervisorSocketFor(n), Pending: protocol.PendingFileFor(n)}
	}
	return out
}

// appClient is how the server reaches one app container's supervisor.
type appClient struct {
	http    *http.Client
	pending string
}

// addApp lets updates reach app container a's supervisor.
func (s *Server) addApp(a AppSupervisor) {
	if s.apps == nil {
		s.apps = map[string]appClient{}
	}
	s.apps[a.Name] = appClient{http: unixClient(a.Socket), pending: a.Pending}
}

// unixClient is an HTTP client whose every request goes to the unix socket sock.
func unixClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
}

// appRun is the outcome of one app container's steps and restart.
type appRun struct {
	res    *protocol.Event
	queued bool
	err    error
}

// runApps asks the supervisor of each app container the update names (the first's from meta's own
// Steps and Restart, then meta.Apps in order) to run its steps and restart; a container that is down
// gets them queued for its next start. Every container is asked, whatever an earlier one answered:
// the containers are independent. It returns the summed timings, whether any were queued, and the
// first error, prefixed with its container's name when the pod has several.
func (s *Server) runApps(ctx context.Context, meta protocol.UpdateMeta, ev *protocol.EventWriter) (protocol.Timings, bool, error) {
	runs := append([]protocol.AppRun{{Steps: meta.Steps, Restart: meta.Restart}}, meta.Apps...)
	var t protocol.Timings
	var queued bool
	var first error
	for _, a := range runs {
		if len(a.Steps) == 0 && (a.Restart == "" || a.Restart == protocol.RestartNone) {
			continue
		}
		r := s.runApp(ctx, a, ev)
		if r.res != nil && r.res.Timings != nil {
			t.Steps += r.res.Timings.Steps
			t.Restart += r.res.Timings.Restart
		}
		queued = queued || r.queued
		if r.err != nil && first == nil {
			first = r.err
			if a.Container != "" {
				first = fmt.Errorf("container %s: %w", a.Container, r.err)
			}
		}
	}
	return t, queued, first
}

// runApp runs one app container's steps and restart through its supervisor, or queues them.
func (s *Server) runApp(ctx context.Context, a protocol.AppRun, ev *protocol.EventWriter) appRun {
	client, pending := s.super, s.cfg.Pending
	if a.Container != "" {
		c, ok := s.apps[a.Container]
		if !ok {
			return appRun{err: fmt.Errorf("the pod has no app container %q under fastdev: run `kubectl fastdev up` again to re-inject with the current rules", a.Container)}
		}
		client, pending = c.http, c.pending
	}
	req := protocol.UpdateMeta{Steps: a.Steps, Restart: a.Restart}
	res, err := s.runSteps(ctx, client, req, ev)
	if !errors.Is(err, errSupervisorDown) {
		return appRun{res: res, err: err}
	}
	if qerr := queuePending(pending, req); qerr != nil {
		return appRun{err: fmt.Errorf("app container is not running and its steps could not be queued: %w", qerr)}
	}
	name := "app container"
	if a.Container != "" {
		name += " " + a.Container
	}
	s.cfg.Log.Printf("%s not running: %d step(s) and restart queued for its next start", name, len(a.Steps))
	return appRun{queued: true}
}
