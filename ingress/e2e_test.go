package ingress_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/interopgate/interopgate/internal/rpctest"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"go.uber.org/zap/zaptest"

	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/filterapi"
	"github.com/interopgate/interopgate/ingress"
	"github.com/interopgate/interopgate/internal/config"
	"github.com/interopgate/interopgate/store"
	sc "github.com/interopgate/interopgate/supervisorclient"
	"github.com/interopgate/interopgate/supervisorclient/light"
)

// stack is a whole deployment on one machine: devnet chains 901 and 902, the light filter
// behind the filter API, and a gateway for chain 902 whose sentry is chain 902's node.
type stack struct {
	// now is the gateways' clock (default time.Now); tests move it to choose the executing
	// timestamp the gateway checks with.
	now     atomic.Pointer[func() time.Time]
	net     *devnet.Devnet
	checker *light.Checker
	filter  *filterapi.Server
	gw      *ingress.Gateway
	ctx     context.Context
	t       *testing.T
}

func d(v time.Duration) config.Duration { return config.Duration(v) }

// testConfig checks with an executing timestamp two minutes ahead: devnet chains made faster
// than the wall clock (and EmitPending) run ahead of it, and a message must be older than the
// timestamp it is executed at.
func testConfig() ingress.Config {
	cfg := ingress.DefaultConfig()
	cfg.ChainID = 902
	cfg.ExecTimestampOffset = d(2 * time.Minute)
	cfg.RetryDelay = d(200 * time.Millisecond)
	cfg.RetryAttempts = 25
	cfg.SenderRateLimit = 0
	return cfg
}

func newStack(t *testing.T, mutate func(*ingress.Config), stores *store.Stores) *stack {
	t.Helper()
	net, err := devnet.Start(devnet.Config{Accounts: 8}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })
	s := &stack{net: net, t: t}
	wall := time.Now
	s.now.Store(&wall)
	s.startFilter()
	cfg := testConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	s.gw = s.startGateway(cfg, stores)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	s.ctx = ctx
	return s
}

func (s *stack) startFilter() {
	var chains []light.ChainRPC
	for _, c := range s.net.Chains {
		chains = append(chains, light.ChainRPC{ChainID: c.ID(), RPC: c.RPCURL()})
	}
	checker, err := light.New(light.Config{Chains: chains, Dependencies: s.net.DependencySet(), CrossUnsafeHead: light.HeadLatest})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(checker.Close)
	api, err := filterapi.New(checker, filterapi.Config{})
	if err != nil {
		s.t.Fatal(err)
	}
	if err := api.Start("127.0.0.1:0"); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { api.Shutdown(context.Background()) })
	s.checker, s.filter = checker, api
}

func (s *stack) startGateway(cfg ingress.Config, stores *store.Stores) *ingress.Gateway {
	return s.startGatewayTo(cfg, stores, s.filter.URL())
}

// startGatewayTo starts a gateway that asks the filter at filterURL.
func (s *stack) startGatewayTo(cfg ingress.Config, stores *store.Stores, filterURL string) *ingress.Gateway {
	t := s.t
	client, err := sc.NewClient(sc.ClientConfig{URL: filterURL, Name: "light"})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := sc.NewPool([]sc.Endpoint{{Name: "light", Checker: client}}, sc.PoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	watcher := sc.NewFailsafeWatcher([]sc.NamedFailsafeSource{{Name: "light", Source: client}}, sc.FailsafeWatcherConfig{Interval: 50 * time.Millisecond})
	wctx, wcancel := context.WithCancel(context.Background())
	t.Cleanup(wcancel)
	go watcher.Run(wctx)
	group, err := ingress.NewGroup(ingress.GroupConfig{Backends: []ingress.BackendConfig{{Name: "sentry902", URL: s.net.Chain(902).RPCURL(), WSURL: s.net.Chain(902).WSURL()}},
		Timeout: 2 * time.Second}, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := ingress.New(cfg, ingress.Deps{Checker: pool, Failsafe: watcher.Enabled, Dependencies: s.net.DependencySet(),
		Backends: group, Stores: stores, Log: zaptest.NewLogger(t), Now: func() time.Time { return (*s.now.Load())() }})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		gw.Shutdown(ctx)
	})
	return gw
}

