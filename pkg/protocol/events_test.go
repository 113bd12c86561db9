package protocol

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestEventWriterFlushesEachEvent: step output is flushed line by line; the result is left to the end
// of the reply, which the HTTP server writes with it.
func TestEventWriterFlushesEachEvent(t *testing.T) {
	var buf bytes.Buffer
	var flushed []int
	w := NewEventWriter(&buf, func() { flushed = append(flushed, buf.Len()) })
	for _, e := range []Event{{Type: EventOutput, Step: "make", Line: "ok"}, {Type: EventResult, Error: "x"}} {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 || len(flushed) != 1 || flushed[0] != len(lines[0])+1 {
		t.Fatalf("events not written and flushed one line at a time: %q, flushes at %v", buf.String(), flushed)
	}
	var e Event
	if err := json.Unmarshal([]byte(lines[1]), &e); err != nil || e.Type != EventResult || e.Error != "x" {
		t.Fatalf("second line %q decodes to %+v, %v", lines[1], e, err)
	}
}

// TestEventWriterKeepsFirstError: a producer that carries on after its reader left can say why, once.
func TestEventWriterKeepsFirstError(t *testing.T) {
	gone := errors.New("reader gone")
	w := NewEventWriter(writerFunc(func([]byte) (int, error) { return 0, gone }), nil)
	if w.Err() != nil {
		t.Fatalf("Err() = %v before any write", w.Err())
	}
	for i := 0; i < 2; i++ {
		if err := w.Write(Event{Type: EventOutput}); !errors.Is(err, gone) {
			t.Fatalf("write %d: %v, want %v", i, err, gone)
		}
	}
	if !errors.Is(w.Err(), gone) {
		t.Fatalf("Err() = %v, want %v", w.Err(), gone)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// reply encodes events as an EventWriter does, one JSON line each.
func reply(t *testing.T, events ...Event) string {
	t.Helper()
	var buf bytes.Buffer
	w := NewEventWriter(&buf, nil)
	for _, e := range events {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

// outputLine returns an output event whose JSON line, newline included, is exactly n bytes long.
func outputLine(t *testing.T, n int) string {
	t.Helper()
	empty := reply(t, Event{Type: EventOutput, Line: "x"})
	line := reply(t, Event{Type: EventOutput, Line: strings.Repeat("x", n-len(empty)+1)})
	if len(line) != n {
		t.Fatalf("built a line of %d bytes, want %d", len(line), n)
	}
	return line
}

func TestReadEvents(t *testing.T) {
	out := Event{Type: EventOutput, Step: "make", Line: "building"}
	step := Event{Type: EventStep, Step: "make", ExitCode: 2, Millis: 1.5}
	res := Event{Type: EventResult, Timings: &Timings{Steps: 2}, Error: "step failed", Free: []int64{-1, 7}}
	cases := []struct {
		name    string
		body    string
		seen    int    // events passed to fn
		result  string // the result's Error, when a result is expected
		err     error  // errors.Is target
		errText string // or a part of the error's text
	}{
		{name: "events then result", body: reply(t, out, step, res), seen: 2, result: "step failed"},
		{name: "result only", body: reply(t, res), result: "step failed"},
		{name: "nothing after the result is read", body: reply(t, res) + "not json\n", result: "step failed"},
		{name: "no trailing newline", body: strings.TrimSuffix(reply(t, out, res), "\n"), seen: 1, result: "step failed"},
		{name: "line at the size cap", body: outputLine(t, maxEventLine) + reply(t, res), seen: 1, result: "step failed"},
		{name: "line over the size cap", body: outputLine(t, maxEventLine+1) + reply(t, res), err: bufio.ErrTooLong},
		{name: "ends without a result", body: reply(t, out, step), seen: 2, err: ErrNoResult},
		{name: "empty reply", body: "", err: ErrNoResult},
		{name: "malformed line", body: reply(t, out) + "{\"type\": \"output\", \n" + reply(t, res), seen: 1, errText: "unexpected end of JSON input"},
		{name: "wrong field type", body: `{"type":"result","exitCode":"zero"}` + "\n", errText: "exitCode"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var seen []Event
			got, err := ReadEvents(strings.NewReader(c.body), func(e Event) { seen = append(seen, e) })
			if len(seen) != c.seen {
				t.Errorf("fn saw %d event(s), want %d: %+v", len(seen), c.seen, seen)
			}
			switch {
			case c.err != nil:
				if !errors.Is(err, c.err) || got != nil {
					t.Fatalf("got %+v, %v; want error %v", got, err, c.err)
				}
			case c.errText != "":
				var me *MalformedEventError
				if !errors.As(err, &me) || !strings.Contains(err.Error(), c.errText) || got != nil {
					t.Fatalf("got %+v, %v; want a *MalformedEventError containing %q", got, err, c.errText)
				}
			default:
				if err != nil || got == nil || got.Type != EventResult || got.Error != c.result {
					t.Fatalf("got %+v, %v; want the result with error %q", got, err, c.result)
				}
			}
		})
	}
}

func TestReadEventsPassesEventsAndResultIntact(t *testing.T) {
	out := Event{Type: EventOutput, Step: "go build .", Line: "ok \"quoted\" \u00e9"}
	res := Event{Type: EventResult, Timings: &Timings{Receive: 1, Write: 1, Steps: 2, Restart: 3, Files: 4, Deletes: 5}, Queued: true, Free: []int64{9}}
	var seen []Event
	got, err := ReadEvents(strings.NewReader(reply(t, out, res)), func(e Event) { seen = append(seen, e) })
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0].Step != out.Step || seen[0].Line != out.Line {
		t.Fatalf("fn saw %+v, want %+v", seen, out)
	}
	if !got.Queued || *got.Timings != *res.Timings || len(got.Free) != 1 || got.Free[0] != 9 {
		t.Fatalf("result %+v (timings %+v), want %+v", got, got.Timings, res)
	}
	if got, err := ReadEvents(strings.NewReader(reply(t, out, res)), nil); err != nil || got == nil {
		t.Fatalf("with no fn: %+v, %v", got, err)
	}
}

func TestReadEventsReturnsReadErrors(t *testing.T) {
	broken := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader(reply(t, Event{Type: EventOutput})), iotest.ErrReader(broken))
	got, err := ReadEvents(r, nil)
	var me *MalformedEventError
	if got != nil || !errors.Is(err, broken) || errors.As(err, &me) {
		t.Fatalf("got %+v, %v; want the reader's error as is", got, err)
	}
}

func TestMalformedEventErrorUnwraps(t *testing.T) {
	_, err := ReadEvents(strings.NewReader("[1]\n"), nil)
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T) does not unwrap to the decoder's error", err, err)
	}
}
