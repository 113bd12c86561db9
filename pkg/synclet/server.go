// Package synclet is the in-pod half of kubectl-fastdev: a server (in the sidecar) that applies updates
// to the sync roots and asks the supervisor to run steps; the supervisor (wrapping the app container's
// process) that runs those steps and restarts the process; and the install and seed steps of the
// injected init containers.
package synclet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/archive"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/auth"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/protocol"
)

// ServerConfig configures the sidecar's server.
type ServerConfig struct {
	Listen     string          // loopback address; the CLI reaches it through a port-forward
	Roots      []string        // sync root directories, numbered as in the rules
	To         []string        // the in-pod paths the app sees them at, for manifests and messages
	Keys       string          // authorized public keys (pkg/auth): each connection proves one before any request
	Supervisor string          // the supervisor's unix socket
	Pending    string          // where steps wait while the app container is not running
	Apps       []AppSupervisor // app containers besides the first, each with its own supervisor (containers.go)
	Limits     archive.Limits
	Log        *log.Logger // step output and update summaries: the synclet container's log
}

// Server serves the synclet's HTTP API.
type Server struct {
	cfg      ServerConfig
	applier  *archive.Applier
	gate     *auth.Gate
	super    *http.Client
	apps     map[string]appClient // the supervisors of Apps, by container
	timeouts timeouts             // of the HTTP server (tests shorten them)

	// busy is held by one update or manifest scan at a time (updates must apply in the order the CLI
	// sent them); a request waits for it only while its caller does, so a CLI that gave up on a pod
	// whose step still runs leaves no handler queued behind it.
	busy chan struct{}

	statusMu sync.Mutex // guards status, which never waits for busy: status answers while a step runs
	status   protocol.Status
}

// NewServer opens the roots and returns a server; Serve starts it.
func NewServer(cfg ServerConfig) (*Server, error) {
	gate, err := auth.NewGate(cfg.Keys)
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %w", cfg.Listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--listen %q: the synclet listens on loopback only (reach it with a port-forward)", cfg.Listen)
	}
	a, err := archive.NewApplier(cfg.Roots, cfg.Limits)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, applier: a, gate: gate, timeouts: defaultTimeouts, busy: make(chan struct{}, 1)}
	s.super = unixClient(cfg.Supervisor)
	for _, a := range cfg.Apps {
		s.addApp(a)
	}
	return s, nil
}

// Handler returns the API handler (also used by tests over httptest).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+protocol.PathHealth, func(w http.ResponseWriter, _ *http.Request) {
		// a caller that cannot read the answer learns what it needs: the synclet is not reachable
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET "+protocol.PathManifest, s.manifest)
	mux.HandleFunc("GET "+protocol.PathStatus, s.statusHandler)
	mux.HandleFunc("POST "+protocol.PathUpdate, s.update)
	mux.HandleFunc("POST "+protocol.PathRun, s.countRuns(s.runCommand))
	mux.HandleFunc("POST "+protocol.PathRun+"/{container}", s.countRuns(s.runCommand)) // another app container (run -c)
	mux.HandleFunc("GET "+protocol.PathFile, s.serveFile)
	mux.HandleFunc("GET "+protocol.PathChanged, s.changed)
	mux.HandleFunc("POST "+protocol.PathDebug, s.debug)
	return advertise(s.auth(mux))
}

// Serve listens and serves until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("%w (if the app uses this port, run `kubectl fastdev up` with another --synclet-port)", err)
	}
	srv := s.httpServer(s.timeouts)
	go func() {
		<-ctx.Done()
		// Close makes Serve return ErrServerClosed; closing the listener has nothing left to report
		_ = srv.Close()
	}()
	s.cfg.Log.Printf("synclet serving %d sync root(s) on %s", len(s.cfg.Roots), s.cfg.Listen)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ConnContext gives each connection of an http.Server serving Handler its handshake state (pkg/auth):
// without it every request is refused. For servers other than Serve's (tests over httptest).
func (s *Server) ConnContext(ctx context.Context, c net.Conn) context.Context {
	return s.gate.ConnContext(ctx, c)
}

// httpServer is the server Serve runs: the handler under tm, each connection with its handshake state.
func (s *Server) httpServer(tm timeouts) *http.Server {
	srv := tm.httpServer(s.Handler())
	srv.ConnContext = s.ConnContext
	return srv
}

