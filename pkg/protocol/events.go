package protocol

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
)

// Event types streamed in reply to an update.
const (
	EventOutput = "output" // a line a step printed
	EventStep   = "step"   // a step finished (ExitCode, Millis)
	EventResult = "result" // the update is done (Timings, Error); always the last event
)

// Event is one line of an update's reply.
type Event struct {
	Type     string  `json:"type"`
	Step     string  `json:"step,omitempty"`
	Line     string  `json:"line,omitempty"`
	ExitCode int     `json:"exitCode,omitempty"`
	Millis   float64 `json:"ms,omitempty"`
	// TimedOut is set on a step event when the step ran into its timeout and was stopped: the timeout,
	// as a Go duration such as "3s".
	TimedOut string   `json:"timedOut,omitempty"`
	Timings  *Timings `json:"timings,omitempty"`
	Error    string   `json:"error,omitempty"`
	// Queued is set when the app container was not running: the steps and restart run when it starts.
	Queued bool `json:"queued,omitempty"`
	// Free is, on a result, the space left on each root's volume after the update (-1: unknown).
	Free []int64 `json:"free,omitempty"`
	// Data is a chunk of a run command's output (EventStdout, EventStderr), as the command wrote it.
	Data []byte `json:"data,omitempty"`
}

// Timings are the in-pod stages of an update, in milliseconds.
type Timings struct {
	Receive float64 `json:"receive"` // reading the request body (transfer)
	Write   float64 `json:"write"`   // writing and deleting files (included in Receive: both stream)
	Steps   float64 `json:"steps"`
	Restart float64 `json:"restart"`
	Files   int     `json:"files"`
	Deletes int     `json:"deletes"`
}

// EventWriter writes events as JSON lines and flushes each so the CLI sees step output as it happens.
// It keeps the first failed write's error for Err, so a producer that carries on when its reader has
// gone (steps keep running) can report the loss once.
type EventWriter struct {
	enc   *json.Encoder
	flush func()
	err   error
}

// NewEventWriter returns a writer over w; flush (may be nil) is called after every event.
func NewEventWriter(w io.Writer, flush func()) *EventWriter {
	if flush == nil {
		flush = func() {}
	}
	return &EventWriter{enc: json.NewEncoder(w), flush: flush}
}

// Write sends one event. The result, always the last event, is not flushed here: the handler returns
// right after it, and the HTTP server then writes it together with the end of the reply, so a reply
// without step output crosses the port-forward as one frame.
func (w *EventWriter) Write(e Event) error {
	if err := w.enc.Encode(e); err != nil {
		if w.err == nil {
			w.err = err
		}
		return err
	}
	if e.Type != EventResult {
		w.flush()
	}
	return nil
}

// Err returns the first failed write's error, or nil while every event was written.
func (w *EventWriter) Err() error { return w.err }

// maxEventLine bounds one event line. The supervisor cuts step output at 64 KiB a line (older ones at
// 1 MiB); JSON escaping and the event's other fields fit in the rest.
const maxEventLine = 4 << 20

// ErrNoResult means a reply ended without its result event.
var ErrNoResult = errors.New("the reply ended without a result event")

// MalformedEventError is a reply line that is not a JSON event. Its message is the decoder's, so
// callers add which reply it was.
type MalformedEventError struct {
	Err error
}

// Error returns the decoder's message.
func (e *MalformedEventError) Error() string { return e.Err.Error() }

// Unwrap returns the decoder's error.
func (e *MalformedEventError) Unwrap() error { return e.Err }

// ReadEvents reads the newline-delimited events of a reply written by an EventWriter, passes each one
// before the result to fn (which may be nil), and returns the result. It fails with a
// *MalformedEventError on a line that does not decode, with ErrNoResult when r ends first, and with
// r's own error (or bufio.ErrTooLong) when reading fails.
func ReadEvents(r io.Reader, fn func(Event)) (*Event, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxEventLine)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, &MalformedEventError{Err: err}
		}
		if e.Type == EventResult {
			return &e, nil
		}
		if fn != nil {
			fn(e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, ErrNoResult
}
