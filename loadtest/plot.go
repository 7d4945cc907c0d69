package loadtest

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sort"

	"github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Plot draws the run's latency to a PNG, on log latency axes: over time (p50, p99 and max of
// each second, by intended send time) above, and its distribution (latency at each percentile)
// of each part of the scenario and of all requests below.
func (r *Report) Plot(path string) error {
	if r.total == nil {
		return errors.New("plot: the report has no latency data")
	}
	overTime, dist, _, err := r.plots()
	if err != nil {
		return err
	}
	const w, h = 24 * vg.Centimeter, 20 * vg.Centimeter
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadX: vg.Millimeter, PadY: vg.Millimeter * 3}
	canvases := plot.Align([][]*plot.Plot{{overTime}, {dist}}, tiles, dc)
	overTime.Draw(canvases[0][0])
	dist.Draw(canvases[1][0])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// minPlotMs is the floor of the log latency axes (a log axis has no 0).
const minPlotMs = 0.01

// plots draws the latency over time (p50, p99, max of every second) and the distribution of each
// part of the scenario and of the total, both on log latency axes: most requests take ~1 ms
// and a designed plateau (the borderline re-test's 1 s) takes a thousand times more; on linear
// axes the first lay flat on the floor and the second read as a fault (issue 18).
// series names the distribution's curves, in legend order.
func (r *Report) plots() (overTime, dist *plot.Plot, series []string, err error) {
	r.total.mu.Lock()
	defer r.total.mu.Unlock()
	ms := func(v int64) float64 { return max(float64(v)/1000, minPlotMs) }
	logAxis := func(p *plot.Plot) {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Label.Text = "ms (log)"
	}

	overTime = plot.New()
	overTime.Title.Text = fmt.Sprintf("%s against %s: latency over time (from intended send times)", r.Scenario, r.Target)
	overTime.X.Label.Text = "second of the run"
	logAxis(overTime)
	quantiles := map[string]plotter.XYs{}
	for s, h := range r.total.perSecond {
		if h.TotalCount() == 0 {
			continue
		}
		x := float64(s)
		quantiles["p50"] = append(quantiles["p50"], plotter.XY{X: x, Y: ms(h.ValueAtQuantile(50))})
		quantiles["p99"] = append(quantiles["p99"], plotter.XY{X: x, Y: ms(h.ValueAtQuantile(99))})
		quantiles["max"] = append(quantiles["max"], plotter.XY{X: x, Y: ms(h.Max())})
	}
	for i, name := range []string{"p50", "p99", "max"} {
		if len(quantiles[name]) == 0 {
			continue
		}
		l, err := plotter.NewLine(quantiles[name])
		if err != nil {
			return nil, nil, nil, err
		}
		l.Color = plotutil.Color(i)
		l.Dashes = [][]vg.Length{nil, {vg.Points(4), vg.Points(2)}, {vg.Points(1), vg.Points(2)}}[i]
		overTime.Add(l)
		overTime.Legend.Add("all requests, "+name, l)
	}
	overTime.Legend.Top = true

	dist = plot.New()
	dist.Title.Text = "latency distribution, by part of the scenario"
	dist.X.Label.Text = "percentile (tail stretched: each step is one more nine)"
	logAxis(dist)
	// x = log10(100 / (100 - q)): 0 at p0, 1 at p90, 2 at p99, 3 at p99.9.
	nines := func(q float64) float64 { return math.Log10(100 / (100 - q)) }
	dist.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0%"}, {Value: nines(50), Label: "50%"},
		{Value: 1, Label: "90%"}, {Value: 2, Label: "99%"}, {Value: 3, Label: "99.9%"}, {Value: 4, Label: "99.99%"}})
	curve := func(h *hdrhistogram.Histogram) plotter.XYs {
		var pts plotter.XYs
		for _, q := range []float64{0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99} {
			pts = append(pts, plotter.XY{X: nines(q), Y: ms(h.ValueAtQuantile(q))})
		}
		return pts
	}
	names := make([]string, 0, len(r.parts))
	for n := range r.parts {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 1 {
		for i, n := range names {
			p := r.parts[n]
			p.mu.Lock()
			pts := curve(p.hist)
			p.mu.Unlock()
			l, err := plotter.NewLine(pts)
			if err != nil {
				return nil, nil, nil, err
			}
			l.Color = plotutil.Color(i)
			l.Dashes = plotutil.Dashes(i / len(plotutil.DefaultColors))
			dist.Add(l)
			dist.Legend.Add(n, l)
			series = append(series, n)
		}
	}
	l, dots, err := plotter.NewLinePoints(curve(r.total.hist))
	if err != nil {
		return nil, nil, nil, err
	}
	l.Width = vg.Points(2)
	dist.Add(l, dots)
	dist.Legend.Add("all requests", l)
	dist.Legend.Top, dist.Legend.Left = true, true
	return overTime, dist, append(series, "all requests"), nil
}
