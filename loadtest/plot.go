package loadtest

import (
	"errors"
	"fmt"
	"image/color"
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
	// The distribution's legend (a line per part, with its counts) gets a column of its own
	// beside it: over the curves it hid them (the mix has a dozen parts).
	const w, h, legendW = 30 * vg.Centimeter, 22 * vg.Centimeter, 9 * vg.Centimeter
	img := vgimg.New(w, h)
	dc := draw.New(img)
	overTime.Draw(draw.Crop(dc, 0, 0, h/2, 0))
	legend := dist.Legend
	dist.Legend = plot.NewLegend()
	dist.Draw(draw.Crop(dc, 0, -legendW, 0, -h/2))
	legend.Top, legend.Left = true, true
	legend.Draw(draw.Crop(dc, w-legendW+vg.Centimeter/2, 0, 0, -h/2-vg.Centimeter))
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
		if supported(h.TotalCount(), 99) { // a second of fewer than 100 requests has no p99 of its own
			quantiles["p99"] = append(quantiles["p99"], plotter.XY{X: x, Y: ms(h.ValueAtQuantile(99))})
		}
		quantiles["max"] = append(quantiles["max"], plotter.XY{X: x, Y: ms(h.Max())})
	}
	for i, name := range []string{"p50", "p99", "max"} {
		if len(quantiles[name]) == 0 {
			continue
		}
		// Points as well as lines: a run of one second has one point per series, no line
		// (found by a review: its panel was empty).
		l, dots, err := plotter.NewLinePoints(quantiles[name])
		if err != nil {
			return nil, nil, nil, err
		}
		l.Color, dots.Color = plotutil.Color(i), plotutil.Color(i)
		dots.Radius = vg.Points(1.5)
		l.Dashes = [][]vg.Length{nil, {vg.Points(4), vg.Points(2)}, {vg.Points(1), vg.Points(2)}}[i]
		overTime.Add(l, dots)
		overTime.Legend.Add("all requests, "+name, l)
	}
	overTime.X.Min = 0
	// Below the top of the panel, where the slow parts' lines run (found by a review: the legend
	// sat on the 1,000 ms lines): between them and the fast requests' line.
	overTime.Legend.Top = true
	overTime.Legend.YOffs = -3 * vg.Centimeter

	dist = plot.New()
	dist.Title.Text = "latency distribution, by part of the scenario"
	dist.X.Label.Text = "percentile (tail stretched: each step is one more nine)"
	logAxis(dist)
	dist.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0%"}, {Value: nines(50), Label: "50%"},
		{Value: 1, Label: "90%"}, {Value: 2, Label: "99%"}, {Value: 3, Label: "99.9%"}, {Value: 4, Label: "99.99%"}})
	curve := func(h *hdrhistogram.Histogram) plotter.XYs { return distribution(h, ms) }
	names := make([]string, 0, len(r.parts))
	for n := range r.parts {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 1 {
		for i, n := range names {
			p := r.parts[n]
			p.mu.Lock()
			pts, label := curve(p.hist), outcomes(n, p)
			p.mu.Unlock()
			if len(pts) == 0 {
				continue // no answer at all: nothing to draw, its counts are in the report
			}
			l, err := plotter.NewLine(pts)
			if err != nil {
				return nil, nil, nil, err
			}
			l.Color = partColors[i%len(partColors)]
			l.Dashes = plotutil.Dashes(i / len(partColors))
			dist.Add(l)
			dist.Legend.Add(label, l)
			series = append(series, label)
		}
	}
	label := outcomes("all requests", r.total)
	if pts := curve(r.total.hist); len(pts) > 0 {
		l, dots, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, nil, nil, err
		}
		l.Width = vg.Points(2)
		dist.Add(l, dots)
		dist.Legend.Add(label, l)
	}
	dist.Legend.Top, dist.Legend.Left = true, true
	return overTime, dist, append(series, label), nil
}

// partColors tell a dozen parts apart (plotutil's seven repeated: two parts read the same red);
// past them the dashes do.
var partColors = []color.Color{
	color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{44, 160, 44, 255}, color.RGBA{214, 39, 40, 255},
	color.RGBA{148, 103, 189, 255}, color.RGBA{140, 86, 75, 255}, color.RGBA{227, 119, 194, 255}, color.RGBA{127, 127, 127, 255},
	color.RGBA{188, 189, 34, 255}, color.RGBA{23, 190, 207, 255}, color.RGBA{0, 0, 128, 255}, color.RGBA{128, 0, 0, 255},
}

// nines places percentile q on the distribution's x axis, log10(100 / (100 - q)): 0 at p0, 1 at
// p90, 2 at p99, 3 at p99.9.
func nines(q float64) float64 { return math.Log10(100 / (100 - q)) }

// distribution is the latency (through ms) at the percentiles the sample supports (at least one
// request at or past each), then the maximum where it sits, at percentile 100·(1 - 1/n): ten
// requests have no p99.9 (issue 18: every curve drew p99.99, which for a part of 10 requests
// was its max, claimed as a tail).
func distribution(h *hdrhistogram.Histogram, ms func(int64) float64) plotter.XYs {
	var pts plotter.XYs
	n := h.TotalCount()
	for _, q := range []float64{0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99} {
		if supported(n, q) {
			pts = append(pts, plotter.XY{X: nines(q), Y: ms(h.ValueAtQuantile(q))})
		}
	}
	if x := math.Log10(float64(n)); n > 1 && (len(pts) == 0 || x > pts[len(pts)-1].X) {
		pts = append(pts, plotter.XY{X: min(x, 4), Y: ms(h.Max())})
	}
	return pts
}

// supported says whether n requests have a q-th percentile of their own: at least one request
// at or past it.
func supported(n int64, q float64) bool { return float64(n)*(100-q)/100 >= 1 }

// outcomes labels a curve with its counts, so the plot says what the requests got, not only how
// long they took (issue 18): "valid: 300 sent, 0 wrong". p.mu is held by the caller when p is a
// part; the total's is held by plots.
func outcomes(name string, p *partStats) string {
	label := fmt.Sprintf("%s: %d sent, %d wrong", name, p.sent, p.wrong)
	if p.transport > 0 {
		label += fmt.Sprintf(", %d unanswered", p.transport)
	}
	if p.invalidOK > 0 {
		label += fmt.Sprintf(", %d INVALID ACCEPTED", p.invalidOK)
	}
	return label
}
