package supervisorclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/interopgate/interopgate/internal/rpctest"
)

// Issue 18: as filter endpoints stop one by one, each is reported down with its cause, and the
// quorum's headroom goes 1, 0, -1 in the metric and the callbacks before checks fail closed.
func TestQuorumHeadroomAsEndpointsStop(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	var servers []*rpctest.Server
	var sources []NamedFailsafeSource
	for i := range 3 {
		srv := rpctest.New(t, func(string, json.RawMessage) (any, *rpctest.Error) { return false, nil })
		servers = append(servers, srv)
		c, err := NewClient(ClientConfig{URL: srv.URL, Name: fmt.Sprintf("f%d", i)}, WithMetrics(m))
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, NamedFailsafeSource{Name: c.Name(), Source: c})
	}
	var downs []string
	var headrooms []int
	w := NewFailsafeWatcher(sources, FailsafeWatcherConfig{
		Needed: 2,
		OnReachability: func(ep string, up bool, err error) {
			if !up {
				downs = append(downs, ep+": "+err.Error())
			}
		},
		OnHeadroom: func(headroom, _, _ int) { headrooms = append(headrooms, headroom) },
	}, WithMetrics(m))
	w.Poll(context.Background())
	if r := w.Reachability(); r.Up != 3 || r.Headroom != 1 || testutil.ToFloat64(m.headroom) != 1 {
		t.Fatalf("all up: %+v, metric %v", r, testutil.ToFloat64(m.headroom))
	}
	for i, want := range []int{0, -1} {
		if err := servers[i].Stop(); err != nil {
			t.Fatal(err)
		}
		w.Poll(context.Background())
		r := w.Reachability()
		if r.Headroom != want || testutil.ToFloat64(m.headroom) != float64(want) || r.Endpoints[i].Up ||
			testutil.ToFloat64(m.up.WithLabelValues(fmt.Sprintf("f%d", i))) != 0 {
			t.Fatalf("after stopping %d: %+v, metric %v", i+1, r, testutil.ToFloat64(m.headroom))
		}
		// Below the quorum (found by a review: a revalidator read ready with one of two
		// agreement filters down), though some still answer.
		if w.QuorumAnswers() != (want >= 0) || !w.Answering() {
			t.Fatalf("after stopping %d: quorum answers %v, any answers %v", i+1, w.QuorumAnswers(), w.Answering())
		}
	}
	if len(downs) != 2 || !strings.HasPrefix(downs[0], "f0: ") || !strings.Contains(downs[0], "dial") {
		t.Fatalf("down reports %q: want each stopped endpoint with its cause", downs)
	}
	// The first poll says where the quorum stands (a gateway started at headroom 0 was never
	// warned), then each change.
	if fmt.Sprint(headrooms) != "[1 0 -1]" {
		t.Fatalf("headroom reports %v, want [1 0 -1]", headrooms)
	}
	// A stopped endpoint's failsafe is unknown: -1, not its last answer.
	if v := testutil.ToFloat64(m.failsafe.WithLabelValues("f0")); v != -1 {
		t.Fatalf("failsafe_enabled of a stopped endpoint: %v, want -1", v)
	}
}

// Issue 18: a failed filter call names its cause, and a timeout how long it took, in the error
// and in interopgate_filter_transport_errors_total{cause}.
func TestAFilterFailureNamesItsCause(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a port nothing listens on
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + ln.Addr().String()
	ln.Close()
	slow := rpctest.New(t, func(string, json.RawMessage) (any, *rpctest.Error) { return nil, nil })
	slow.SetLatency(2 * time.Second)
	for _, c := range []struct {
		url, cause, text string
	}{{downURL, "refused", ": refused: "}, {slow.URL, "timeout", ": timeout after "}} {
		client, err := NewClient(ClientConfig{URL: c.url, Name: c.cause, Timeout: 100 * time.Millisecond}, WithMetrics(m))
		if err != nil {
			t.Fatal(err)
		}
		v := client.CheckAccessList(context.Background(), Request{})
		if v.Err == nil || !strings.Contains(v.Err.Error(), c.text) {
			t.Errorf("%s: %v, want %q", c.cause, v.Err, c.text)
		}
		if n := testutil.ToFloat64(m.failures.WithLabelValues(c.cause, c.cause)); n != 1 {
			t.Errorf("%s: transport_errors_total{cause=%q} = %v (error %v)", c.cause, c.cause, n, v.Err)
		}
	}
}

// Found by a review: a filter's (or a proxy's) error text is kept short and without control
// characters: it is shown and logged.
func TestAHostileErrorTextIsTamed(t *testing.T) {
	hostile := rpctest.New(t, func(string, json.RawMessage) (any, *rpctest.Error) {
		return nil, &rpctest.Error{Code: -32000, Message: "boom\n  op-interop-filter: up\x1b[2J" + strings.Repeat("x", 1<<20)}
	})
	c, err := NewClient(ClientConfig{URL: hostile.URL, Name: "hostile"})
	if err != nil {
		t.Fatal(err)
	}
	w := NewFailsafeWatcher([]NamedFailsafeSource{{Name: "hostile", Source: c}}, FailsafeWatcherConfig{})
	w.Poll(context.Background())
	e := w.Reachability().Endpoints[0]
	if e.Up || len(e.Err) > maxErrText+len("…") || strings.ContainsAny(e.Err, "\n\x1b") {
		t.Fatalf("kept %d bytes: %q", len(e.Err), e.Err[:min(len(e.Err), 80)])
	}
}

// Found by a review: with strategy first only the first endpoint counts: it down is below
// quorum whatever the others do.
func TestHeadroomOfStrategyFirst(t *testing.T) {
	var sources []NamedFailsafeSource
	var servers []*rpctest.Server
	for i := range 2 {
		srv := rpctest.New(t, func(string, json.RawMessage) (any, *rpctest.Error) { return false, nil })
		servers = append(servers, srv)
		c, _ := NewClient(ClientConfig{URL: srv.URL, Name: fmt.Sprint(i)})
		sources = append(sources, NamedFailsafeSource{Name: c.Name(), Source: c})
	}
	w := NewFailsafeWatcher(sources, FailsafeWatcherConfig{Needed: 1, OnlyFirst: true})
	w.Poll(context.Background())
	if h := w.Reachability().Headroom; h != 0 {
		t.Fatalf("both up: headroom %d, want 0 (losing the first stops every check)", h)
	}
	_ = servers[0].Stop()
	w.Poll(context.Background())
	if h := w.Reachability().Headroom; h != -1 {
		t.Fatalf("the first down: headroom %d, want -1", h)
	}
}
