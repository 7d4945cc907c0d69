package ingress_test

// Issue 16: a sentry that falls behind leaves the rotation (no reads, no sends) until it catches
// up; the counts per sentry show it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/fasthttp/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap/zaptest"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/ingress"
	"github.com/interopgate/interopgate/internal/rpctest"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

func TestALaggingSentryGetsNoReadsOrSends(t *testing.T) {
	heads := map[string]*atomic.Uint64{"ahead": {}, "behind": {}}
	heads["ahead"].Store(1000)
	heads["behind"].Store(990) // 10 behind, over max_block_lag 5
	sentry := func(name string) *rpctest.Server {
		return rpctest.New(t, func(method string, params json.RawMessage) (any, *rpctest.Error) {
			if method == "eth_blockNumber" {
				return fmt.Sprintf("0x%x", heads[name].Load()), nil
			}
			return sentryHandler(method, params)
		})
	}
	ahead, behind := sentry("ahead"), sentry("behind")
	filter := rpctest.New(t, filterAnswer(0))
	client, _ := sc.NewClient(sc.ClientConfig{URL: filter.URL, Name: "fake"})
	pool, _ := sc.NewPool([]sc.Endpoint{{Name: "fake", Checker: client}}, sc.PoolConfig{})
	deps, _ := accesslist.NewDependencySet([]uint64{901, 902}, 0)
	reg := prometheus.NewRegistry()
	m := ingress.NewMetrics(reg)
	group, err := ingress.NewGroup(ingress.GroupConfig{Backends: []ingress.BackendConfig{{Name: "ahead", URL: ahead.URL}, {Name: "behind", URL: behind.URL}},
		HealthInterval: 20 * time.Millisecond, MaxBlockLag: 5}, zaptest.NewLogger(t), m)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ingress.DefaultConfig()
	cfg.ChainID = 902
	cfg.SenderRateLimit = 0
	gw, err := ingress.New(cfg, ingress.Deps{Checker: pool, Dependencies: deps, Backends: group, Log: zaptest.NewLogger(t), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	inSync := func(name string) float64 {
		return counter(t, reg, "interopgate_gateway_backend_in_sync", map[string]string{"backend": name})
	}
	rpctest.WaitFor(t, "the lagging sentry out of the rotation", 10*time.Second, func() bool { return inSync("behind") == 0 })
	traffic := func(round int) (reads, sends [2]int) {
		r0, s0 := [2]int{ahead.MethodCalls("eth_chainId"), behind.MethodCalls("eth_chainId")}, [2]int{ahead.MethodCalls(ingress.MethodSendRawTransaction), behind.MethodCalls(ingress.MethodSendRawTransaction)}
		for i := range 20 {
			if st, b := post(t, gw.URL(), `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`); st != 200 {
				t.Fatalf("a read: %d %s", st, b)
			}
			if i < 5 {
				tx := interopTx(t, 1+i, uint64(round), 902, keysOf(message(7000+100*round+i)))
				if st, b := post(t, gw.URL(), sendRawBody(1, tx)); st != 200 {
					t.Fatalf("a send: %d %s", st, b)
				}
			}
		}
		return [2]int{ahead.MethodCalls("eth_chainId") - r0[0], behind.MethodCalls("eth_chainId") - r0[1]},
			[2]int{ahead.MethodCalls(ingress.MethodSendRawTransaction) - s0[0], behind.MethodCalls(ingress.MethodSendRawTransaction) - s0[1]}
	}
	reads, sends := traffic(0)
	t.Logf("10 blocks behind: reads ahead/behind %d/%d, sends %d/%d", reads[0], reads[1], sends[0], sends[1])
	if reads[1] != 0 || sends[1] != 0 || reads[0] != 20 || sends[0] != 5 {
		t.Fatal("the lagging sentry got traffic")
	}
	heads["behind"].Store(1000)
	rpctest.WaitFor(t, "the sentry back in the rotation once caught up", 10*time.Second, func() bool { return inSync("behind") == 1 })
	reads, sends = traffic(1)
	t.Logf("caught up: reads ahead/behind %d/%d, sends %d/%d", reads[0], reads[1], sends[0], sends[1])
	if reads[1] == 0 {
		t.Fatal("the caught-up sentry got no reads")
	}
}

// Found by the review: subscriptions made on a sentry that then falls behind went on from it.
// Its clients' sockets are now closed (1012) when it leaves the rotation.
func TestSubscriptionsOnALaggingSentryAreClosed(t *testing.T) {
	var behindHead atomic.Uint64
	behindHead.Store(1000)
	up := websocket.Upgrader{}
	sentryWS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		for {
			var call struct {
				ID json.RawMessage `json:"id"`
			}
			if conn.ReadJSON(&call) != nil {
				return
			}
			_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":`+string(call.ID)+`,"result":"0xabc"}`))
		}
	}))
	defer sentryWS.Close()
	heads := func(h func() uint64) *rpctest.Server {
		return rpctest.New(t, func(method string, params json.RawMessage) (any, *rpctest.Error) {
			if method == "eth_blockNumber" {
				return fmt.Sprintf("0x%x", h()), nil
			}
			return sentryHandler(method, params)
		})
	}
	ahead := heads(func() uint64 { return 1000 })
	behind := heads(behindHead.Load)
	gw := gatewayOnGroup(t, rpctest.New(t, filterAnswer(0)).URL, ingress.GroupConfig{Backends: []ingress.BackendConfig{{Name: "ahead", URL: ahead.URL},
		{Name: "behind", URL: behind.URL, WSURL: "ws://" + strings.TrimPrefix(sentryWS.URL, "http://")}},
		HealthInterval: 20 * time.Millisecond, MaxBlockLag: 5})
	c := dialWS(t, gw.URL())
	if r := c.call(ingress.MethodSubscribe, "newHeads"); r.Error != nil {
		t.Fatalf("subscribe: %+v", r.Error)
	}
	behindHead.Store(990) // the sentry of the subscription falls 10 behind
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := c.conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseServiceRestart {
		t.Fatalf("a subscription on a sentry that fell behind: %v, want close 1012", err)
	}
}