type rpcReply struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	return rpctest.Post(t, url, body)
}

func sendRawBody(id int, tx *types.Transaction) string {
	raw, _ := tx.MarshalBinary()
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_sendRawTransaction","params":["0x%x"]}`, id, raw)
}

func (s *stack) send(tx *types.Transaction) (int, rpcReply) {
	status, body := post(s.t, s.gw.URL(), sendRawBody(1, tx))
	var r rpcReply
	if err := json.Unmarshal(body, &r); err != nil {
		s.t.Fatalf("reply %s: %v", body, err)
	}
	return status, r
}

func (s *stack) emit(chain uint64, data string) devnet.Emitted {
	e, err := s.net.Chain(chain).Emit(s.ctx, s.net.Accounts[0], common.Hash{0x55}, []byte(data))
	if err != nil {
		s.t.Fatal(err)
	}
	return e
}

func (s *stack) execTx(account int, nonce uint64, keys []common.Hash) *types.Transaction {
	tx, err := s.net.Chain(902).ExecutingTx(s.ctx, s.net.Accounts[account], nonce, keys)
	if err != nil {
		s.t.Fatal(err)
	}
	return tx
}

// inPool reports whether chain 902's node knows the tx (pending or mined).
func (s *stack) inPool(h common.Hash) bool {
	_, _, err := s.net.Chain(902).Client().TransactionByHash(s.ctx, h)
	return err == nil
}

func TestValidInteropTxIsAcceptedAndMined(t *testing.T) {
	s := newStack(t, nil, nil)
	e := s.emit(901, "valid")
	tx := s.execTx(1, 0, e.Keys())
	status, r := s.send(tx)
	if status != 200 || r.Error != nil || string(r.Result) != `"`+tx.Hash().Hex()+`"` {
		t.Fatalf("status %d reply %+v %s", status, r.Error, r.Result)
	}
	receipt, err := s.net.Chain(902).WaitReceipt(s.ctx, tx.Hash())
	if err != nil || receipt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("not mined: %v %v", receipt, err)
	}
	// A non-interop tx goes straight through.
	plain, _ := types.SignNewTx(s.net.Accounts[2].Key, types.LatestSignerForChainID(tx.ChainId()), &types.DynamicFeeTx{
		ChainID: tx.ChainId(), Nonce: 0, GasTipCap: tx.GasTipCap(), GasFeeCap: tx.GasFeeCap(), Gas: 21000, To: &common.Address{1}})
	if status, r := s.send(plain); status != 200 || r.Error != nil {
		t.Fatalf("plain tx: %d %+v", status, r.Error)
	}
	// Reads are proxied untouched.
	status, body := post(t, s.gw.URL(), `{"jsonrpc":"2.0","id":"x","method":"eth_chainId","params":[]}`)
	if status != 200 || !strings.Contains(string(body), `"result":"0x386"`) || !strings.Contains(string(body), `"id":"x"`) {
		t.Fatalf("eth_chainId: %d %s", status, body)
	}
}

