package main

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// logBase is where the latency chart's bars start: its axis is log10(ms / 10).
const logBase = 10.0

// logTicks labels the latency chart's log axis in milliseconds and seconds.
type logTicks struct{}

func (logTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(min); e <= math.Ceil(max); e++ {
		ms := logBase * math.Pow(10, e)
		label := fmt.Sprintf("%.0f ms", ms)
		if ms >= 1000 {
			label = fmt.Sprintf("%.0f s", ms/1000)
		}
		ts = append(ts, plot.Tick{Value: e, Label: label})
		for k := 2.0; k < 10 && e < math.Ceil(max); k++ {
			ts = append(ts, plot.Tick{Value: e + math.Log10(k)})
		}
	}
	return ts
}

func logMs(d time.Duration) float64 {
	ms := float64(d) / float64(time.Millisecond)
	return math.Max(0, math.Log10(ms/logBase))
}

// writeCharts draws docs/bench-latency.png (p50 and p95 of every latency series, local and behind the
// simulated remote link) and docs/bench-stages.png (kubectl-fastdev's stage split), returning the
// file names written.
func writeCharts(r *report, dir string) ([]string, error) {
	var names []string
	if len(r.latency) > 0 {
		if err := latencyChart(r, filepath.Join(dir, "bench-latency.png")); err != nil {
			return names, err
		}
		names = append(names, "bench-latency.png")
	}
	var rows []*result
	for _, x := range []*result{r.find(r.latency, idSync), r.find(r.latency, idRestart), r.find(r.latency, idGo),
		r.find(r.remote, idSync), r.find(r.remote, idRestart), r.find(r.remote, idGo)} {
		if x != nil && x.err == nil && len(x.stages) > 0 {
			rows = append(rows, x)
		}
	}
	if len(rows) > 0 {
		if err := stagesChart(r, rows, filepath.Join(dir, "bench-stages.png")); err != nil {
			return names, err
		}
		names = append(names, "bench-stages.png")
	}
	return names, nil
}

var (
	blue   = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	orange = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	green  = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	red    = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	purple = color.RGBA{R: 148, G: 103, B: 189, A: 255}
	brown  = color.RGBA{R: 140, G: 86, B: 75, A: 255}
	pink   = color.RGBA{R: 227, G: 119, B: 194, A: 255}
	grey   = color.RGBA{R: 127, G: 127, B: 127, A: 255}
)

func latencyChart(r *report, file string) error {
	p := plot.New()
	p.Title.Text = "Edit -> new response served (shorter is better; log scale)"
	p.X.Tick.Marker = logTicks{}
	p.X.Label.Text = "edit -> served"
	var labels []string
	type set struct {
		name  string
		rs    []*result
		pct   float64
		color color.Color
	}
	sets := []set{{"local p50", r.latency, 50, blue}, {"local p95 (30+ edits)", r.latency, 95, orange}}
	if len(r.remote) > 0 {
		sets = append(sets, set{"simulated remote p50", r.remote, 50, green})
	}
	ids := r.latency
	w := vg.Points(7)
	for i, s := range sets {
		vals := make(plotter.Values, len(ids))
		for j, x := range ids {
			if y := r.find(s.rs, x.id); y != nil && len(y.lat) > 0 && (s.pct < 95 || len(y.lat) >= minP95) {
				vals[j] = logMs(percentile(y.lat, s.pct))
			}
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.Horizontal = true
		bars.Color = s.color
		bars.LineStyle.Width = 0
		bars.Offset = w * vg.Length(float64(i)-float64(len(sets)-1)/2)
		p.Add(bars)
		p.Legend.Add(s.name, bars)
	}
	for _, x := range ids {
		labels = append(labels, x.id)
	}
	p.NominalY(labels...)
	p.Legend.Top = false // bottom right, next to kubectl-fastdev's short bars
	p.Legend.Left = false
	p.X.Min = 0
	p.X.Max = math.Ceil(p.X.Max*4) / 4
	p.Add(plotter.NewGrid())
	return p.Save(22*vg.Centimeter, vg.Length(len(ids))*vg.Points(7*float64(len(sets))+8)+4*vg.Centimeter, file)
}

func stagesChart(r *report, rows []*result, file string) error {
	p := plot.New()
	p.Title.Text = "kubectl-fastdev: where an edit's time goes (mean, ms)"
	p.X.Label.Text = "ms"
	names := []string{"detect", "quiet", "plan", "transfer", "write", "steps", "restart", "first response"}
	colors := []color.Color{grey, orange, pink, blue, brown, purple, red, green}
	var labels []string
	for _, x := range rows {
		label := x.id
		if r.find(r.remote, x.id) == x {
			label += " (remote)"
		}
		labels = append(labels, label)
	}
	w := vg.Points(14)
	var prev *plotter.BarChart
	for k, name := range names {
		vals := make(plotter.Values, len(rows))
		for j, x := range rows {
			s := meanStages(x.stages)
			v := []time.Duration{s.detect, s.quiet, s.plan, s.transfer, s.write, s.steps, s.restart, s.response}[k]
			vals[j] = math.Max(0, float64(v)/float64(time.Millisecond))
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.Horizontal = true
		bars.Color = colors[k]
		bars.LineStyle.Width = 0
		if prev != nil {
			bars.StackOn(prev)
		}
		prev = bars
		p.Add(bars)
		p.Legend.Add(name, bars)
	}
	p.NominalY(labels...)
	p.Legend.Top = true
	p.X.Min = 0
	p.Add(plotter.NewGrid())
	return p.Save(22*vg.Centimeter, vg.Length(len(rows))*vg.Points(22)+5*vg.Centimeter, file)
}
