package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
	"github.com/muesli/termenv"

	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/devloop"
	"github.com/kubectl-fastdev/kubectl-fastdev/pkg/logs"
)

// The messages the view's program receives: from the dev loop (as a Reporter), from the follower
// (pod phases and error items), and its own clock.
type (
	podStateMsg struct {
		dep, pod  string
		connected bool
		err       error
	}
	podGoneMsg struct{ dep, pod string }
	updatedMsg devloop.Update
	noteMsg    string
	phaseMsg   struct {
		dep, pod, phase string
		gone            bool
	}
	itemMsg    logs.Item
	tickMsg    time.Time
	forwardMsg struct {
		dep, url string
		remote   int
	}
)

// row is one pod of one Deployment.
type row struct {
	dep, pod  string
	phase     string
	connected bool
	lastSync  time.Time
	latency   time.Duration
	lastErr   string
	okAt      time.Time // the last update the pod answered without an error
	work      work
	converged bool     // a whole-tree comparison left it equal to the local tree (else it is stale)
	down      *appDown // the app exited on its own and is not started again yet
}

// maxNotes is how many recent messages (watching, warnings, step output) the view keeps.
const maxNotes = 5

// model is the state the view draws.
type model struct {
	title   string
	deps    []string
	rows    map[string]*row // by dep/pod
	newest  *logs.Item      // the newest error block, exit or stuck container
	open    map[string]bool // the pods of newest that have not taken a good update since
	fixed   bool            // an error was shown and fixed
	notes   []string
	fwds    []forwardMsg // the forwards, in the order `up` opened them
	now     time.Time
	width   int
	height  int
	st      styles
	profile termenv.Profile // for the progress bars
	theme   *logs.Theme
	web     string // the web view's URL, "" when it is off
	quit    func()
}

type styles struct {
	title, header, ok, bad, dim lipgloss.Style
}

func (m *model) Init() tea.Cmd { return tick() }

func tick() tea.Cmd { return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) }) }

func (m *model) row(dep, pod string) *row {
	k := dep + "/" + pod
	if m.rows[k] == nil {
		m.rows[k] = &row{dep: dep, pod: pod, phase: "-"}
	}
	return m.rows[k]
}

func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		switch msg.String() {
		case "q", "ctrl+c", "esc":
			m.note("stopping: Ctrl-C or q pressed")
			if m.quit != nil {
				m.quit()
			}
		}
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tickMsg:
		m.now = time.Time(msg)
		return m, tick()
	case podStateMsg:
		r := m.row(msg.dep, msg.pod)
		r.connected = msg.connected
		if msg.err != nil {
			r.lastErr = "disconnected: " + msg.err.Error()
		}
	case podGoneMsg:
		delete(m.rows, msg.dep+"/"+msg.pod)
	case convergedMsg:
		m.row(msg.dep, msg.pod).converged = true
	case phaseMsg:
		if msg.gone {
			delete(m.rows, msg.dep+"/"+msg.pod)
		} else {
			m.row(msg.dep, msg.pod).phase = msg.phase
		}
	case updatedMsg:
		m.updated(devloop.Update(msg), time.Now())
	case forwardMsg:
		m.fwds = append(m.fwds, msg)
	case noteMsg:
		m.note(string(msg))
	case progressMsg:
		m.progressed(msg)
	case stepMsg:
		m.stepped(msg)
	case webMsg:
		m.web = string(msg)
	case itemMsg:
		m.item(logs.Item(msg))
	}
	return m, nil
}

// item takes in an error item from the follower: the newest block, and the last error of its pods.
func (m *model) item(it logs.Item) {
	if it.Kind == logs.KindEvent {
		m.note(fmt.Sprintf("%s: %s: %s", it.Pod, it.Type, it.Text))
		return
	}
	pods := it.Pods
	if len(pods) == 0 {
		pods = []string{it.Pod}
	}
	if m.fixedAlready(it, pods) {
		return
	}
	m.appExited(it, pods)
	m.newest = &it
	m.open = map[string]bool{}
	for _, p := range pods {
		m.open[p] = true
	}
	summary := strings.SplitN(it.Text, "\n", 2)[0]
	for _, r := range m.rows {
		for _, p := range pods {
			if r.pod == p {
				r.lastErr = summary
			}
		}
	}
}

func (m *model) note(s string) {
	m.notes = append(m.notes, s)
	if len(m.notes) > maxNotes {
		m.notes = m.notes[len(m.notes)-maxNotes:]
	}
}

