package loadtest

import (
	"os"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
)

// Issue 18: the plot's latency axes are logarithmic (most requests at ~1 ms and a part at 1 s
// both readable) and the distribution has a series per part of the scenario.
func TestThePlotShowsEachPartOnALogAxis(t *testing.T) {
	fast, slow, total := newPartStats(), newPartStats(), newPartStats()
	second := hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)
	for range 100 {
		for _, h := range []*hdrhistogram.Histogram{fast.hist, total.hist, second} {
			_ = h.RecordValue(1_000) // 1 ms
		}
	}
	for range 10 {
		for _, h := range []*hdrhistogram.Histogram{slow.hist, total.hist, second} {
			_ = h.RecordValue(1_000_000) // the borderline re-test: 1 s
		}
	}
	total.perSecond = []*hdrhistogram.Histogram{second}
	r := newReport("plain+borderline", "http://target", Options{Rate: 110}, time.Second, 110, 0,
		map[string]*partStats{"plain": fast, "borderline": slow}, total, false)
	r.total = total
	overTime, dist, legend, err := r.plots()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*plot.Plot{overTime, dist} {
		if _, ok := p.Y.Scale.(plot.LogScale); !ok {
			t.Errorf("%q: latency axis %T, want a log scale", p.Title.Text, p.Y.Scale)
		}
	}
	if len(legend) != 3 || legend[0] != "borderline" || legend[1] != "plain" || legend[2] != "all requests" {
		t.Errorf("distribution series %q, want one per part and all requests", legend)
	}
	path := t.TempDir() + "/latency.png"
	if err := r.Plot(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() < 1000 {
		t.Fatalf("png: %v %v", fi, err)
	}
}
