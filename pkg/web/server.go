// Package web is the web view of `kubectl fastdev up`: one page, served on loopback, kept live with
// server-sent events from the shared model (pkg/events). Its assets are embedded (plain HTML, CSS and
// JavaScript: no build chain, no external requests). It only reads: nothing on the page changes the
// cluster. It is guarded against other sites and other hosts: a loopback bind, a Host header check
// (DNS rebinding), Origin and Sec-Fetch-Site checks (cross-site requests), and a random token in the
// printed URL, exchanged for an HttpOnly SameSite=Strict cookie on the first visit.
package web

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/events"
)

//go:embed assets
var assets embed.FS

// DefaultAddress is where the view listens unless --web names another address: loopback, a free port.
const DefaultAddress = "127.0.0.1:0"

// Server serves the web view of one model.
type Server struct {
	model  *events.Model
	token  string
	cookie string // the cookie's name, per port: browsers share cookies across a host's ports
	hosts  map[string]bool
	static fs.FS
	ln     net.Listener
	srv    *http.Server
	// every is the least time between two states sent to a page (a burst of changes is one send).
	every time.Duration
}

// Listen listens on addr, which must be a loopback address (127.0.0.1, ::1 or localhost, any port),
// and returns a server of m's view; Serve serves it.
func Listen(addr string, m *events.Model) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--web %s: want HOST:PORT on loopback, such as %s: %w", addr, DefaultAddress, err)
	}
	if !loopback(host) {
		return nil, fmt.Errorf("--web %s: the web view listens on loopback only (127.0.0.1, ::1 or localhost): use --web 127.0.0.1:PORT", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--web %s: %w (pick another port, or --web=false to turn the view off)", addr, err)
	}
	s, err := newServer(ln, m)
	if err != nil {
		_ = ln.Close() // the listener was never used; the token's error is the one to report
		return nil, err
	}
	return s, nil
}

func newServer(ln net.Listener, m *events.Model) (*Server, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("making the web view's token: %w", err)
	}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, fmt.Errorf("reading the web view's embedded assets: %w", err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	s := &Server{model: m, token: hex.EncodeToString(b), cookie: "fastdev_web_" + port, static: static, ln: ln, every: 100 * time.Millisecond,
		hosts: map[string]bool{"127.0.0.1:" + port: true, "localhost:" + port: true, "[::1]:" + port: true}}
	// no WriteTimeout: the event stream stays open as long as the page does
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	return s, nil
}

// loopback reports whether host names the loopback interface.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// URL is the address to open, token included. Only the developer who started `up` sees it.
func (s *Server) URL() string {
	return fmt.Sprintf("http://%s/?token=%s", s.ln.Addr().String(), s.token)
}

// Serve serves the view until Close; it returns nil after Close.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving the web view: %w", err)
	}
	return nil
}

// Close stops the server and ends the pages' event streams.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx) // event streams end when their requests' contexts do, below
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	return err
}

// Handler is the view's HTTP handler, every request guarded.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(s.static)))
	mux.HandleFunc("GET /state", s.state)
	mux.HandleFunc("GET /events", s.events)
	return s.guard(mux)
}
