package logs

import (
	"regexp"
	"sort"
	"strings"
	"time"
)

// Grouper shows an error that several replicas report as one item with the list of pods. An error
// item is held for Window after it is first seen, collecting the same error from other pods; plain
// lines pass straight through. "The same" ignores what differs between replicas and runs: pod names,
// addresses, goroutine numbers, pointers, timestamps (see Key).
//
// A Window of zero holds every error until Flush: for a finished log read all at once.
type Grouper struct {
	Window time.Duration

	open  map[string]*group
	order []*group
}

type group struct {
	key  string
	item Item
	due  time.Time
	pods map[string]bool
}

// Add takes one item seen at now and returns what is ready to show: a plain line at once, errors later.
func (g *Grouper) Add(it Item, now time.Time) []Item {
	if !it.Kind.IsError() {
		return []Item{it}
	}
	if g.open == nil {
		g.open = map[string]*group{}
	}
	key := Key(it)
	if gr, ok := g.open[key]; ok {
		gr.pods[it.Pod] = true
		if it.Time.Before(gr.item.Time) {
			gr.item.Time = it.Time
		}
		return nil
	}
	gr := &group{key: key, item: it, due: now.Add(g.Window), pods: map[string]bool{it.Pod: true}}
	g.open[key] = gr
	g.order = append(g.order, gr)
	return nil
}

// Due returns the groups whose window ended by now, in the order they were first seen.
func (g *Grouper) Due(now time.Time) []Item {
	if g.Window == 0 {
		return nil
	}
	var out []Item
	keep := g.order[:0]
	for _, gr := range g.order {
		if now.Before(gr.due) {
			keep = append(keep, gr)
			continue
		}
		out = append(out, g.done(gr))
	}
	g.order = keep
	return out
}

// Next returns when the earliest held group is due, and false when nothing is held.
func (g *Grouper) Next() (time.Time, bool) {
	if len(g.order) == 0 || g.Window == 0 {
		return time.Time{}, false
	}
	next := g.order[0].due
	for _, gr := range g.order[1:] {
		if gr.due.Before(next) {
			next = gr.due
		}
	}
	return next, true
}

// Flush returns every held group.
func (g *Grouper) Flush() []Item {
	var out []Item
	for _, gr := range g.order {
		out = append(out, g.done(gr))
	}
	g.order = nil
	return out
}

func (g *Grouper) done(gr *group) Item {
	delete(g.open, gr.key)
	it := gr.item
	it.Pods = make([]string, 0, len(gr.pods))
	for p := range gr.pods {
		it.Pods = append(it.Pods, p)
	}
	sort.Strings(it.Pods)
	return it
}

var normalizers = []struct {
	re   *regexp.Regexp
	with string
}{
	{reLogPrefixLine, ""},
	{regexp.MustCompile(`0x[0-9a-fA-F]+`), "0x?"},
	{regexp.MustCompile(`goroutine \d+`), "goroutine ?"},
	{regexp.MustCompile(`, \d+ minutes?\]`), "]"},
	{regexp.MustCompile(`\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`), "<uid>"},
	{regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(:\d+)?\b`), "<ip>"},
	{regexp.MustCompile(`@[0-9a-f]{5,}\b`), "@?"},
}

var reLogPrefixLine = regexp.MustCompile(`(?m)^\d{4}[/-]\d\d[/-]\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\s+`)

// Key is what two items must share to be shown as one: kind, type, container and the text with the
// pod's name and the details that differ between replicas and runs taken out.
func Key(it Item) string {
	text := it.Text
	if it.Pod != "" {
		text = strings.ReplaceAll(text, it.Pod, "<pod>")
	}
	for _, n := range normalizers {
		text = n.re.ReplaceAllString(text, n.with)
	}
	return string(it.Kind) + "\x00" + it.Type + "\x00" + it.Container + "\x00" + text
}
