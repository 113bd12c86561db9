package logs

import (
	"strings"
)

// verdict is what a block's parser says about the next line of the stream.
type verdict int

const (
	// stop: the line is not part of the block; the block ends and the line is looked at afresh.
	stop verdict = iota
	// take: the line is part of the block (and so is every line held before it).
	take
	// hold: the line is part of the block only if a later line is taken (blank lines, the message
	// between a panic's first line and its goroutines); otherwise it is looked at afresh.
	hold
	// last: the line is part of the block and ends it.
	last
)

// parser follows one kind of error block line by line.
type parser interface {
	next(text string) verdict
	// confirmed reports whether what was seen so far is really an error block; an unconfirmed block
	// (an "Error: ..." line not followed by a stack) ends as plain lines.
	confirmed() bool
	// typ is the block's Item.Type.
	typ() string
}

// starters are tried in order on each line outside a block; the first that returns a parser opens one.
var starters = []func(text string) parser{
	startGo,
	startGoBuild,
	startPython,
	startStack,
}

// maxBlockLines bounds one block, so a runaway goroutine dump cannot hold a stream's output forever.
const maxBlockLines = 2000

// Detector turns the lines of one container's log into items. It is not safe for concurrent use:
// each stream owns one. Feed returns what is complete; a block still open waits for its next line,
// so the caller calls Flush when the stream has been quiet for a moment or has ended.
type Detector struct {
	open  parser
	lines []Line // of the open block
	held  []Line // lines the open block may or may not take
	steps steps
}

// NewDetector returns a detector for one stream.
func NewDetector() *Detector { return &Detector{steps: steps{out: map[string][]string{}}} }

// Feed looks at one more line and returns the items it completes, in order.
func (d *Detector) Feed(l Line) []Item {
	var out []Item
	d.feed(l, &out)
	return out
}

// waiter is a parser whose block cannot be complete yet (a Go panic's first lines before its
// goroutines): a quiet stream does not end it, only a line it does not take, or the stream's end.
type waiter interface{ waiting() bool }

// Quiet is Flush for a stream that has been silent for a while: it ends the open block unless the
// block cannot be complete yet. Under load the kubelet can pass a panic's first line on well before
// its goroutines (seen as one replica's panic split into a bare "panic:" and a goroutine dump), so
// such a block waits for its next line.
func (d *Detector) Quiet() []Item {
	if w, ok := d.open.(waiter); ok && w.waiting() {
		return nil
	}
	return d.Flush()
}

// Flush ends the open block, if any, and returns what it held.
func (d *Detector) Flush() []Item {
	var out []Item
	for d.open != nil {
		d.close(&out)
	}
	return out
}

func (d *Detector) feed(l Line, out *[]Item) {
	l.Text = strings.TrimRight(l.Text, "\r")
	if d.open != nil {
		v := stop
		if len(d.lines)+len(d.held) < maxBlockLines {
			v = d.open.next(l.Text)
		}
		switch v {
		case take:
			d.lines = append(append(d.lines, d.held...), l)
			d.held = nil
		case hold:
			d.held = append(d.held, l)
		case last:
			d.lines = append(append(d.lines, d.held...), l)
			d.held = nil
			d.close(out)
		case stop:
			// the lines the block gave back may open another block, which this line may continue
			d.close(out)
			d.feed(l, out)
		}
		return
	}
	if it, ok := d.steps.line(l); ok {
		*out = append(*out, plain(l))
		if it != nil {
			*out = append(*out, *it)
		}
		return
	}
	for _, start := range starters {
		if p := start(l.Text); p != nil {
			d.open, d.lines = p, []Line{l}
			return
		}
	}
	*out = append(*out, plain(l))
}

// close ends the open block: a confirmed one becomes an error item, an unconfirmed one gives its first
// line as a plain line. Every line the block did not keep is then looked at afresh.
func (d *Detector) close(out *[]Item) {
	p, lines, held := d.open, d.lines, d.held
	d.open, d.lines, d.held = nil, nil, nil
	var again []Line
	if p.confirmed() {
		*out = append(*out, block(p.typ(), lines))
	} else {
		*out = append(*out, plain(lines[0]))
		again = lines[1:]
	}
	for _, l := range append(again, held...) {
		d.feed(l, out)
	}
}

func plain(l Line) Item {
	return Item{Kind: KindLog, Pod: l.Pod, Container: l.Container, Time: l.Time, Text: l.Text}
}

func block(typ string, lines []Line) Item {
	texts := make([]string, len(lines))
	for i, l := range lines {
		texts[i] = l.Text
	}
	first := lines[0]
	return Item{Kind: KindError, Type: typ, Pod: first.Pod, Container: first.Container, Time: first.Time, Text: strings.Join(texts, "\n")}
}

// stripLogPrefix removes a leading timestamp as log packages write it ("2006/01/02 15:04:05 ",
// "2006-01-02T15:04:05.000Z "), so a block that starts on a logged line is still recognised.
func stripLogPrefix(s string) string {
	if loc := reLogPrefix.FindStringIndex(s); loc != nil {
		return s[loc[1]:]
	}
	return s
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }

func indented(s string) bool { return s != "" && (s[0] == ' ' || s[0] == '\t') && !blank(s) }
