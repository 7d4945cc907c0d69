package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Options bound and pace a run. The run stops at Duration or after Requests, whichever is first,
// or when ctx ends (then the report is partial).
type Options struct {
	// Rate is the target rate in requests per second (open loop: requests are sent at their
	// intended times whatever the answers' latency).
	Rate float64
	// Steps, when set, ramps the rate: Duration is split into len(Steps) equal steps, each at
	// its own rate (Rate is then ignored).
	Steps []float64
	// Duration and Requests bound the run; at least one must be set.
	Duration time.Duration
	Requests int
	// MaxInFlight bounds requests outstanding; a request due while it is reached is not sent
	// and counted as missed (the generator, not the target, fell behind). Default 512.
	MaxInFlight int
	// Timeout of each request (default 10 s).
	Timeout time.Duration
	// Progress, if set, gets a line a second, rewritten in place (a terminal); with
	// ProgressLines, a new line every 5 s instead (a file or a CI log).
	Progress      io.Writer
	ProgressLines bool
	// First is the scenario index of the run's first request (0 by default): a later round of
	// the same scenario starts where the last one stopped, instead of sending its txs again.
	First int
}

// Outcome of one request.
type outcome struct {
	status  int
	code    int    // JSON-RPC error code; 0 when the call had a result
	message string // the error's message
	err     error
	latency time.Duration
}

// partStats accumulates one scenario's (or mix part's) outcomes.
type partStats struct {
	mu             sync.Mutex
	sent, accepted int64
	rejected       map[int]int64
	statuses       map[int]int64
	transport      int64
	wrong          int64
	invalidOK      int64          // invalid txs accepted: the worst wrong outcome
	wrongSample    map[int]string // the first message of each unexpected error code
	hist           *hdrhistogram.Histogram
	// perSecond holds a histogram per second of the run (by intended send time), for the plot;
	// only the total keeps it.
	perSecond []*hdrhistogram.Histogram
	keepTime  bool
}

func newPartStats() *partStats {
	return &partStats{rejected: map[int]int64{}, statuses: map[int]int64{}, wrongSample: map[int]string{},
		hist: hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)}
}

func (p *partStats) record(o outcome, r Request, second int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent++
	p.statuses[o.status]++
	v := max(o.latency.Microseconds(), 1)
	_ = p.hist.RecordValue(v)
	if p.keepTime && second >= 0 {
		for len(p.perSecond) <= second {
			p.perSecond = append(p.perSecond, hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 2))
		}
		_ = p.perSecond[second].RecordValue(v)
	}
	switch {
	case o.err != nil:
		p.transport++
		p.wrong++ // the target failed to answer at all
		return
	case o.code == 0:
		p.accepted++
		if r.Invalid {
			p.invalidOK++
		}
		if !r.Expect.Accept {
			p.wrong++
		}
		return
	}
	p.rejected[o.code]++
	ok := false
	for _, c := range r.Expect.Codes {
		ok = ok || c == o.code
	}
	if !ok {
		p.wrong++
		if _, seen := p.wrongSample[o.code]; !seen && len(p.wrongSample) < maxWrongSamples {
			p.wrongSample[o.code] = o.message
		}
	}
}

// maxWrongSamples bounds the codes whose first unexpected message a report keeps.
const maxWrongSamples = 8

// classify reads one HTTP answer: the JSON-RPC error code of a single call (or of a whole-batch
// refusal), 0 for a result or a batch of answers.
func classify(status int, body []byte) (code int, message string, err error) {
	type rpcError struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	var one struct {
		Result json.RawMessage `json:"result"`
		Error  *rpcError       `json:"error"`
	}
	if len(body) > 0 && body[0] == '[' {
		// A batch is accepted when every call is; otherwise it counts as its first error.
		var many []struct {
			Error *rpcError `json:"error"`
		}
		if json.Unmarshal(body, &many) != nil {
			return 0, "", fmt.Errorf("HTTP %d: unreadable batch answer", status)
		}
		for _, m := range many {
			if m.Error != nil {
				return m.Error.Code, m.Error.Message, nil
			}
		}
		return 0, "", nil
	}
	if json.Unmarshal(body, &one) != nil {
		return 0, "", fmt.Errorf("HTTP %d: not a JSON-RPC answer", status)
	}
	if one.Error != nil {
		return one.Error.Code, one.Error.Message, nil
	}
	if one.Result == nil {
		return 0, "", fmt.Errorf("HTTP %d: neither result nor error", status)
	}
	return 0, "", nil
}

