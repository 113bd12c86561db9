package web

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

// contentSecurity allows the page its own files and its own event stream, nothing else: no inline
// script, no other origin, no framing.
const contentSecurity = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// refusal is the text of a request without the token or its cookie.
const refusal = "forbidden: open the URL `kubectl fastdev up` printed (it carries the token for this session)\n"

// guard refuses what is not a read by the page of this session: other methods, a Host that is not
// this loopback address (a DNS rebinding attack names its own), a request another site started, a
// request without the session's token or cookie. The token in the URL is exchanged for a cookie and
// taken out of the address bar.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurity)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		switch {
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			http.Error(w, "method not allowed: the web view only reads", http.StatusMethodNotAllowed)
			return
		case !s.hosts[strings.ToLower(r.Host)]:
			http.Error(w, fmt.Sprintf("forbidden: host %q is not this web view's address: open the URL `kubectl fastdev up` printed", r.Host), http.StatusForbidden)
			return
		case !s.sameSite(r):
			http.Error(w, "forbidden: a request from another site", http.StatusForbidden)
			return
		}
		if r.URL.Query().Has("token") {
			s.exchange(w, r)
			return
		}
		if c, err := r.Cookie(s.cookie); err != nil || !s.valid(c.Value) {
			http.Error(w, refusal, http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameSite reports whether the browser says the request comes from the page itself or from the user
// (a typed or pasted URL). Clients that send neither header (curl) pass on to the token check.
func (s *Server) sameSite(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		host, ok := strings.CutPrefix(o, "http://")
		return ok && s.hosts[strings.ToLower(host)]
	}
	return true
}

// exchange sets the session cookie for a request with the right token and sends the browser to the
// page without it, so the token leaves the address bar and the history.
func (s *Server) exchange(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" || !s.valid(r.URL.Query().Get("token")) {
		http.Error(w, refusal, http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: s.token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) valid(token string) bool {
	return subtle.ConstantTimeCompare([]byte(token), []byte(s.token)) == 1
}

// page serves the page itself.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(s.static, "index.html")
	if err != nil {
		http.Error(w, "the page is missing from this build: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if _, err := w.Write(b); err != nil {
		return // the browser went away; nothing to tell it
	}
}

// state answers the model's state once, as JSON.
func (s *Server) state(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(s.model.Snapshot()); err != nil {
		return // the browser went away
	}
}

// events streams the model's state as server-sent events: at once, then after each change (at most
// one every s.every, so a burst of changes is one send), with a comment every 15 s that keeps idle
// proxies and the browser's connection check content.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	changed, stop := s.model.Subscribe()
	defer stop()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	sent := ^uint64(0)
	for {
		st := s.model.Snapshot()
		if st.Seq != sent {
			b, err := json.Marshal(st)
			if err != nil {
				return // the state is plain data: this does not happen
			}
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil || rc.Flush() != nil {
				return // the page went away
			}
			sent = st.Seq
		}
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil || rc.Flush() != nil {
				return
			}
			continue
		case <-changed:
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(s.every):
		}
	}
}