func TestInvalidVariantsAreRejectedAndNeverForwarded(t *testing.T) {
	s := newStack(t, nil, nil)
	e := s.emit(901, "variants")
	wantStatus := map[int]int{sc.CodeConflict: 409, sc.CodeUnknownChain: 404, sc.CodeInvalidParams: 400}
	account := 1
	for _, c := range devnet.Cases(e, e.ID.Timestamp+2, s.net.DependencySet().ExpiryWindow(), 999) {
		switch c.Name {
		case "valid", "same timestamp", "expired", "future block":
			continue // these depend on the executing timestamp, which the gateway chooses
		}
		tx := s.execTx(account, 0, c.Keys)
		account = account%7 + 1
		status, r := s.send(tx)
		if r.Error == nil || r.Error.Code != c.WantCode || status != wantStatus[c.WantCode] {
			t.Errorf("%s: status %d error %+v, want %d / HTTP %d", c.Name, status, r.Error, c.WantCode, wantStatus[c.WantCode])
		}
		if s.inPool(tx.Hash()) {
			t.Errorf("%s: the rejected tx reached the sentry", c.Name)
		}
	}
	// Wrong chain: a tx signed for 901 sent to the 902 gateway.
	tx, _ := s.net.Chain(901).ExecutingTx(s.ctx, s.net.Accounts[3], 0, e.Keys())
	if status, r := s.send(tx); r.Error == nil || status != 400 || !strings.Contains(r.Error.Message, "chain") {
		t.Errorf("wrong chain: %d %+v", status, r.Error)
	}
	// Control: the same message in a well-formed tx is accepted, so each rejection above was
	// about its variant, not the message.
	if status, r := s.send(s.execTx(4, 0, e.Keys())); status != 200 || r.Error != nil {
		t.Errorf("control: %d %+v", status, r.Error)
	}
}

func TestBorderlineTxIsAcceptedAfterRetest(t *testing.T) {
	s := newStack(t, nil, nil)
	p, err := s.net.Chain(901).EmitPending(s.ctx, s.net.Accounts[0], common.Hash{0x56}, []byte("later"))
	if err != nil {
		t.Fatal(err)
	}
	tx := s.execTx(1, 0, p.Keys())
	type result struct {
		status int
		r      rpcReply
	}
	done := make(chan result, 1)
	before := s.checker.Stats()
	go func() {
		status, r := s.send(tx)
		done <- result{status, r}
	}()
	// Mine the initiating block once the filter has read the chain without it: its first
	// upstream request has completed, so the first verdict is "future data".
	deadline := time.Now().Add(30 * time.Second)
	for s.checker.Stats().HTTPRequests == before.HTTPRequests {
		if time.Now().After(deadline) {
			t.Fatal("the gateway never asked the filter")
		}
		time.Sleep(10 * time.Millisecond) // polling the filter's counter against a deadline
	}
	if _, err := p.Mine(s.ctx); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.status != 200 || res.r.Error != nil {
		t.Fatalf("after the re-test: %d %+v", res.status, res.r.Error)
	}
	if n := s.checker.Stats().Checks - before.Checks; n < 2 {
		t.Fatalf("accepted without a re-test (%d filter checks)", n)
	}
	if !s.inPool(tx.Hash()) {
		t.Fatal("accepted tx not at the sentry")
	}
}

func TestFailsafeRejectsEveryInteropTx(t *testing.T) {
	s := newStack(t, nil, nil)
	e := s.emit(901, "failsafe")
	s.filter.SetFailsafe(true)
	tx := s.execTx(1, 0, e.Keys())
	status, r := s.send(tx)
	if r.Error == nil || r.Error.Code != sc.CodeFailsafe || status != 503 {
		t.Fatalf("failsafe: %d %+v", status, r.Error)
	}
	if s.inPool(tx.Hash()) {
		t.Fatal("a tx reached the sentry during failsafe")
	}
	s.filter.SetFailsafe(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, r = s.send(tx)
		if r.Error == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still rejected 10 s after failsafe off: %d %+v", status, r.Error)
		}
		time.Sleep(20 * time.Millisecond) // polling until the watcher sees failsafe off
	}
}