// Run attacks target with s under opt and reports what happened.
func Run(ctx context.Context, target string, s Scenario, opt Options) (*Report, error) {
	if len(opt.Steps) > 0 {
		if opt.Duration <= 0 {
			return nil, errors.New("loadtest: a ramp needs a duration to split into steps")
		}
		for _, r := range opt.Steps {
			if r <= 0 {
				return nil, errors.New("loadtest: every step's rate must be positive")
			}
		}
		opt.Rate = opt.Steps[len(opt.Steps)-1]
	}
	if opt.Rate <= 0 {
		return nil, errors.New("loadtest: rate must be positive")
	}
	if opt.Duration <= 0 && opt.Requests <= 0 {
		return nil, errors.New("loadtest: set a duration or a number of requests (every run is bounded)")
	}
	due := schedule(opt)
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = 512
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	client, err := newTransport(target, opt.MaxInFlight, opt.Timeout)
	if err != nil {
		return nil, err
	}
	defer client.close()
	var mu sync.Mutex
	parts := map[string]*partStats{}
	statsOf := func(name string) *partStats {
		mu.Lock()
		defer mu.Unlock()
		p := parts[name]
		if p == nil {
			p = newPartStats()
			parts[name] = p
		}
		return p
	}
	total := newPartStats()
	total.keepTime = true
	var missed, inFlight, interop atomic.Int64
	sem := make(chan struct{}, opt.MaxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	end := time.Time{}
	if opt.Duration > 0 {
		end = start.Add(opt.Duration)
	}
	stopProgress := progress(opt.Progress, opt.ProgressLines, start, total, &missed)
	i := 0
loop:
	for ; opt.Requests <= 0 || i < opt.Requests; i++ {
		intended := start.Add(due(i))
		n := opt.First + i // the scenario's index of this request
		if !end.IsZero() && !intended.Before(end) {
			break
		}
		if d := time.Until(intended); d > 0 {
			t := time.NewTimer(d) // pacing: the open loop's schedule
			select {
			case <-ctx.Done():
				t.Stop()
				break loop
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		default:
			missed.Add(1)
			continue
		}
		req := s.Next(n)
		if req.Interop {
			interop.Add(1)
		}
		part := statsOf(partOf(s, n))
		wg.Add(1)
		inFlight.Add(1)
		go func() {
			defer func() { inFlight.Add(-1); wg.Done() }()
			o := client.send(req.Body, opt.Timeout)
			o.latency = time.Since(intended) // from the intended time: queueing behind slow answers counts
			<-sem
			if req.Settle != nil {
				req.Settle(&req)
			}
			second := int(intended.Sub(start) / time.Second)
			part.record(o, req, second)
			total.record(o, req, second)
		}()
	}
	sending := time.Since(start) // the rates are over the sending window, not the drain
	wg.Wait()
	stopProgress()
	r := newReport(s.Name(), target, opt, sending, i, missed.Load(), parts, total, ctx.Err() != nil)
	r.Drain = time.Since(start) - sending
	r.interop = interop.Load()
	r.total = total
	return r, nil
}

// schedule gives request i's offset from the start: i / rate, or with steps, the offset within
// the step it falls in.
func schedule(opt Options) func(i int) time.Duration {
	if len(opt.Steps) == 0 {
		interval := float64(time.Second) / opt.Rate
		return func(i int) time.Duration { return time.Duration(float64(i) * interval) }
	}
	step := opt.Duration / time.Duration(len(opt.Steps))
	counts := make([]int, len(opt.Steps)) // requests in each step
	for k, r := range opt.Steps {
		counts[k] = int(r * step.Seconds())
	}
	return func(i int) time.Duration {
		for k, n := range counts {
			if i < n {
				return time.Duration(k)*step + time.Duration(float64(i)*float64(time.Second)/opt.Steps[k])
			}
			i -= n
		}
		return opt.Duration // past the last step: the run is over
	}
}

// progress prints a line a second until stopped, in place; with lines, a line every 5 s.
func progress(w io.Writer, lines bool, start time.Time, total *partStats, missed *atomic.Int64) (stop func()) {
	if w == nil {
		return func() {}
	}
	every, begin, end := time.Second, "\r", "   "
	if lines {
		every, begin, end = 5*time.Second, "", "\n"
	}
	stopTicks := Every(every, func() {
		total.mu.Lock()
		defer total.mu.Unlock()
		el := time.Since(start).Seconds()
		fmt.Fprintf(w, begin+"%5.0fs  sent %d  %.0f/s  p50 %s  p99 %s  errors %d  wrong %d  missed %d"+end,
			el, total.sent, float64(total.sent)/el, us(total.hist.ValueAtQuantile(50)), us(total.hist.ValueAtQuantile(99)),
			total.transport, total.wrong, missed.Load())
	})
	return func() {
		stopTicks()
		if !lines {
			fmt.Fprintln(w)
		}
	}
}

// Every calls f every d, on a goroutine of its own, until stop is called; stop returns once f
// has returned for the last time.
func Every(d time.Duration, f func()) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() { close(done); <-finished }
}

func us(v int64) string { return (time.Duration(v) * time.Microsecond).String() }

// sortedCodes lists a code map's keys, in order.
func sortedCodes(m map[int]int64) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