// gatewayOnGroup starts a gateway for chain 902 with one filter (at filterURL) and the sentry
// group gc.
func gatewayOnGroup(t *testing.T, filterURL string, gc ingress.GroupConfig, metrics ...*ingress.Metrics) *ingress.Gateway {
	t.Helper()
	var m *ingress.Metrics
	if len(metrics) > 0 {
		m = metrics[0]
	}
	client, _ := sc.NewClient(sc.ClientConfig{URL: filterURL, Name: "fake"})
	pool, _ := sc.NewPool([]sc.Endpoint{{Name: "fake", Checker: client}}, sc.PoolConfig{})
	deps, _ := accesslist.NewDependencySet([]uint64{901, 902}, 0)
	group, err := ingress.NewGroup(gc, zaptest.NewLogger(t), m)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ingress.DefaultConfig()
	cfg.ChainID = 902
	gw, err := ingress.New(cfg, ingress.Deps{Checker: pool, Dependencies: deps, Backends: group, Log: zaptest.NewLogger(t), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	return gw
}

// The same with real nodes: two geth nodes of chain 902 (one genesis), the second held 10 blocks
// behind; a proxy in front of each counts the calls the gateway sends it.
func TestALaggingDevnetNodeGetsNoReadsOrSends(t *testing.T) {
	log := zaptest.NewLogger(t)
	alloc := types.GenesisAlloc{}
	for i := 1; i <= 5; i++ {
		alloc[devnet.DevAccount(i).Address] = types.Account{Balance: new(big.Int).Lsh(big.NewInt(1), 80)}
	}
	genesis := uint64(time.Now().Unix())
	node := func() *devnet.Chain {
		c, err := devnet.StartChain(devnet.ChainConfig{ChainID: 902, GenesisTime: genesis, Alloc: alloc}, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	a, b := node(), node()
	for range 10 {
		a.CommitAlone()
	}
	ahead, behind := rpctest.NewMethodProxy(t, a.RPCURL()), rpctest.NewMethodProxy(t, b.RPCURL())
	reg := prometheus.NewRegistry()
	m := ingress.NewMetrics(reg)
	gw := gatewayOnGroup(t, rpctest.New(t, filterAnswer(0)).URL, ingress.GroupConfig{
		Backends:       []ingress.BackendConfig{{Name: "ahead", URL: ahead.URL}, {Name: "behind", URL: behind.URL}},
		HealthInterval: 20 * time.Millisecond, MaxBlockLag: 5}, m)
	inSync := func(name string) float64 {
		return counter(t, reg, "interopgate_gateway_backend_in_sync", map[string]string{"backend": name})
	}
	rpctest.WaitFor(t, "the node 10 blocks behind out of the rotation", 10*time.Second, func() bool { return inSync("behind") == 0 })
	traffic := func(round int) (reads, sends [2]int) {
		calls := func(method string) [2]int { return [2]int{ahead.Calls(method), behind.Calls(method)} }
		r0, s0 := calls("eth_chainId"), calls(ingress.MethodSendRawTransaction)
		for i := range 20 {
			if st, body := post(t, gw.URL(), `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`); st != 200 || reply(t, body).Error != nil {
				t.Fatalf("a read: %d %s", st, body)
			}
			if i < 5 {
				tx := interopTx(t, 1+i, uint64(round), 902, keysOf(message(8000+100*round+i)))
				if st, body := post(t, gw.URL(), sendRawBody(1, tx)); st != 200 || reply(t, body).Error != nil {
					t.Fatalf("a send: %d %s", st, body)
				}
			}
		}
		r1, s1 := calls("eth_chainId"), calls(ingress.MethodSendRawTransaction)
		return [2]int{r1[0] - r0[0], r1[1] - r0[1]}, [2]int{s1[0] - s0[0], s1[1] - s0[1]}
	}
	reads, sends := traffic(0)
	t.Logf("10 blocks behind: reads ahead/behind %d/%d, sends %d/%d", reads[0], reads[1], sends[0], sends[1])
	if reads != [2]int{20, 0} || sends != [2]int{5, 0} {
		t.Fatal("the lagging node got traffic, or the other did not get it all")
	}
	if n := len(a.PoolTxs()); n != 5 {
		t.Fatalf("the node in the rotation holds %d of the 5 txs", n)
	}
	for range 10 {
		b.CommitAlone()
	}
	rpctest.WaitFor(t, "the node back in the rotation once caught up", 10*time.Second, func() bool { return inSync("behind") == 1 })
	reads, sends = traffic(1)
	t.Logf("caught up: reads ahead/behind %d/%d, sends %d/%d", reads[0], reads[1], sends[0], sends[1])
	if reads[1] == 0 || reads[0]+reads[1] != 20 || sends[0]+sends[1] != 5 {
		t.Fatal("the caught-up node got no reads")
	}
}

// Issue 18: /readyz says which filters answer and the quorum's headroom (the status stays the
// sentries': reads need no filter).
func TestReadyzShowsTheFilters(t *testing.T) {
	up := rpctest.New(t, filterAnswer(0))
	down := rpctest.New(t, filterAnswer(0))
	var sources []sc.NamedFailsafeSource
	for name, srv := range map[string]*rpctest.Server{"up": up, "down": down} {
		c, _ := sc.NewClient(sc.ClientConfig{URL: srv.URL, Name: name})
		sources = append(sources, sc.NamedFailsafeSource{Name: name, Source: c})
	}
	if err := down.Stop(); err != nil {
		t.Fatal(err)
	}
	w := sc.NewFailsafeWatcher(sources, sc.FailsafeWatcherConfig{Needed: 2})
	w.Poll(context.Background())
	sentry := rpctest.New(t, sentryHandler)
	client, _ := sc.NewClient(sc.ClientConfig{URL: up.URL, Name: "up"})
	pool, _ := sc.NewPool([]sc.Endpoint{{Name: "up", Checker: client}}, sc.PoolConfig{})
	deps, _ := accesslist.NewDependencySet([]uint64{901, 902}, 0)
	group, _ := ingress.NewGroup(ingress.GroupConfig{Backends: []ingress.BackendConfig{{Name: "s", URL: sentry.URL}}}, nil, nil)
	cfg := ingress.DefaultConfig()
	cfg.ChainID = 902
	gw, err := ingress.New(cfg, ingress.Deps{Checker: pool, Dependencies: deps, Backends: group, Filters: w.Reachability})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	status, body, err := fasthttpGet(gw.URL() + "/readyz")
	if err != nil || status != 200 || !strings.Contains(body, "filters: 1 of 2 answering, 2 needed (headroom -1): below quorum") ||
		!strings.Contains(body, "down: down (") || strings.Contains(body, "127.0.0.1") {
		t.Fatalf("/readyz %d %q %v", status, body, err)
	}
}

func fasthttpGet(url string) (int, string, error) {
	status, body, err := fasthttp.Get(nil, url)
	return status, string(body), err
}
