package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/interopgate/interopgate/internal/rpctest"
)

// Compare alternates the targets and reports each side and the ratios; the target (A)
// answering wrongly fails the comparison.
func TestCompareAlternatesAndCountsBothSides(t *testing.T) {
	good := rpctest.New(t, func(string, json.RawMessage) (any, *rpctest.Error) { return "0x1", nil })
	bad := rpctest.New(t, func(string, json.RawMessage) (any, *rpctest.Error) {
		return nil, &rpctest.Error{Code: -32000, Message: "no"}
	})
	s, err := Build(context.Background(), &Env{}, "reads")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compare(context.Background(), bad.URL, good.URL, s, s, Options{Rate: 400, Requests: 40, Duration: time.Minute}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.A) != 2 || len(c.B) != 2 || good.Requests() != 40 || bad.Requests() != 40 {
		t.Fatalf("rounds %d/%d, requests %d/%d", len(c.A), len(c.B), good.Requests(), bad.Requests())
	}
	if !c.Failed() {
		t.Fatal("the failing target's wrong outcomes were not counted")
	}
	var b strings.Builder
	c.Print(&b)
	if !strings.Contains(b.String(), "B / A") {
		t.Fatalf("%s", b.String())
	}
}

// indexed is a scenario whose request i carries i and the scenario's side (a stand-in for a
// signed tx: sending one twice, or to both targets, is what --compare must not do).
type indexed struct{ side string }

func (x indexed) Name() string { return "indexed" }
func (x indexed) Next(i int) Request {
	return Request{Body: fmt.Appendf(nil, `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["%s-%d"]}`, x.side, i), Expect: Expect{Accept: true}}
}

// Issue 18: --compare sent the same signed txs to both targets, and each round sent its
// side's txs again, so scenarios that use nonces read "nonce too low" or "already known". Each
// side gets its own scenario, and its rounds continue the sequence: no request is sent twice.
func TestCompareSendsNoRequestTwice(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	record := func(_ string, params json.RawMessage) (any, *rpctest.Error) {
		mu.Lock()
		defer mu.Unlock()
		seen[string(params)]++
		return "0x1", nil
	}
	a, b := rpctest.New(t, record), rpctest.New(t, record)
	c, err := Compare(context.Background(), a.URL, b.URL, indexed{"a"}, indexed{"b"}, Options{Rate: 400, Requests: 60, Duration: time.Minute}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.A) != 3 || a.Requests() != 60 || b.Requests() != 60 {
		t.Fatalf("rounds %d, requests %d/%d", len(c.A), a.Requests(), b.Requests())
	}
	for side := range map[string]bool{"a": true, "b": true} {
		for i := range 60 {
			if n := seen[fmt.Sprintf(`["%s-%d"]`, side, i)]; n != 1 {
				t.Errorf("%s-%d sent %d times, want once", side, i, n)
			}
		}
	}
}

// The cost is the difference of the target's counters around the run, per interop tx and per
// request.
func TestCostFromTheTargetsMetrics(t *testing.T) {
	checks := 10
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "# TYPE interopgate_filter_checks_total counter\ninteropgate_filter_checks_total{endpoint=\"a\",method=\"m\",outcome=\"valid\"} %d\n", checks)
		fmt.Fprintf(w, "# TYPE interopgate_gateway_backend_requests_total counter\ninteropgate_gateway_backend_requests_total{backend=\"s\",outcome=\"ok\"} %d\n", 2*checks)
	}))
	defer srv.Close()
	r, err := WithCost(context.Background(), srv.URL, func() (*Report, error) {
		checks += 5
		return &Report{Total: PartReport{Sent: 20}, interop: 10}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Cost; c.FilterChecks != 5 || c.ChecksPerInterop != 0.5 || c.SentryRequests != 10 || c.SentryPerRequest != 0.5 {
		t.Fatalf("%+v", c)
	}
}

// A ramp sends each step at its own rate: 4 s of 10, 20, 30, 40 per second is 100 requests,
// each step's due in its own second.
func TestRampSchedule(t *testing.T) {
	due := schedule(Options{Steps: []float64{10, 20, 30, 40}, Duration: 4 * time.Second})
	if d := due(0); d != 0 {
		t.Fatalf("first %s", d)
	}
	if d := due(10); d != time.Second {
		t.Fatalf("first of step 2 at %s", d)
	}
	if d := due(31); d != 2*time.Second+time.Second/30 {
		t.Fatalf("second of step 3 at %s", d)
	}
	if d := due(99); d != 3*time.Second+39*time.Second/40 {
		t.Fatalf("last at %s", d)
	}
	if d := due(100); d != 4*time.Second {
		t.Fatalf("past the ramp at %s", d)
	}
	good := rpctest.New(t, func(string, json.RawMessage) (any, *rpctest.Error) { return "0x1", nil })
	s, _ := Build(context.Background(), &Env{}, "reads")
	r, err := Run(context.Background(), good.URL, s, Options{Steps: []float64{50, 100}, Duration: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Total.Sent != 30 {
		t.Fatalf("%d sent, want 10 + 20", r.Total.Sent)
	}
}

// Issue 18: B (often the node) may be wrong by design: only A fails the comparison; a side
// that got no answer at all has no ratio (a closed port read as "0.68×", faster).
func TestACompareFailsOnTheTargetAndSaysWhenASideNeverAnswered(t *testing.T) {
	side := func(target string, sent, errors, wrong int64, p50 float64) []*Report {
		return []*Report{{Scenario: "mix", Target: target, Achieved: 100,
			Total: PartReport{Sent: sent, TransportErrors: errors, Wrong: wrong, LatencyMs: Latency{P50: p50, P99: p50, Max: p50}}}}
	}
	c := &Comparison{A: side("http://gw", 100, 0, 0, 2), B: side("http://node", 100, 0, 7, 1)}
	if c.Failed() {
		t.Fatal("B's wrong outcomes failed the comparison")
	}
	if c := (&Comparison{A: side("http://gw", 100, 0, 1, 2), B: side("http://node", 100, 0, 0, 1)}); !c.Failed() {
		t.Fatal("A's wrong outcome did not fail it")
	}
	var out strings.Builder
	closed := &Comparison{A: side("http://gw", 100, 0, 0, 2), B: side("http://127.0.0.1:1", 100, 100, 0, 1.36)}
	if !closed.Failed() {
		t.Fatal("a side that never answered did not fail the comparison")
	}
	closed.Print(&out)
	if strings.Contains(out.String(), "×") || !strings.Contains(out.String(), "B: every request failed without an answer") {
		t.Fatalf("a side that never answered:\n%s", out.String())
	}
}

// Issue 18: durations in the JSON are in milliseconds and say so, as latencyMs does.
func TestTheJSONReportSaysItsUnits(t *testing.T) {
	r := &Report{Duration: 1500 * time.Millisecond, Drain: 250 * time.Millisecond}
	path := t.TempDir() + "/r.json"
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["durationMs"] != 1500.0 || m["drainMs"] != 250.0 || m["duration"] != nil || m["drain"] != nil {
		t.Fatalf("JSON durations: %s", b)
	}
}
