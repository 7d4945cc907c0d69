package ingress_test

// The feed outbox (ingress/feed.go): what is accepted reaches the feed, Shutdown included.

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/ingress"
	"github.com/interopgate/interopgate/internal/rpctest"
	"github.com/interopgate/interopgate/store"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

func feedGateway(t *testing.T, feed store.Feed) (*ingress.Gateway, *store.Stores, *prometheus.Registry) {
	sentry := rpctest.New(t, sentryHandler)
	filter := rpctest.New(t, filterAnswer(0))
	sentry.KeepBodies(false)
	filter.KeepBodies(false)
	client, _ := sc.NewClient(sc.ClientConfig{URL: filter.URL, Name: "fake"})
	pool, _ := sc.NewPool([]sc.Endpoint{{Name: "fake", Checker: client}}, sc.PoolConfig{})
	deps, _ := accesslist.NewDependencySet([]uint64{901, 902}, 0)
	reg := prometheus.NewRegistry()
	m := ingress.NewMetrics(reg)
	group, err := ingress.NewGroup(ingress.GroupConfig{Backends: []ingress.BackendConfig{{Name: "s", URL: sentry.URL}}}, zaptest.NewLogger(t), m)
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewMemory(store.MemoryConfig{})
	if feed != nil {
		st.Feed = feed
	}
	cfg := ingress.DefaultConfig()
	cfg.ChainID = 902
	cfg.SenderRateLimit = 0
	cfg.SenderStateCheck = false
	gw, err := ingress.New(cfg, ingress.Deps{Checker: pool, Dependencies: deps, Backends: group, Log: zaptest.NewLogger(t), Metrics: m, Stores: &st})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return gw, &st, reg
}

func dropped(t *testing.T, reg *prometheus.Registry) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "interopgate_gateway_feed_dropped_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// Found by a review: a tx accepted just before Shutdown waited in the outbox for feedDelay and
// Shutdown stopped the publisher without draining it: lost, and not counted.
func TestTxsAcceptedBeforeShutdownReachTheFeed(t *testing.T) {
	gw, st, reg := feedGateway(t, nil)
	const n = 20
	lost := 0
	for i := 0; i < n; i++ {
		tx := interopTx(t, 1, uint64(i), 902, keysOf(message(i)))
		// Connection: close, so the HTTP server has no open connection and Shutdown does not
		// wait its 100 ms poll: the publisher is cancelled within feedDelay of the answer.
		if _, body := rpctest.PostWith(t, gw.URL(), sendRawBody(1, tx), map[string]string{"Connection": "close"}); reply(t, body).Error != nil {
			t.Fatalf("not accepted: %s", body)
		}
	}
	if err := gw.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	es, _ := st.Feed.Read(context.Background(), "", 1000)
	lost = n - len(es)
	if lost > 0 {
		t.Errorf("%d of %d accepted interop txs not on the feed after Shutdown (feed_dropped %v)", lost, n, dropped(t, reg))
	}
}

// Issue 18: a tx forwarded a moment ago read "unknown"; its status is now "forwarded" within
// the feed's few milliseconds.
func TestATxForwardedAMomentAgoHasItsStatus(t *testing.T) {
	f := newFakes(t, 0, nil)
	tx := interopTx(t, 1, 0, 902, keysOf(message(9100)))
	if _, body := post(t, f.gw.URL(), sendRawBody(1, tx)); reply(t, body).Error != nil {
		t.Fatalf("not accepted: %s", body)
	}
	rpctest.WaitFor(t, "the forwarded status", 10*time.Second, func() bool {
		return readStatus(t, f.gw.URL(), tx.Hash()).State == ingress.StateForwarded
	})
}
