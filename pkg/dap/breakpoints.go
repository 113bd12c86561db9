package dap

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"

	godap "github.com/google/go-dap"
)

// functionsKey is where the function breakpoints are kept among the sources.
const functionsKey = "\x00functions"

// breakpoints are the IDE's breakpoints as it last set them, and the ids it knows them by. Delve's
// ids start afresh with every build; the IDE's stay, so the relay gives its own and maps Delve's.
type breakpoints struct {
	mu    sync.Mutex
	sets  map[string]*bpSet // by source path, and functionsKey
	order []string          // the order the IDE first set them in
	ids   map[int]int       // Delve's id -> the IDE's
	next  int               // the last IDE id given
}

// bpSet is one setBreakpoints (or setFunctionBreakpoints) request as last sent.
type bpSet struct {
	command string
	args    json.RawMessage
	source  *godap.SetBreakpointsArguments // setBreakpoints only
	texts   []string                       // the text of each breakpoint's line when it was set
	ideIDs  []int                          // the IDE's id of each, as answered
}

func newBreakpoints() breakpoints {
	return breakpoints{sets: map[string]*bpSet{}, ids: map[int]int{}}
}

// record keeps a setBreakpoints or setFunctionBreakpoints request, with the text of each line for a
// later relocation, and returns its key.
func (b *breakpoints) record(m *message, maps []Mapping) (string, error) {
	set := &bpSet{command: m.Command}
	var all struct {
		Arguments json.RawMessage `json:"arguments"`
	}
	if err := json.Unmarshal(m.raw, &all); err != nil {
		return "", fmt.Errorf("reading %s: %w", m.Command, err)
	}
	set.args = all.Arguments
	key := functionsKey
	if m.Command == "setBreakpoints" {
		set.source = &godap.SetBreakpointsArguments{}
		if err := json.Unmarshal(all.Arguments, set.source); err != nil {
			return "", fmt.Errorf("reading setBreakpoints: %w", err)
		}
		key = set.source.Source.Path
		lines := readLines(key, maps)
		for _, bp := range set.source.Breakpoints {
			t, _ := lineText(lines, bp.Line)
			set.texts = append(set.texts, t)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.sets[key]; !ok {
		b.order = append(b.order, key)
	}
	b.sets[key] = set
	return key, nil
}

// readLines returns the lines of the local file a source path names, or nil.
func readLines(p string, maps []Mapping) []string {
	local, ok := localPath(p, maps)
	if !ok {
		return nil
	}
	data, err := os.ReadFile(local)
	if err != nil {
		return nil
	}
	return strings.Split(string(data), "\n")
}

// answered gives the breakpoints of Delve's answer to the IDE's request for key ids of the IDE's,
// and returns the body to send it.
func (b *breakpoints) answered(key string, m *message) (any, error) {
	var body godap.SetBreakpointsResponseBody
	if err := m.field("body", &body); err != nil {
		return nil, fmt.Errorf("reading Delve's %s answer: %w", m.Command, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var ids []int
	for i := range body.Breakpoints {
		bp := &body.Breakpoints[i]
		if bp.Id != 0 {
			b.next++
			b.ids[bp.Id] = b.next
			bp.Id = b.next
		}
		ids = append(ids, bp.Id)
	}
	if set, ok := b.sets[key]; ok {
		set.ideIDs = ids
	}
	return body, nil
}

// stopped returns a stopped event's body in the IDE's breakpoint ids, and its thread.
func (b *breakpoints) stopped(m *message) (any, int, error) {
	var body godap.StoppedEventBody
	if err := m.field("body", &body); err != nil {
		return nil, 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, id := range body.HitBreakpointIds {
		if ide, ok := b.ids[id]; ok {
			body.HitBreakpointIds[i] = ide
		}
	}
	return body, body.ThreadId, nil
}

// event returns a breakpoint event's body in the IDE's ids (a breakpoint new to the relay gets one).
func (b *breakpoints) event(m *message) (any, error) {
	var body godap.BreakpointEventBody
	if err := m.field("body", &body); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if id := body.Breakpoint.Id; id != 0 {
		ide, ok := b.ids[id]
		if !ok {
			b.next++
			ide, b.ids[id] = b.next, b.next
		}
		body.Breakpoint.Id = ide
	}
	return body, nil
}

// asker sends one of the relay's requests to the new Delve and returns its answer.
type asker func(command string, args json.RawMessage) (*message, error)

// replay sets every breakpoint again on a new build: lines whose text moved follow it (relocate),
// Delve's new ids map to the IDE's, and changed is called with each breakpoint as the IDE should now
// see it. It returns how many breakpoints were set.
func (b *breakpoints) replay(ask asker, maps []Mapping, changed func(godap.Breakpoint)) (int, error) {
	b.mu.Lock()
	b.ids = map[int]int{} // the old build's ids are gone with it
	var sets []*bpSet
	for _, k := range b.order {
		sets = append(sets, b.sets[k])
	}
	b.mu.Unlock()
	n := 0
	for _, set := range sets {
		args, err := set.moved(maps)
		if err != nil {
			return n, err
		}
		m, err := ask(set.command, args)
		if err != nil {
			return n, err
		}
		var body godap.SetBreakpointsResponseBody
		if err := m.field("body", &body); err != nil {
			return n, fmt.Errorf("reading Delve's %s answer: %w", set.command, err)
		}
		b.mu.Lock()
		for i, bp := range body.Breakpoints {
			if i >= len(set.ideIDs) || set.ideIDs[i] == 0 {
				continue
			}
			if bp.Id != 0 {
				b.ids[bp.Id] = set.ideIDs[i]
			}
			bp.Id = set.ideIDs[i]
			changed(bp)
		}
		b.mu.Unlock()
		n += len(body.Breakpoints)
	}
	return n, nil
}

// moved returns the set's arguments with each line breakpoint on the line its text is on now in the
// local file, and keeps those lines as the set's own (the next edit moves them from there).
func (set *bpSet) moved(maps []Mapping) (json.RawMessage, error) {
	if set.source == nil {
		return set.args, nil
	}
	lines := readLines(set.source.Source.Path, maps)
	if lines == nil {
		return set.args, nil
	}
	for i := range set.source.Breakpoints {
		if i < len(set.texts) {
			set.source.Breakpoints[i].Line = relocate(lines, set.source.Breakpoints[i].Line, set.texts[i])
		}
	}
	raw, err := json.Marshal(set.source)
	if err != nil {
		return nil, err
	}
	set.args = raw
	return raw, nil
}
