package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// PartReport is one scenario's (or mix part's) figures.
type PartReport struct {
	Name            string           `json:"name"`
	Sent            int64            `json:"sent"`
	Accepted        int64            `json:"accepted"`
	Rejected        map[string]int64 `json:"rejectedByCode"`
	HTTPStatus      map[string]int64 `json:"httpStatus"`
	TransportErrors int64            `json:"transportErrors"`
	Wrong           int64            `json:"wrongOutcomes"`
	InvalidAccepted int64            `json:"invalidAccepted"`
	LatencyMs       Latency          `json:"latencyMs"`
	// WrongMessages is the first message of each error code that was not the expected outcome.
	WrongMessages map[string]string `json:"wrongMessages,omitempty"`
}

// Latency percentiles, in milliseconds, from each request's intended send time. A percentile
// its sample does not support (fewer than 10 requests for P90, 100 for P99, 1,000 for P999) is
// the maximum, and is shown as "-" in the table and null in the JSON (found by a review: parts of
// 15 requests claimed a p99.9).
type Latency struct {
	P50, P90, P99, P999, Max float64
	// Count is the number of requests measured.
	Count int64 `json:"count"`
}

// Supported says whether a Count of requests has a q-th percentile of its own (at least one
// request at or past it).
func (l Latency) Supported(q float64) bool { return supported(l.Count, q) }

// MarshalJSON writes the percentiles the sample supports, null for the others.
func (l Latency) MarshalJSON() ([]byte, error) {
	or := func(q, v float64) *float64 {
		if !l.Supported(q) {
			return nil
		}
		return &v
	}
	return json.Marshal(struct {
		P50, P90, P99, P999 *float64
		Max                 float64
		Count               int64 `json:"count"`
	}{or(50, l.P50), or(90, l.P90), or(99, l.P99), or(99.9, l.P999), l.Max, l.Count})
}

// cell is percentile q's table cell: its value, or "-" where the sample does not support it.
func (l Latency) cell(q, v float64) string {
	if !l.Supported(q) {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

// Report is what a run measured.
type Report struct {
	Scenario   string        `json:"scenario"`
	Target     string        `json:"target"`
	TargetRate float64       `json:"targetRate"`
	Steps      []float64     `json:"rampSteps,omitempty"`
	Achieved   float64       `json:"achievedRate"`
	Drain      time.Duration `json:"-"` // from the last send to the last answer
	Duration   time.Duration `json:"-"`
	// DrainMs and DurationMs are Drain and Duration in milliseconds, for the JSON (issue 18:
	// nanosecond integers without a unit beside latencyMs).
	DrainMs     float64               `json:"drainMs"`
	DurationMs  float64               `json:"durationMs"`
	Scheduled   int                   `json:"scheduled"`
	Missed      int64                 `json:"missed"` // due while max_in_flight was reached: not sent
	Interrupted bool                  `json:"interrupted,omitempty"`
	Parts       []PartReport          `json:"parts"`
	Total       PartReport            `json:"total"`
	Cost        *Cost                 `json:"cost,omitempty"`
	interop     int64                 // requests carrying an interop tx
	total       *partStats            // the histograms behind Total, for the plot
	parts       map[string]*partStats // the histograms behind Parts, for the plot
}

func partReport(name string, p *partStats) PartReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	ms := func(v int64) float64 { return float64(v) / 1000 }
	r := PartReport{Name: name, Sent: p.sent, Accepted: p.accepted, TransportErrors: p.transport, Wrong: p.wrong,
		InvalidAccepted: p.invalidOK, Rejected: map[string]int64{}, HTTPStatus: map[string]int64{},
		LatencyMs: Latency{P50: ms(p.hist.ValueAtQuantile(50)), P90: ms(p.hist.ValueAtQuantile(90)),
			P99: ms(p.hist.ValueAtQuantile(99)), P999: ms(p.hist.ValueAtQuantile(99.9)), Max: ms(p.hist.Max()), Count: p.hist.TotalCount()}}
	for _, c := range sortedCodes(p.rejected) {
		r.Rejected[fmt.Sprint(c)] = p.rejected[c]
	}
	for _, s := range sortedCodes(p.statuses) {
		r.HTTPStatus[fmt.Sprint(s)] = p.statuses[s]
	}
	for c, m := range p.wrongSample {
		if r.WrongMessages == nil {
			r.WrongMessages = map[string]string{}
		}
		r.WrongMessages[fmt.Sprint(c)] = m
	}
	return r
}

func newReport(scenario, target string, opt Options, elapsed time.Duration, scheduled int, missed int64, parts map[string]*partStats, total *partStats, interrupted bool) *Report {
	rate := opt.Rate
	if len(opt.Steps) > 0 {
		rate = float64(scheduled) / elapsed.Seconds()
	}
	r := &Report{Scenario: scenario, Target: target, TargetRate: rate, Steps: opt.Steps, Duration: elapsed, Scheduled: scheduled,
		Missed: missed, Interrupted: interrupted, Total: partReport("total", total)}
	r.Achieved = float64(r.Total.Sent) / elapsed.Seconds()
	var names []string
	for n := range parts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r.Parts = append(r.Parts, partReport(n, parts[n]))
	}
	r.parts = parts
	return r
}

// Failed reports whether any outcome was wrong (the command exits non-zero then).
func (r *Report) Failed() bool { return r.Total.Wrong > 0 }

// Print writes the report as a table.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "scenario %s against %s: %d sent in %s (last answer %s later), %.0f/s achieved of %.0f/s target, %d missed (generator behind)%s\n\n",
		r.Scenario, r.Target, r.Total.Sent, r.Duration.Round(time.Millisecond), r.Drain.Round(time.Millisecond), r.Achieved, r.TargetRate, r.Missed,
		map[bool]string{true: ", INTERRUPTED (partial)", false: ""}[r.Interrupted])
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tsent\taccepted\trejected (code: n)\terrors\twrong\tinvalid accepted\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\t")
	for _, p := range append(r.Parts, r.Total) {
		var rej []string
		for c, n := range p.Rejected {
			rej = append(rej, fmt.Sprintf("%s: %d", c, n))
		}
		sort.Strings(rej)
		l := p.LatencyMs
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%.2f\t\n", p.Name, p.Sent, p.Accepted, strings.Join(rej, ", "),
			p.TransportErrors, p.Wrong, p.InvalidAccepted, l.cell(50, l.P50), l.cell(90, l.P90), l.cell(99, l.P99), l.cell(99.9, l.P999), l.Max)
	}
	tw.Flush()
	if r.Cost != nil {
		fmt.Fprintf(w, "\n%s\n", r.Cost)
	}
	if r.Failed() {
		fmt.Fprintf(w, "\nWRONG OUTCOMES: %d (of which invalid txs accepted: %d)\n", r.Total.Wrong, r.Total.InvalidAccepted)
		codes := make([]string, 0, len(r.Total.WrongMessages))
		for c := range r.Total.WrongMessages {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		for _, c := range codes {
			fmt.Fprintf(w, "  unexpected %s, first seen: %s\n", c, r.Total.WrongMessages[c])
		}
	}
}

// WriteJSON writes the report to path.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (r *Report) WriteJSON(path string) error {
	r.DrainMs, r.DurationMs = ms(r.Drain), ms(r.Duration)
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
