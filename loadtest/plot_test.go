package loadtest

import (
	"encoding/json"
	"math"
	"os"
	"regexp"
	"strings"
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
	slow.sent, slow.wrong, fast.sent, fast.transport, total.sent, total.wrong = 10, 1, 100, 2, 110, 1
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
	// Each curve says what its requests got (issue 18: the plot had no outcome counts).
	if len(legend) != 3 || legend[0] != "borderline: 10 sent, 1 wrong" || legend[1] != "plain: 100 sent, 0 wrong, 2 unanswered" ||
		legend[2] != "all requests: 110 sent, 1 wrong" {
		t.Errorf("distribution series %q, want one per part and all requests, with their counts", legend)
	}
	// A curve ends where its sample does (issue 18: ten requests were drawn out to p99.99).
	ms := func(v int64) float64 { return float64(v) / 1000 }
	if pts := distribution(slow.hist, ms); pts[len(pts)-1].X != 1 {
		t.Errorf("10 requests drawn to x = %.2f, want 1 (p90: one request at or past it)", pts[len(pts)-1].X)
	}
	if pts := distribution(total.hist, ms); pts[len(pts)-1].X != math.Log10(110) || math.Abs(pts[len(pts)-1].Y-1000) > 1 {
		t.Errorf("110 requests end at %+v, want their max, 1000 ms, at log10(110) (p99.1)", pts[len(pts)-1])
	}
	path := t.TempDir() + "/latency.png"
	if err := r.Plot(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() < 1000 {
		t.Fatalf("png: %v %v", fi, err)
	}
}

// A review found the report's table (and JSON) giving a p99.9 for parts of 15 requests: it was
// their maximum. Percentiles past what a sample supports read "-" in the table, null in the JSON.
func TestTheReportClaimsOnlySupportedPercentiles(t *testing.T) {
	small, total := newPartStats(), newPartStats()
	for i := range 15 {
		for _, p := range []*partStats{small, total} {
			_ = p.hist.RecordValue(int64(1000 + i))
			p.sent++
		}
	}
	r := newReport("small", "http://target", Options{Rate: 15}, time.Second, 15, 0, map[string]*partStats{"small": small}, total, false)
	var out strings.Builder
	r.Print(&out)
	row := regexp.MustCompile(`(?m)^\s*small\s.*$`).FindString(out.String())
	if fields := strings.Fields(row); len(fields) < 5 || fields[len(fields)-4] == "-" || fields[len(fields)-3] != "-" || fields[len(fields)-2] != "-" {
		t.Fatalf("the row of 15 requests: %q, want p90 given, p99 and p99.9 as -", row)
	}
	js, err := json.Marshal(r.Total.LatencyMs)
	if err != nil || !strings.Contains(string(js), `"P99":null`) || !strings.Contains(string(js), `"P999":null`) || strings.Contains(string(js), `"P90":null`) ||
		!strings.Contains(string(js), `"count":15`) {
		t.Fatalf("JSON %s %v", js, err)
	}
}
