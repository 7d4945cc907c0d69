package loadtest

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"os"
)

// Plot draws the run's latency to a PNG: over time (p50, p99 and max of each second, by
// intended send time) above, and its distribution (latency at each percentile) below.
func (r *Report) Plot(path string) error {
	if r.total == nil {
		return errors.New("plot: the report has no latency data")
	}
	r.total.mu.Lock()
	defer r.total.mu.Unlock()
	ms := func(v int64) float64 { return float64(v) / 1000 }

	overTime := plot.New()
	overTime.Title.Text = fmt.Sprintf("%s against %s: latency over time (from intended send times)", r.Scenario, r.Target)
	overTime.X.Label.Text = "second of the run"
	overTime.Y.Label.Text = "ms"
	series := map[string]plotter.XYs{}
	for s, h := range r.total.perSecond {
		if h.TotalCount() == 0 {
			continue
		}
		x := float64(s)
		series["p50"] = append(series["p50"], plotter.XY{X: x, Y: ms(h.ValueAtQuantile(50))})
		series["p99"] = append(series["p99"], plotter.XY{X: x, Y: ms(h.ValueAtQuantile(99))})
		series["max"] = append(series["max"], plotter.XY{X: x, Y: ms(h.Max())})
	}
	for i, name := range []string{"p50", "p99", "max"} {
		if len(series[name]) == 0 {
			continue
		}
		l, err := plotter.NewLine(series[name])
		if err != nil {
			return err
		}
		l.Color = plotter.DefaultLineStyle.Color
		l.Dashes = [][]vg.Length{nil, {vg.Points(4), vg.Points(2)}, {vg.Points(1), vg.Points(2)}}[i]
		overTime.Add(l)
		overTime.Legend.Add(name, l)
	}
	overTime.Legend.Top = true

	dist := plot.New()
	dist.Title.Text = "latency distribution"
	dist.X.Label.Text = "percentile (tail stretched: each step is one more nine)"
	dist.Y.Label.Text = "ms"
	// x = log10(100 / (100 - q)): 0 at p0, 1 at p90, 2 at p99, 3 at p99.9.
	nines := func(q float64) float64 { return math.Log10(100 / (100 - q)) }
	var pts plotter.XYs
	for _, q := range []float64{0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99} {
		pts = append(pts, plotter.XY{X: nines(q), Y: ms(r.total.hist.ValueAtQuantile(q))})
	}
	dist.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0%"}, {Value: nines(50), Label: "50%"},
		{Value: 1, Label: "90%"}, {Value: 2, Label: "99%"}, {Value: 3, Label: "99.9%"}, {Value: 4, Label: "99.99%"}})
	l, dots, err := plotter.NewLinePoints(pts)
	if err != nil {
		return err
	}
	dist.Add(l, dots)

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
