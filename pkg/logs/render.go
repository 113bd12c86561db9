package logs

import (
	"fmt"
	"hash/fnv"
	"io"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// Theme styles rendered items. Colour is decided by the caller (a terminal, no --no-color).
type Theme struct {
	color                        bool
	err, warn, dim, local, title lipgloss.Style
	pods                         []lipgloss.Style
}

// NewTheme returns the styles for w: ANSI colours when color is set, plain text otherwise.
func NewTheme(w io.Writer, color bool) *Theme {
	r := lipgloss.NewRenderer(w)
	if color {
		r.SetColorProfile(termenv.ANSI)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	t := &Theme{color: color,
		err:   r.NewStyle().Foreground(lipgloss.Color("9")).Bold(true),
		warn:  r.NewStyle().Foreground(lipgloss.Color("11")).Bold(true),
		dim:   r.NewStyle().Foreground(lipgloss.Color("8")),
		local: r.NewStyle().Foreground(lipgloss.Color("14")),
		title: r.NewStyle().Bold(true),
	}
	for _, c := range []string{"2", "4", "5", "6", "3", "12", "13", "10"} {
		t.pods = append(t.pods, r.NewStyle().Foreground(lipgloss.Color(c)))
	}
	return t
}

// Titles names each error type for people.
var Titles = map[string]string{
	TypeGoPanic: "Go panic", TypeGoStack: "Go goroutine dump", TypeGoBuild: "Go build error",
	TypePython: "Python traceback", TypeJava: "Java exception", TypeNode: "Node.js error", TypeStep: "failed step",
}

// Render writes one item as the text `logs` prints: a plain line prefixed with its pod and container,
// or a header naming what happened and where (×N when several pods reported it) and the block
// below it, each line that names a synced file followed by the local file.
func (t *Theme) Render(w io.Writer, it Item) error {
	if it.Kind == KindLog {
		_, err := fmt.Fprintf(w, "%s %s %s\n", t.podStyle(it.Pod).Render(it.Pod+"/"+it.Container), t.dim.Render("|"), it.Text)
		return err
	}
	var b strings.Builder
	b.WriteString(t.Header(it))
	lines := strings.Split(it.Text, "\n")
	if it.Kind == KindError || len(lines) > 1 {
		b.WriteString("\n")
		for i, l := range lines {
			b.WriteString("    " + l)
			for _, loc := range it.Locations {
				if loc.Line == i {
					b.WriteString("  " + t.local.Render("→ "+loc.Local))
				}
			}
			b.WriteString("\n")
		}
	} else {
		b.WriteString(": " + it.Text + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Header is the first line of a non-plain item: time, what, ×N and where.
func (t *Theme) Header(it Item) string {
	icon, style := "✖", t.err
	title := it.Type
	switch it.Kind {
	case KindError:
		if s, ok := Titles[it.Type]; ok {
			title = s
		}
	case KindExit:
		title = "container exited"
		if it.Type == TypeAppExit {
			title = "app exited" // and restarted by the supervisor: the container kept running
		}
	case KindEvent, KindWaiting:
		icon, style = "⚠", t.warn
	}
	var b strings.Builder
	if !it.Time.IsZero() {
		b.WriteString(t.dim.Render(it.Time.Local().Format("15:04:05")) + " ")
	}
	b.WriteString(style.Render(icon + " " + title))
	if n := it.Count(); n > 1 {
		b.WriteString(style.Render(fmt.Sprintf(" ×%d", n)))
	}
	b.WriteString(" in " + t.Who(it))
	return b.String()
}

// Who names where an item comes from: pod/container, or the pods and the container when several.
func (t *Theme) Who(it Item) string {
	if it.Count() == 1 {
		if it.Container == "" { // an event about the whole pod
			return t.podStyle(it.Pod).Render(it.Pod)
		}
		return t.podStyle(it.Pod).Render(it.Pod + "/" + it.Container)
	}
	var pods []string
	for _, p := range it.Pods {
		pods = append(pods, t.podStyle(p).Render(p))
	}
	if it.Container == "" {
		return strings.Join(pods, ", ")
	}
	return strings.Join(pods, ", ") + " (" + it.Container + ")"
}

func (t *Theme) podStyle(pod string) lipgloss.Style {
	h := fnv.New32a()
	h.Write([]byte(pod))
	return t.pods[h.Sum32()%uint32(len(t.pods))]
}
