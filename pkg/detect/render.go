package detect

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// commentColumn caps where the reasons start, so one long value does not push them all far right.
const commentColumn = 44

// YAML renders the proposal: valid rules YAML (once every placeholder is replaced), each guessed
// value with a comment saying why.
func (p *Proposal) YAML() string {
	width := 0
	for _, l := range p.lines {
		if n := l.indent + len(l.text); l.why != "" && n > width {
			width = n
		}
	}
	width = min(width, commentColumn)
	var b strings.Builder
	for _, l := range p.lines {
		text := strings.Repeat(" ", l.indent) + l.text
		b.WriteString(text)
		if l.why != "" {
			b.WriteString(strings.Repeat(" ", max(width-len(text), 0)) + "  # " + l.why)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// plain matches the strings written without quotes: no YAML indicator, no ": " or " #".
var plain = regexp.MustCompile(`^[A-Za-z0-9_./][A-Za-z0-9_./ =+@-]*$`)

// keywords are plain scalars YAML reads as something other than a string.
var keywords = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true, "null": true, "~": true}

// scalar writes s as a YAML string: plain when it reads back as that string, else double-quoted.
func scalar(s string) string {
	_, numErr := strconv.ParseFloat(s, 64)
	if plain.MatchString(s) && !strings.HasSuffix(s, " ") && numErr != nil && !keywords[strings.ToLower(s)] {
		return s
	}
	return quote(s)
}

// quote writes s double-quoted; a JSON string is a valid YAML double-quoted scalar.
func quote(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)              // keep init's "<placeholder>" readable
	if err := enc.Encode(s); err != nil { // a Go string always encodes; keep a readable fallback all the same
		return strconv.Quote(s)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// flowList writes items as a YAML flow list of double-quoted strings.
func flowList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
