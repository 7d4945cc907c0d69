package supervisorclient

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/interopgate/interopgate/internal/rpctest"
)

// filter is a loopback filter answering every check with one fixed outcome.
type filter struct {
	srv    *rpctest.Server
	client *Client
}

// answer builds a handler: code 0 answers valid, any other code answers that error.
func answer(code int) rpctest.Handler {
	return func(method string, _ json.RawMessage) (any, *rpctest.Error) {
		if method == "admin_getFailsafeEnabled" {
			return code == CodeFailsafe, nil
		}
		if code == 0 {
			return nil, nil
		}
		return nil, &rpctest.Error{Code: code, Message: "scripted"}
	}
}

func newFilter(t *testing.T, name string, code int) *filter {
	srv := rpctest.New(t, answer(code))
	return &filter{srv: srv, client: newClient(t, srv.URL, func(c *ClientConfig) { c.Name = name; c.Timeout = 500 * time.Millisecond })}
}

func (f *filter) down() { f.srv.SetHTTPStatus(503) }

func endpoints(fs ...*filter) []Endpoint {
	out := make([]Endpoint, len(fs))
	for i, f := range fs {
		out[i] = Endpoint{Name: f.client.Name(), Checker: f.client}
	}
	return out
}

func newPool(t *testing.T, cfg PoolConfig, fs ...*filter) *Pool {
	t.Helper()
	p, err := NewPool(endpoints(fs...), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPoolNoEndpointFailsClosed(t *testing.T) {
	for _, s := range []Strategy{StrategyFirst, StrategyFailover, StrategyAny, StrategyAgreement} {
		p, err := NewPool(nil, PoolConfig{Strategy: s})
		if err != nil {
			t.Fatal(err)
		}
		if v := p.CheckAccessList(context.Background(), vectorE()); v.Class != ClassUnavailable {
			t.Fatalf("%s with no endpoint: %v", s, v)
		}
	}
}

func TestPoolAgreement(t *testing.T) {
	tests := []struct {
		name  string
		codes []int // 0 valid; -1 endpoint down
		min   int
		want  Class
	}{
		{"all valid", []int{0, 0}, 0, ClassValid},
		{"mixed valid/invalid is invalid", []int{0, CodeConflict}, 1, ClassInvalid},
		{"failsafe from any endpoint", []int{0, CodeFailsafe, CodeConflict}, 1, ClassFailsafe},
		{"quorum of 2 of 3 with one down", []int{0, 0, -1}, 2, ClassValid},
		{"too few answers", []int{0, -1}, 2, ClassUnavailable},
		{"valid and not-yet is retry-later", []int{0, CodeFuture}, 2, ClassRetryLater},
		{"one invalid, one down: invalid regardless", []int{CodeConflict, -1}, 2, ClassInvalid},
		{"default quorum is every endpoint", []int{0, 0, CodeUninitialized}, 0, ClassRetryLater},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var fs []*filter
			for i, code := range tc.codes {
				answerCode := code
				if code == -1 {
					answerCode = 0
				}
				f := newFilter(t, string(rune('a'+i)), answerCode)
				if code == -1 {
					f.down()
				}
				fs = append(fs, f)
			}
			p := newPool(t, PoolConfig{MinResponses: tc.min}, fs...)
			if v := p.CheckAccessList(context.Background(), vectorE()); v.Class != tc.want {
				t.Fatalf("got %v, want %v", v, tc.want)
			}
			// The batch path combines the same way.
			vs := p.CheckAccessLists(context.Background(), []Request{vectorE(), vectorE()})
			for _, v := range vs {
				if v.Class != tc.want {
					t.Fatalf("batch: got %v, want %v", v, tc.want)
				}
			}
		})
	}
}

func TestPoolFirst(t *testing.T) {
	a, b := newFilter(t, "a", CodeConflict), newFilter(t, "b", 0)
	p := newPool(t, PoolConfig{Strategy: StrategyFirst}, a, b)
	if v := p.CheckAccessList(context.Background(), vectorE()); v.Class != ClassInvalid || b.srv.Requests() != 0 {
		t.Fatalf("got %v; second endpoint saw %d requests", v, b.srv.Requests())
	}
}

func TestPoolAny(t *testing.T) {
	a, b := newFilter(t, "a", CodeFuture), newFilter(t, "b", 0)
	p := newPool(t, PoolConfig{Strategy: StrategyAny}, a, b)
	if v := p.CheckAccessList(context.Background(), vectorE()); v.Class != ClassValid || v.Endpoint != "b" {
		t.Fatalf("got %v", v)
	}
	b.down()
	if v := p.CheckAccessList(context.Background(), vectorE()); v.Class != ClassRetryLater {
		t.Fatalf("no definitive answer: got %v", v)
	}
}