func TestBatchOfHundredIsCheckedTogether(t *testing.T) {
	s := newStack(t, nil, nil)
	var msgs []devnet.Emitted
	for i := range 5 {
		msgs = append(msgs, s.emit(901, fmt.Sprint("batch ", i)))
	}
	var parts []string
	var hashes []common.Hash
	for i := range 100 {
		tx := s.execTx(1+i%7, uint64(i/7), msgs[i%5].Keys())
		hashes = append(hashes, tx.Hash())
		parts = append(parts, sendRawBody(i, tx))
	}
	before := s.checker.Stats()
	status, body := post(t, s.gw.URL(), "["+strings.Join(parts, ",")+"]")
	var replies []rpcReply
	if err := json.Unmarshal(body, &replies); err != nil || status != 200 || len(replies) != 100 {
		t.Fatalf("batch: %d %d replies %v", status, len(replies), err)
	}
	for i, r := range replies {
		if r.Error != nil || string(r.Result) != `"`+hashes[i].Hex()+`"` || string(r.ID) != fmt.Sprint(i) {
			t.Fatalf("reply %d: id %s %+v %s", i, r.ID, r.Error, r.Result)
		}
	}
	after := s.checker.Stats()
	// 100 txs over 5 distinct access lists: at most 5 checks, in one filter batch (the light
	// filter then makes one header and one log request to chain 901, and reads each chain's
	// latest block if the messages are newer than what it read before: the lockstep rule).
	if after.Checks-before.Checks > 5 || after.HTTPRequests-before.HTTPRequests > 4 {
		t.Fatalf("%d filter checks, %d upstream requests for the batch", after.Checks-before.Checks, after.HTTPRequests-before.HTTPRequests)
	}
}

