package loadtest

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Comparison is the same scenario run against two targets in alternating rounds, so that a
// change of conditions on the shared machine hits both alike.
type Comparison struct {
	A, B []*Report
}

// Compare runs sa against a and sb against b in rounds alternating a, b, a, b …, each round
// opt.Duration / rounds long (or opt.Requests / rounds requests). Each side's rounds continue
// its scenario's sequence. sa and sb are the same scenario built apart: a scenario whose txs use
// nonces (valid, plain …) must not send one side's txs to the other, or the second would read
// "already known" or "nonce too low" (issue 18); for one without txs they may be the same.
func Compare(ctx context.Context, a, b string, sa, sb Scenario, opt Options, rounds int) (*Comparison, error) {
	if rounds < 1 {
		rounds = 1
	}
	round := opt
	round.Duration = opt.Duration / time.Duration(rounds)
	round.Requests = opt.Requests / rounds
	c := &Comparison{}
	next := [2]int{opt.First, opt.First}
	for range rounds {
		for k, side := range []struct {
			url string
			s   Scenario
			out *[]*Report
		}{{a, sa, &c.A}, {b, sb, &c.B}} {
			round.First = next[k]
			r, err := Run(ctx, side.url, side.s, round)
			if err != nil {
				return nil, err
			}
			next[k] += r.Scheduled
			*side.out = append(*side.out, r)
			if ctx.Err() != nil {
				return c, nil
			}
		}
	}
	return c, nil
}

// sideFigures are one target's figures over its rounds: medians of the rounds' percentiles.
type sideFigures struct {
	sent, wrong  int64
	errors       int64 // transport errors: no answer at all
	invalidOK    int64
	rate         float64
	p50, p99, mx float64
}

func figures(rs []*Report) sideFigures {
	var f sideFigures
	var p50s, p99s, rates []float64
	for _, r := range rs {
		f.sent += r.Total.Sent
		f.wrong += r.Total.Wrong
		f.errors += r.Total.TransportErrors
		f.invalidOK += r.Total.InvalidAccepted
		p50s = append(p50s, r.Total.LatencyMs.P50)
		if r.Total.LatencyMs.Supported(99) { // a round of fewer than 100 requests has no p99
			p99s = append(p99s, r.Total.LatencyMs.P99)
		}
		rates = append(rates, r.Achieved)
		f.mx = max(f.mx, r.Total.LatencyMs.Max)
	}
	f.p50, f.p99, f.rate = median(p50s), median(p99s), median(rates)
	return f
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

// Failed reports a wrong outcome of the target (A). B is what it is compared with, often the
// node itself, which accepts what a gateway refuses by design: its wrong outcomes are shown,
// not failed on (issue 18: --compare node always exited 1).
// A side that never answered fails it too: there is nothing to compare (found by a review:
// --compare against a closed port exited 0).
func (c *Comparison) Failed() bool {
	a, b := figures(c.A), figures(c.B)
	return a.wrong > 0 || a.sent > 0 && a.errors >= a.sent || b.sent > 0 && b.errors >= b.sent
}

// Print writes both sides and the ratio B / A of each figure.
func (c *Comparison) Print(w io.Writer) {
	if len(c.A) == 0 || len(c.B) == 0 {
		fmt.Fprintln(w, "comparison interrupted before both targets ran")
		return
	}
	a, b := figures(c.A), figures(c.B)
	// A side whose requests got no answer has no latency to compare (issue 18: a closed port
	// read as "0.68×", faster).
	comparable := a.errors < a.sent && b.errors < b.sent
	ratio := func(x, y float64) string {
		if x == 0 || !comparable {
			return "-"
		}
		return fmt.Sprintf("%.2f×", y/x)
	}
	fmt.Fprintf(w, "scenario %s, %d alternating rounds (medians of the rounds)\n\n", c.A[0].Scenario, len(c.A))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tsent\terrors\twrong\tinvalid accepted\tachieved/s\tp50 ms\tp99 ms\tmax ms\t")
	p99 := func(v float64) string { // no round of 100 requests or more: no p99
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", v)
	}
	fmt.Fprintf(tw, "A %s\t%d\t%d\t%d\t%d\t%.0f\t%.2f\t%s\t%.2f\t\n", c.A[0].Target, a.sent, a.errors, a.wrong, a.invalidOK, a.rate, a.p50, p99(a.p99), a.mx)
	fmt.Fprintf(tw, "B %s\t%d\t%d\t%d\t%d\t%.0f\t%.2f\t%s\t%.2f\t\n", c.B[0].Target, b.sent, b.errors, b.wrong, b.invalidOK, b.rate, b.p50, p99(b.p99), b.mx)
	fmt.Fprintf(tw, "B / A\t\t\t\t\t%s\t%s\t%s\t%s\t\n", ratio(a.rate, b.rate), ratio(a.p50, b.p50), ratio(a.p99, b.p99), ratio(a.mx, b.mx))
	tw.Flush()
	for _, side := range []struct {
		name string
		f    sideFigures
	}{{"A", a}, {"B", b}} {
		if side.f.errors >= side.f.sent {
			fmt.Fprintf(w, "\n%s: every request failed without an answer (is it up?): no ratio\n", side.name)
		}
	}
	if b.wrong > 0 {
		fmt.Fprintf(w, "\nB's %d wrong outcomes are shown, not failed on: B is the reference (a node accepts what a gateway refuses)\n", b.wrong)
	}
}