func TestPoolFailoverCooldown(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	a, b := newFilter(t, "a", 0), newFilter(t, "b", CodeConflict)
	p, err := NewPool(endpoints(a, b), PoolConfig{Strategy: StrategyFailover, Cooldown: 10 * time.Second}, WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if v := p.CheckAccessList(ctx, vectorE()); v.Endpoint != "a" || v.Class != ClassValid {
		t.Fatalf("healthy: got %v", v)
	}
	a.down()
	if v := p.CheckAccessList(ctx, vectorE()); v.Endpoint != "b" {
		t.Fatalf("a down: got %v", v)
	}
	before := a.srv.Requests()
	advance(5 * time.Second)
	if v := p.CheckAccessList(ctx, vectorE()); v.Endpoint != "b" || a.srv.Requests() != before {
		t.Fatalf("a cooling down must be skipped: got %v, a saw %d new requests", v, a.srv.Requests()-before)
	}
	a.srv.SetHTTPStatus(0)
	advance(6 * time.Second)
	if v := p.CheckAccessList(ctx, vectorE()); v.Endpoint != "a" {
		t.Fatalf("after the cool-down a is first again: got %v", v)
	}
	// An answer with a JSON-RPC error is a verdict, not a reason to fail over.
	c, d := newFilter(t, "c", CodeFuture), newFilter(t, "d", 0)
	p2 := newPool(t, PoolConfig{Strategy: StrategyFailover}, c, d)
	if v := p2.CheckAccessList(ctx, vectorE()); v.Endpoint != "c" || v.Class != ClassRetryLater || d.srv.Requests() != 0 {
		t.Fatalf("got %v", v)
	}
	// Everything down: the verdict is unavailable, never valid.
	b.down()
	a.down()
	if v := p.CheckAccessList(ctx, vectorE()); v.Class != ClassUnavailable {
		t.Fatalf("all down: got %v", v)
	}
}

func TestPoolConfigCheck(t *testing.T) {
	a := newFilter(t, "a", 0)
	for _, cfg := range []PoolConfig{{Strategy: "quorum"}, {MinResponses: 2}, {MinResponses: -1}, {Cooldown: -time.Second}} {
		if _, err := NewPool(endpoints(a), cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

func TestFailsafeWatcher(t *testing.T) {
	a, b := newFilter(t, "a", 0), newFilter(t, "b", 0)
	var changes []bool
	var errs atomic.Int32
	w := NewFailsafeWatcher([]NamedFailsafeSource{{"a", a.client}, {"b", b.client}}, FailsafeWatcherConfig{
		OnChange: func(on bool) { changes = append(changes, on) },
		OnError:  func(string, error) { errs.Add(1) },
	})
	ctx := context.Background()
	w.Poll(ctx)
	if w.Enabled() || len(changes) != 0 {
		t.Fatalf("enabled=%v changes=%v", w.Enabled(), changes)
	}
	b.srv.SetHandler(answer(CodeFailsafe))
	w.Poll(ctx)
	if !w.Enabled() {
		t.Fatal("failsafe on one endpoint must enable the aggregate")
	}
	// An endpoint that cannot be polled keeps its last known state.
	b.down()
	w.Poll(ctx)
	if !w.Enabled() || errs.Load() != 1 {
		t.Fatalf("enabled=%v errors=%d", w.Enabled(), errs.Load())
	}
	b.srv.SetHTTPStatus(0)
	b.srv.SetHandler(answer(0))
	w.Poll(ctx)
	if w.Enabled() {
		t.Fatal("failsafe off everywhere must disable the aggregate")
	}
	if len(changes) != 2 || !changes[0] || changes[1] {
		t.Fatalf("changes %v, want [true false]", changes)
	}
}

func TestFailsafeWatcherRun(t *testing.T) {
	a := newFilter(t, "a", CodeFailsafe)
	changed := make(chan bool, 4)
	w := NewFailsafeWatcher([]NamedFailsafeSource{{"a", a.client}}, FailsafeWatcherConfig{
		Interval: 10 * time.Millisecond,
		OnChange: func(on bool) { changed <- on },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	select {
	case on := <-changed:
		if !on {
			t.Fatal("first change must be to enabled")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watcher did not report failsafe within 5 s")
	}
	a.srv.SetHandler(answer(0))
	select {
	case on := <-changed:
		if on {
			t.Fatal("second change must be to disabled")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watcher did not report failsafe off within 5 s")
	}
	cancel()
	<-done
}

// Issue 19 (left by its review): strategy any waited for every endpoint, so one that hangs cost
// every check its whole timeout. The first definitive verdict answers; the hanging endpoint
// (a real loopback server that does not answer until the test lets it) is not waited for.
func TestPoolAnyDoesNotWaitForAHangingEndpoint(t *testing.T) {
	release := make(chan struct{})
	hanging := rpctest.New(t, func(string, json.RawMessage) (any, *rpctest.Error) {
		<-release
		return nil, nil
	})
	t.Cleanup(func() { close(release) })
	slow := &filter{srv: hanging, client: newClient(t, hanging.URL, func(c *ClientConfig) { c.Name = "hanging"; c.Timeout = time.Minute })}
	quick := newFilter(t, "quick", CodeConflict)
	p := newPool(t, PoolConfig{Strategy: StrategyAny}, slow, quick)
	got := make(chan []Verdict, 1)
	go func() { got <- p.CheckAccessLists(context.Background(), []Request{vectorE(), vectorE()}) }()
	select {
	case vs := <-got:
		for _, v := range vs {
			if v.Class != ClassInvalid || v.Endpoint != "quick" {
				t.Fatalf("got %v, want the quick endpoint's invalid", v)
			}
		}
	case <-time.After(20 * time.Second): // a bound on the wait, far below the hanging endpoint's minute
		t.Fatal("strategy any waited for the hanging endpoint")
	}
	// It was asked all the same (its answer would have counted, had it come first).
	rpctest.WaitFor(t, "the hanging endpoint to be asked", 10*time.Second, func() bool { return hanging.Requests() == 1 })
}