func TestRedisOutageDegradesWithoutFailing(t *testing.T) {
	srv := startRedis(t)
	primary, err := store.NewRedis(store.RedisConfig{URL: srv.URL, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var downs atomic.Int32
	st := store.Fallback(primary, store.NewMemory(store.MemoryConfig{}), store.FallbackConfig{
		OnState: func(up bool) {
			if !up {
				downs.Add(1)
			}
		},
	})
	s := newStack(t, func(c *ingress.Config) { c.IPRateLimit = 1000 }, &st)
	e := s.emit(901, "redis outage")
	if status, r := s.send(s.execTx(1, 0, e.Keys())); status != 200 || r.Error != nil {
		t.Fatalf("with redis: %d %+v", status, r.Error)
	}
	srv.Stop()
	e2 := s.emit(901, "redis down")
	for i := range 3 {
		if status, r := s.send(s.execTx(2+i, 0, e2.Keys())); status != 200 || r.Error != nil {
			t.Fatalf("redis down, tx %d: %d %+v", i, status, r.Error)
		}
	}
	if downs.Load() == 0 {
		t.Fatal("the gateway never noticed Redis was down: the test did not exercise the fallback")
	}
}

// readStatus calls interopgate_getTransactionStatus.
func readStatus(t *testing.T, url string, h common.Hash) store.Status {
	_, body := post(t, url, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"interopgate_getTransactionStatus","params":["%s"]}`, h.Hex()))
	var r struct{ Result store.Status }
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("status reply %s: %v", body, err)
	}
	return r.Result
}

// TestAsyncQueueSurvivesAGatewayRestart: gateway A claims a queued tx and goes away in the
// middle of re-testing it (its filter hangs), so the tx stays leased in Redis; once the lease
// runs out, gateway B, on the same Redis, claims it and forwards it.
func TestAsyncQueueSurvivesAGatewayRestart(t *testing.T) {
	srv := startRedis(t)
	newStores := func() *store.Stores {
		r, err := store.NewRedis(store.RedisConfig{URL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		return &r
	}
	async := func(c *ingress.Config) {
		c.AsyncRetry = true
		c.RetryDelay = d(200 * time.Millisecond)
		c.QueuePoll = d(20 * time.Millisecond)
		c.FilterTimeout = d(time.Second)
		c.QueueLease = d(5 * time.Second)
	}
	s := newStack(t, async, nil)
	// A's filter: "not yet" until stalled, then it hangs.
	var stalled, stalledCalls atomic.Int32
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	hanging := rpctest.New(t, func(method string, _ json.RawMessage) (any, *rpctest.Error) {
		if method == "admin_getFailsafeEnabled" {
			return false, nil
		}
		if stalled.Load() == 1 {
			stalledCalls.Add(1)
			<-release
		}
		return nil, &rpctest.Error{Code: sc.CodeFuture, Message: "future data"}
	})
	cfg := testConfig()
	async(&cfg)
	a := s.startGatewayTo(cfg, newStores(), hanging.URL)
	p, err := s.net.Chain(901).EmitPending(s.ctx, s.net.Accounts[0], common.Hash{0x57}, []byte("queued"))
	if err != nil {
		t.Fatal(err)
	}
	tx := s.execTx(1, 0, p.Keys())
	status, body := post(t, a.URL(), sendRawBody(1, tx))
	if r := reply(t, body); status != 200 || r.Error != nil || string(r.Result) != `"`+tx.Hash().Hex()+`"` {
		t.Fatalf("async admission: %d %s", status, body)
	}
	if st := readStatus(t, a.URL(), tx.Hash()); st.State != ingress.StateQueued {
		t.Fatalf("status %+v, want queued", st)
	}
	// A claims the tx for a re-test, and its filter hangs ...
	stalled.Store(1)
	deadline := time.Now().Add(30 * time.Second)
	for stalledCalls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("gateway A never re-tested the queued tx")
		}
		time.Sleep(10 * time.Millisecond) // polling the filter's counter against a deadline
	}
	// ... and A goes away holding the lease.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := p.Mine(s.ctx); err != nil {
		t.Fatal(err)
	}
	// B, on the same Redis with the real filter, finishes the job once the lease runs out.
	b := s.startGateway(cfg, newStores())
	deadline = time.Now().Add(30 * time.Second)
	for {
		st := readStatus(t, b.URL(), tx.Hash())
		if st.State == ingress.StateForwarded {
			break
		}
		if st.State == ingress.StateDropped || time.Now().After(deadline) {
			t.Fatalf("status %+v", st)
		}
		time.Sleep(20 * time.Millisecond) // polling the status against a deadline
	}
	if !s.inPool(tx.Hash()) {
		t.Fatal("forwarded tx not at the sentry")
	}
}

// TestTimingVariantsThroughTheGateway: the gateway checks at now + exec_timestamp_offset, so its
// clock decides whether a real devnet message is executed at its own timestamp or too late.
func TestTimingVariantsThroughTheGateway(t *testing.T) {
	s := newStack(t, nil, nil)
	e := s.emit(901, "timing")
	window := s.net.DependencySet().ExpiryWindow()
	offset := testConfig().ExecTimestampOffset.D()
	at := func(execTS uint64) {
		f := func() time.Time { return time.Unix(int64(execTS), 0).Add(-offset) }
		s.now.Store(&f)
	}
	cases := []struct {
		name   string
		execTS uint64
		code   int
	}{
		{"same timestamp", e.ID.Timestamp, sc.CodeConflict},
		{"executed before its initiating message", e.ID.Timestamp - 1, sc.CodeConflict},
		{"expired", e.ID.Timestamp + window + 1, sc.CodeConflict},
		{"expires within the timeout", e.ID.Timestamp + window - 100, sc.CodeConflict},
		{"one second later", e.ID.Timestamp + 1, 0},
	}
	for i, c := range cases {
		at(c.execTS)
		tx := s.execTx(1+i, 0, e.Keys())
		status, r := s.send(tx)
		if c.code == 0 {
			if status != 200 || r.Error != nil {
				t.Errorf("%s: %d %+v", c.name, status, r.Error)
			}
			continue
		}
		if status != 409 || r.Error == nil || r.Error.Code != c.code {
			t.Errorf("%s: %d %+v, want %d", c.name, status, r.Error, c.code)
		}
		if s.inPool(tx.Hash()) {
			t.Errorf("%s: the rejected tx reached the sentry", c.name)
		}
	}
}