func (m *model) View() string {
	var b strings.Builder
	b.WriteString(m.st.title.Render(m.title) + "\n")
	if m.web != "" {
		b.WriteString(m.st.dim.Render("web view: ") + m.st.ok.Render(m.web) + "\n")
	}
	b.WriteString("\n")
	t := table.New().Border(lipgloss.HiddenBorder()).BorderTop(false).BorderBottom(false).BorderLeft(false).BorderRight(false).
		BorderHeader(false).BorderColumn(false).
		Headers("WORKLOAD", "POD", "PHASE", "CONNECTED", "LAST SYNC", "LATENCY", "LAST ERROR").
		StyleFunc(func(r, c int) lipgloss.Style {
			s := lipgloss.NewStyle().PaddingRight(2)
			if r == table.HeaderRow {
				return s.Inherit(m.st.header)
			}
			return s
		})
	rows := m.sorted()
	for _, d := range m.depNames() {
		empty := true
		for _, r := range rows {
			if r.dep == d {
				t.Row(r.dep, r.pod, m.phaseText(r), m.yesNo(r.connected), m.ago(r.lastSync), dur(r.latency), m.errText(r.lastErr))
				empty = false
			}
		}
		if empty {
			t.Row(d, "(no pods yet)", "-", "-", "-", "-", "-")
		}
	}
	b.WriteString(t.Render() + "\n")
	m.longWork(&b)
	m.forwards(&b)
	used := strings.Count(b.String(), "\n")
	var tail strings.Builder
	if len(m.notes) > 0 {
		tail.WriteString("\n" + m.st.header.Render("Recent") + "\n")
		for _, n := range m.notes {
			tail.WriteString("  " + m.st.dim.Render(oneLine(n)) + "\n")
		}
	}
	tail.WriteString(m.st.dim.Render("q or Ctrl-C stops watching; the injection stays until `kubectl fastdev down`"))
	b.WriteString("\n" + m.st.header.Render("Newest error") + "\n")
	if m.newest == nil && m.fixed {
		b.WriteString("  " + m.st.ok.Render("none: the last one was fixed") + "\n")
	} else if m.newest == nil {
		b.WriteString("  " + m.st.ok.Render("none since up started") + "\n")
	} else {
		var blk strings.Builder
		_ = m.theme.Render(&blk, *m.newest) // a strings.Builder does not fail
		// tabs (Go frames) would break the renderer's idea of the line's width
		lines := strings.Split(strings.TrimRight(strings.ReplaceAll(blk.String(), "\t", "    "), "\n"), "\n")
		// the renderer keeps the bottom of a view taller than the screen: cut the block instead
		if room := m.height - used - 2 - strings.Count(tail.String(), "\n") - 1; m.height > 0 && len(lines) > room {
			if room < 2 {
				room = 2
			}
			lines = append(lines[:room-1], m.st.dim.Render(fmt.Sprintf("    ... %d more lines: `kubectl fastdev logs --errors` shows all", len(lines)-room+1)))
		}
		b.WriteString(strings.Join(lines, "\n") + "\n")
	}
	b.WriteString(tail.String())
	return b.String()
}

// forwards draws the forwards `up` keeps open, one URL per line.
func (m *model) forwards(b *strings.Builder) {
	if len(m.fwds) == 0 {
		return
	}
	b.WriteString("\n" + m.st.header.Render("Forwards") + "\n")
	for _, f := range m.fwds {
		fmt.Fprintf(b, "  %s  %s\n", m.st.ok.Render(f.url), m.st.dim.Render(fmt.Sprintf("-> %s port %d", f.dep, f.remote)))
	}
}

func (m *model) sorted() []*row {
	var rows []*row
	for _, r := range m.rows {
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].dep != rows[j].dep {
			return rows[i].dep < rows[j].dep
		}
		return rows[i].pod < rows[j].pod
	})
	return rows
}

// depNames returns the Deployments to show, sorted: the targets and any a pod was reported for.
func (m *model) depNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range m.deps {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, r := range m.rows {
		if !seen[r.dep] {
			seen[r.dep] = true
			out = append(out, r.dep)
		}
	}
	sort.Strings(out)
	return out
}

func (m *model) yesNo(ok bool) string {
	if ok {
		return m.st.ok.Render("yes")
	}
	return m.st.bad.Render("no")
}

func (m *model) ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	now := m.now
	if now.Before(t) {
		now = t
	}
	return now.Sub(t).Truncate(time.Second).String() + " ago"
}

func (m *model) errText(s string) string {
	if s == "" {
		return "-"
	}
	return m.st.bad.Render(truncate(oneLine(s), 80))
}

func dur(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.Round(time.Millisecond).String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
