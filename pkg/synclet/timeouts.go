package synclet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// timeouts bound how long the synclet's HTTP server waits on a CLI that stopped talking, so that a
// dropped port-forward cannot keep a handler, and the update lock it holds, forever.
//
// There is deliberately no whole-request read deadline and no write deadline: an update may stream
// gigabytes (up to the archive limits), and its reply, like a step's or a run's output, lasts as long as
// the step does (up to its own timeout). What is bounded is the silence: a request body that delivers
// nothing for bodyIdle fails (the update stops there, its lock is released), and a kept-alive connection
// with no request for idle is closed.
type timeouts struct {
	header   time.Duration // to read a request's headers
	bodyIdle time.Duration // one read of a request body that delivers nothing
	idle     time.Duration // a kept-alive connection between two requests
}

// defaultTimeouts: a live CLI sends a request at least every 10 s (its health check on an idle
// connection), so a connection silent for 2 minutes is dead; a body silent for a minute is a sender
// that is gone, since the CLI streams from local disk as fast as the port-forward takes it.
var defaultTimeouts = timeouts{header: 10 * time.Second, bodyIdle: time.Minute, idle: 2 * time.Minute}

// httpServer is the server Serve runs, with h and the timeouts.
func (t timeouts) httpServer(h http.Handler) *http.Server {
	return &http.Server{Handler: t.idleBodies(h), ReadHeaderTimeout: t.header, IdleTimeout: t.idle}
}

// idleBodies gives every request body of h a deadline per read (t.bodyIdle), set on the connection
// just before each read and cleared right after it: the time a handler spends between reads (writing
// files, running steps) is not the sender's silence. What the handler left unread the server discards
// after it: that is bounded too, so a silent sender cannot hold the connection there either.
func (t timeouts) idleBodies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		b := &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: t.bodyIdle}
		r.Body = b
		h.ServeHTTP(w, r)
		if !b.done {
			// no deadline means no connection to set it on (a test's recorder): nothing to bound
			_ = b.rc.SetReadDeadline(time.Now().Add(t.bodyIdle))
		}
	})
}

// idleBody is a request body whose every read must deliver within idle.
type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	done bool // the body ended or failed: its deadline is settled
}

func (b *idleBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	if err := b.rc.SetReadDeadline(time.Now().Add(b.idle)); err != nil {
		// a writer without a connection (httptest.ResponseRecorder): there is no silence to bound
		return b.ReadCloser.Read(p)
	}
	n, err := b.ReadCloser.Read(p)
	// setting a deadline cannot fail where it just succeeded (the same connection, open while its
	// handler runs), hence the errors ignored below
	switch {
	case err == nil || errors.Is(err, io.EOF):
		b.done = err != nil
		_ = b.rc.SetReadDeadline(time.Time{})
	default:
		// a silent or broken sender: every later read fails at once, so the server does not wait on
		// it again to discard the rest of the body
		b.done = true
		_ = b.rc.SetReadDeadline(time.Now())
		if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
			err = fmt.Errorf("the sender sent nothing for %s (its port-forward dropped; the CLI reconnects and compares again): %w", b.idle, err)
		}
	}
	return n, err
}
