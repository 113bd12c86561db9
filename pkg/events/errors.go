package events

import (
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
)

// Error is one error block of the console, as `logs --errors` shows it: a header naming what happened
// and where (×N across replicas), the block's lines, and each synced file a line names as a link.
type Error struct {
	ID int `json:"id"`
	// Kind is the item's kind (error, exit, waiting) and Type its type ("go-build", "OOMKilled").
	Kind      string    `json:"kind"`
	Type      string    `json:"type"`
	Header    string    `json:"header"`
	Pods      []string  `json:"pods"`
	Container string    `json:"container"`
	Time      time.Time `json:"time"`
	Lines     []Line    `json:"lines"`
	item      logs.Item // for the header when pods leave it
}

// Line is one line of an error block and the local files it names.
type Line struct {
	Text  string `json:"text"`
	Links []Link `json:"links"`
}

// Link is a local file:line an error names: the path as `logs` prints it, the absolute path to copy,
// and a URL the editor opens (VS Code's vscode://file/PATH:LINE[:COL]).
type Link struct {
	Local string `json:"local"`
	Abs   string `json:"abs"`
	Href  string `json:"href"`
}

// plainTheme renders headers as `logs --errors` prints them without colour.
var plainTheme = logs.NewTheme(io.Discard, false)

// Item records an item of the pods' logs: an error block, exit or stuck container goes to the console
// (unless every pod it names has had a successful update since), a Warning event to the recent events.
func (m *Model) Item(it logs.Item) {
	if !it.Kind.IsError() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if it.Kind == logs.KindEvent {
		m.note(LevelEvent, it.Pod+": "+it.Type+": "+it.Text)
		m.changed()
		return
	}
	pods := it.Pods
	if len(pods) == 0 {
		pods = []string{it.Pod}
	}
	var open []string
	for _, name := range pods {
		if p := m.byName(name); p == nil || it.Time.IsZero() || !it.Time.Before(p.okAt) {
			open = append(open, name)
		}
	}
	if len(open) == 0 {
		return // fixed already: the pods took an update after it happened
	}
	m.nextID++
	e := Error{ID: m.nextID, Kind: string(it.Kind), Type: it.Type, Container: it.Container, Time: it.Time,
		Lines: m.lines(it), item: it}
	e.setPods(open)
	m.errors = append(m.errors, e)
	if len(m.errors) > MaxErrors {
		m.errors = m.errors[len(m.errors)-MaxErrors:]
	}
	summary := strings.SplitN(it.Text, "\n", 2)[0]
	for _, name := range open {
		if p := m.byName(name); p != nil {
			p.LastError = summary
		}
	}
	m.changed()
}

// lines splits an item's text into lines with the local files each names.
func (m *Model) lines(it logs.Item) []Line {
	var out []Line
	for i, text := range strings.Split(it.Text, "\n") {
		l := Line{Text: text}
		for _, loc := range it.Locations {
			if loc.Line == i {
				l.Links = append(l.Links, m.link(loc.Local))
			}
		}
		out = append(out, l)
	}
	return out
}

// link makes the links of a local path:line[:col].
func (m *Model) link(local string) Link {
	file, pos := local, ""
	if i := strings.Index(local, ":"); i > 0 {
		file, pos = local[:i], local[i:]
	}
	abs := file
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(m.dir, file)
	}
	abs = filepath.ToSlash(abs)
	u := url.URL{Scheme: "vscode", Host: "file", Path: abs + pos}
	return Link{Local: local, Abs: abs + pos, Href: u.String()}
}

// fixed takes pod out of the error blocks older than t, its successful update; a block no pod is left
// in is gone from the console. m.mu is held.
func (m *Model) fixed(pod string, t time.Time) {
	kept := m.errors[:0]
	for _, e := range m.errors {
		if e.Time.Before(t) {
			var left []string
			for _, p := range e.Pods {
				if p != pod {
					left = append(left, p)
				}
			}
			e.setPods(left)
		}
		if len(e.Pods) > 0 {
			kept = append(kept, e)
		}
	}
	m.errors = kept
}

// setPods sets the pods the block is open for, and its header to name them.
func (e *Error) setPods(pods []string) {
	e.Pods = pods
	it := e.item
	it.Pods = pods
	if len(pods) == 1 {
		it.Pod, it.Pods = pods[0], nil
	}
	e.Header = plainTheme.Header(it)
}

// byName finds a pod by its name alone (pod names are unique in a namespace); m.mu is held.
func (m *Model) byName(name string) *Pod {
	for _, p := range m.pods {
		if p.Name == name {
			return p
		}
	}
	return nil
}
