// Package dap is the debug adapter relay of `up --debug`: it holds the IDE's Debug Adapter Protocol
// session on a stable local port and relays it to the Delve that runs the app in the pod. When the
// app restarts (an edit was rebuilt), Delve's connection ends; the relay connects to the new Delve,
// replays the IDE's initialize and attach, re-applies its breakpoints (lines moved by the edit follow
// their text), and tells the IDE with the events it expects (`continued`, `breakpoint` changed,
// `output`), never `terminated`: the IDE's session stays open across rebuilds.
//
// Messages pass through as raw JSON; only the sequence numbers, breakpoint ids and the requests the
// relay replays are read, with github.com/google/go-dap's types.
package dap

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	godap "github.com/google/go-dap"
)

// header is what the relay reads of every message.
type header struct {
	Seq        int    `json:"seq"`
	Type       string `json:"type"`
	Command    string `json:"command,omitempty"`
	Event      string `json:"event,omitempty"`
	RequestSeq int    `json:"request_seq,omitempty"`
	Success    bool   `json:"success,omitempty"`
	Message    string `json:"message,omitempty"`
}

// message is one DAP message: its header and its raw JSON.
type message struct {
	header
	raw []byte
}

// readMessage reads one message from r.
func readMessage(r *bufio.Reader) (*message, error) {
	raw, err := godap.ReadBaseMessage(r)
	if err != nil {
		return nil, err
	}
	m := &message{raw: raw}
	if err := json.Unmarshal(raw, &m.header); err != nil {
		return nil, fmt.Errorf("reading a DAP message: %w", err)
	}
	return m, nil
}

// field decodes one top-level field of the message (arguments, body) into v.
func (m *message) field(name string, v any) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(m.raw, &all); err != nil {
		return err
	}
	raw, ok := all[name]
	if !ok {
		return nil
	}
	return json.Unmarshal(raw, v)
}

// with returns the message's JSON with the given top-level fields replaced (or added; a nil value
// removes the field).
func (m *message) with(fields map[string]any) ([]byte, error) {
	var all map[string]any
	dec := json.NewDecoder(bytes.NewReader(m.raw))
	dec.UseNumber() // ids and numbers pass through unchanged
	if err := dec.Decode(&all); err != nil {
		return nil, err
	}
	for k, v := range fields {
		if v == nil {
			delete(all, k)
			continue
		}
		all[k] = v
	}
	return json.Marshal(all)
}

// conn is one side of the relay: DAP messages read from and written to a connection, writes serialized.
type conn struct {
	rwc io.ReadWriteCloser
	r   *bufio.Reader
	mu  sync.Mutex // one message written at a time
	seq int        // the last seq this side was sent by the relay
}

func newConn(rwc io.ReadWriteCloser) *conn {
	return &conn{rwc: rwc, r: bufio.NewReader(rwc)}
}

// send writes m with the next seq of this side and the given other fields; register, when not nil,
// runs with that seq before the message leaves, so a response to it is never missed.
func (c *conn) send(m *message, fields map[string]any, register func(seq int)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	if register != nil {
		register(c.seq)
	}
	f := map[string]any{"seq": c.seq}
	for k, v := range fields {
		f[k] = v
	}
	raw, err := m.with(f)
	if err != nil {
		return err
	}
	return godap.WriteBaseMessage(c.rwc, raw)
}

// event sends the IDE an event the relay makes up.
func (c *conn) event(name string, body any) error {
	ev := struct {
		godap.Event
		Body any `json:"body,omitempty"`
	}{Event: godap.Event{ProtocolMessage: godap.ProtocolMessage{Type: "event"}, Event: name}, Body: body}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	ev.Seq = c.seq
	raw, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return godap.WriteBaseMessage(c.rwc, raw)
}

// request writes a request the relay makes up (a replay), with the next seq; register runs with the seq before the request leaves, so its response is never missed.
func (c *conn) request(command string, args json.RawMessage, register func(seq int)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	register(c.seq)
	raw, err := json.Marshal(map[string]any{"seq": c.seq, "type": "request", "command": command, "arguments": args})
	if err != nil {
		return err
	}
	return godap.WriteBaseMessage(c.rwc, raw)
}