// auth checks the protocol version first (so a CLI of another version, whatever it proves, hears that
// it must re-run up: 409), then that the connection proved an authorized key (401). Only the health
// check needs neither: it says the synclet listens, nothing more.
func (s *Server) auth(next http.Handler) http.Handler {
	gated := s.gate.Wrap(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == protocol.PathHealth {
			next.ServeHTTP(w, r)
			return
		}
		if v := r.Header.Get(protocol.VersionHeader); v != protocol.Version {
			http.Error(w, fmt.Sprintf("protocol version %q, this synclet speaks %q: run `kubectl fastdev up` again with a matching kubectl-fastdev to re-inject", v, protocol.Version), http.StatusConflict)
			return
		}
		gated.ServeHTTP(w, r)
	})
}

// acquire takes busy for r, or answers 503 and returns false when r's caller goes away first.
func (s *Server) acquire(w http.ResponseWriter, r *http.Request) bool {
	select {
	case s.busy <- struct{}{}:
		return true
	case <-r.Context().Done():
		// the caller has gone, so nobody reads this; it only ends the request
		http.Error(w, "the synclet is busy with an earlier update (its steps run until they end or reach their timeout)", http.StatusServiceUnavailable)
		return false
	}
}

func (s *Server) release() { <-s.busy }

func (s *Server) manifest(w http.ResponseWriter, r *http.Request) {
	if !s.acquire(w, r) {
		return
	}
	defer s.release()
	var m protocol.Manifest
	for i := range s.cfg.Roots {
		tm, err := s.applier.ScanRoot(i)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		free := freeBytes(s.cfg.Roots[i])
		rm := protocol.RootManifest{Root: i, To: s.cfg.To[i], Free: &free}
		for _, p := range tm.Paths() {
			rm.Entries = append(rm.Entries, tm[p])
		}
		m.Roots = append(m.Roots, rm)
	}
	s.reply(w, "manifest", m)
}

func (s *Server) statusHandler(w http.ResponseWriter, _ *http.Request) {
	s.statusMu.Lock()
	st := s.status
	s.statusMu.Unlock()
	s.reply(w, "status", st)
}

// reply writes v as the JSON answer to a request; a reply the CLI did not get is only worth a log line,
// since the CLI asks again when it needs to.
func (s *Server) reply(w http.ResponseWriter, what string, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.cfg.Log.Printf("%s reply not delivered: %v", what, err)
	}
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	body, ok := s.updateBody(w, r) // encoding.go
	if !ok || !s.acquire(w, r) {
		return
	}
	defer s.release()
	defer s.closeBody(body)
	start := time.Now()
	flush := func() {}
	if f, ok := w.(http.Flusher); ok {
		flush = f.Flush
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	ev := protocol.NewEventWriter(w, flush)
	meta, st, err := s.applier.Apply(body)
	t := protocol.Timings{Files: st.Files + st.Links, Deletes: st.Deletes}
	t.Receive = ms(time.Since(start))
	t.Write = t.Receive
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		s.finish(ev, t, fmt.Errorf("a sync volume is full, the update is only partly written (the next comparison sends the rest once there is room; raise the sync entry's sizeLimit or ignore large files): %w", err), false)
		return
	}
	if err != nil {
		s.finish(ev, t, fmt.Errorf("applying update: %w", err), false)
		return
	}
	ran, queued, err := s.runApps(r.Context(), meta, ev)
	t.Steps, t.Restart = ran.Steps, ran.Restart
	s.finish(ev, t, err, queued)
}

func (s *Server) finish(ev *protocol.EventWriter, t protocol.Timings, err error, queued bool) {
	e := protocol.Event{Type: protocol.EventResult, Timings: &t, Queued: queued}
	for _, dir := range s.cfg.Roots {
		e.Free = append(e.Free, freeBytes(dir))
	}
	s.statusMu.Lock()
	s.status.Updates++
	s.status.LastUpdate = time.Now().UTC().Format(time.RFC3339Nano)
	s.status.LastTimings = t
	s.status.LastError = ""
	if err != nil {
		e.Error = err.Error()
		s.status.LastError = e.Error
	}
	s.statusMu.Unlock()
	if err != nil {
		s.cfg.Log.Printf("update failed: %v", err)
	} else {
		s.cfg.Log.Printf("update applied: %d file(s), %d deletion(s), steps %.0fms, restart %.0fms", t.Files, t.Deletes, t.Steps, t.Restart)
	}
	// the update stands whether or not the CLI hears of it: a CLI that missed the result asks for the
	// manifest again when it reconnects
	if err := ev.Write(e); err != nil {
		s.cfg.Log.Printf("update result not delivered to the CLI: %v", err)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
