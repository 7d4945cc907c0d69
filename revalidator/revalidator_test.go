package revalidator

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"go.uber.org/zap/zaptest"

	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/filterapi"
	"github.com/interopgate/interopgate/internal/config"
	"github.com/interopgate/interopgate/internal/rpctest"
	"github.com/interopgate/interopgate/store"
	sc "github.com/interopgate/interopgate/supervisorclient"
	"github.com/interopgate/interopgate/supervisorclient/light"
)

// rig is chains 901 and 902, the light filter behind the filter API as the upstream (counted
// by an HTTP proxy), and a revalidator beside chain 902's node, served on loopback.
type rig struct {
	t        *testing.T
	ctx      context.Context
	net      *devnet.Devnet
	filter   *filterapi.Server
	upstream atomic.Int64 // HTTP requests that reached the upstream filter
	r        *Revalidator
	srv      *filterapi.Server
}

func newRig(t *testing.T, feed store.Feed, mutate func(*Config)) *rig {
	return newRigWith(t, Deps{Feed: feed}, mutate)
}

// newRigWith takes the optional deps (feed, invalid set) from d.
func newRigWith(t *testing.T, d Deps, mutate func(*Config)) *rig {
	return newRigOn(t, devnet.Config{Accounts: 40}, nil, d, mutate)
}

// newRigOn starts the devnet of netCfg and serves the revalidator on ln (nil: a free port).
func newRigOn(t *testing.T, netCfg devnet.Config, ln net.Listener, d Deps, mutate func(*Config)) *rig {
	t.Helper()
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	net, err := devnet.Start(netCfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	g := &rig{t: t, ctx: ctx, net: net}
	var chains []light.ChainRPC
	for _, c := range net.Chains {
		chains = append(chains, light.ChainRPC{ChainID: c.ID(), RPC: c.RPCURL()})
	}
	checker, err := light.New(light.Config{Chains: chains, Dependencies: net.DependencySet(), CrossUnsafeHead: light.HeadLatest})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(checker.Close)
	if g.filter, err = filterapi.New(checker, filterapi.Config{AllowSetFailsafe: true}); err != nil {
		t.Fatal(err)
	}
	if err := g.filter.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.filter.Shutdown(context.Background()) })
	client, err := sc.NewClient(sc.ClientConfig{URL: rpctest.CountingProxy(t, g.filter.URL(), &g.upstream), Name: "light", MaxBatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := sc.NewPool([]sc.Endpoint{{Name: "light", Checker: client}}, sc.PoolConfig{})
	// The failsafe is polled around the counting proxy: only checks are counted.
	direct, _ := sc.NewClient(sc.ClientConfig{URL: g.filter.URL(), Name: "light"})
	watcher := sc.NewFailsafeWatcher([]sc.NamedFailsafeSource{{Name: "light", Source: direct}}, sc.FailsafeWatcherConfig{Interval: 50 * time.Millisecond})
	wctx, wcancel := context.WithCancel(context.Background())
	t.Cleanup(wcancel)
	go watcher.Run(wctx)
	cfg := DefaultConfig()
	cfg.ChainID = 902
	// Devnet chains made on demand run ahead of the wall clock, each at its own pace: check
	// as if the next block were two minutes on, so a fresh message is older than it.
	cfg.BlockTime = config.Duration(2 * time.Minute)
	if mutate != nil {
		mutate(&cfg)
	}
	g.r, err = New(ctx, cfg, Deps{Upstream: pool, Failsafe: watcher.Enabled, UpstreamAnswering: watcher.QuorumAnswers, Dependencies: net.DependencySet(),
		NodeURL: net.Chain(902).RPCURL(), Feed: d.Feed, Invalid: d.Invalid, Statuses: d.Statuses, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.r.Close)
	if g.srv, err = NewServer(g.r, filterapi.Config{}); err != nil {
		t.Fatal(err)
	}
	g.srv.Serve(ln)
	t.Cleanup(func() { g.srv.Shutdown(context.Background()) })
	return g
}

// cycle runs one revalidation cycle for chain 902's current head.
func (g *rig) cycle() {
	g.t.Helper()
	h, err := g.r.node.head(g.ctx)
	if err != nil {
		g.t.Fatal(err)
	}
	g.r.cycle(g.ctx, h)
}

func (g *rig) emit(data string) devnet.Emitted {
	e, err := g.net.Chain(901).Emit(g.ctx, g.net.Accounts[0], common.Hash{0x77}, []byte(data))
	if err != nil {
		g.t.Fatal(err)
	}
	return e
}

// pend sends an executing tx straight to chain 902's node, where it stays pending.
func (g *rig) pend(account int, keys []common.Hash) *types.Transaction {
	g.t.Helper()
	tx, err := g.net.Chain(902).ExecutingTx(g.ctx, g.net.Accounts[account], 0, keys)
	if err != nil {
		g.t.Fatal(err)
	}
	if err := g.net.Chain(902).Client().SendTransaction(g.ctx, tx); err != nil {
		g.t.Fatal(err)
	}
	return tx
}

func (g *rig) call(method, params string) json.RawMessage {
	g.t.Helper()
	status, body := rpctest.Post(g.t, g.srv.URL(), fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":%s}`, method, params))
	var r struct {
		Result json.RawMessage
		Error  *struct {
			Code    int
			Message string
		}
	}
	if err := json.Unmarshal(body, &r); err != nil || status != 200 {
		g.t.Fatalf("%s: %d %s", method, status, body)
	}
	if r.Error != nil {
		return json.RawMessage(fmt.Sprintf(`{"code":%d}`, r.Error.Code))
	}
	return r.Result
}

func hexKeys(keys []common.Hash) string {
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = `"` + k.Hex() + `"`
	}
	return "[" + strings.Join(s, ",") + "]"
}

func TestPoolTxsAreTrackedCheckedAndLeaveWhenMined(t *testing.T) {
	g := newRig(t, nil, nil)
	e := g.emit("tracked")
	tx := g.pend(1, e.Keys())
	plain := g.net.Chain(902)
	g.cycle()
	if !g.r.Tracked(tx.Hash()) {
		t.Fatal("a pending interop tx is not tracked")
	}
	res := g.r.CheckTransactions([][]byte{tx.Hash().Bytes()}, g.r.Next())
	if len(res.Invalid) != 0 || len(res.Unknown) != 0 {
		t.Fatalf("after a cycle: %+v", res)
	}
	plain.Commit() // mines the tx
	g.cycle()
	if g.r.Tracked(tx.Hash()) {
		t.Fatal("a mined tx is still tracked")
	}
	res = g.r.CheckTransactions([][]byte{tx.Hash().Bytes()}, g.r.Next())
	if len(res.Unknown) != 1 {
		t.Fatalf("an untracked hash must be unknown, never guessed valid: %+v", res)
	}
}

func TestACycleSendsOneBatchPerMaxBatch(t *testing.T) {
	g := newRig(t, nil, nil)
	var txs []*types.Transaction
	for i := range 25 {
		txs = append(txs, g.pend(1+i, g.emit(fmt.Sprint("batch ", i)).Keys()))
	}
	before := g.upstream.Load()
	g.cycle()
	// 25 distinct messages in the presumed block, 10 per upstream batch: 3 HTTP requests.
	if n := g.upstream.Load() - before; n != 3 {
		t.Fatalf("%d upstream requests for 25 txs, want ceil(25/10) = 3", n)
	}
	if s := g.r.Stats(); s.CycleChecks != 25 || s.UpstreamRounds != 1 {
		t.Fatalf("stats %+v", s)
	}
	hashes := make([][]byte, len(txs))
	for i, tx := range txs {
		hashes[i] = tx.Hash().Bytes()
	}
	if res := g.r.CheckTransactions(hashes, g.r.Next()); len(res.Invalid)+len(res.Unknown) != 0 {
		t.Fatalf("%+v", res)
	}
}

// The execution clients' own checks, in their dialects, are answered from memory once a cycle
// has run: no upstream request.
func TestClientChecksAreAnsweredFromMemory(t *testing.T) {
	g := newRig(t, nil, nil)
	e := g.emit("dialects")
	g.pend(1, e.Keys())
	g.cycle()
	before := g.upstream.Load()
	ts := g.r.Next().Timestamp
	gethStyle := fmt.Sprintf(`[%s,"cross-unsafe",{"chainID":"902","timestamp":"0x%x","timeout":"0x15180"}]`, hexKeys(e.Keys()), ts)
	rethStyle := fmt.Sprintf(`[%s,"cross-unsafe",{"chainID":"0x386","timestamp":"0x%x"}]`, hexKeys(e.Keys()), ts)
	for _, c := range []struct{ method, params string }{
		{"supervisor_checkAccessList", gethStyle},
		{"interop_checkAccessList", rethStyle},
		{"interop_checkAccessList", gethStyle},
	} {
		if got := g.call(c.method, c.params); string(got) != "null" {
			t.Fatalf("%s: %s", c.method, got)
		}
	}
	if n := g.upstream.Load() - before; n != 0 {
		t.Fatalf("%d upstream requests for checks of known messages", n)
	}
	// A message executed at its own timestamp is refused from memory too.
	same := fmt.Sprintf(`[%s,"cross-unsafe",{"chainID":"902","timestamp":"0x%x"}]`, hexKeys(e.Keys()), e.ID.Timestamp)
	if got := g.call("interop_checkAccessList", same); !strings.Contains(string(got), fmt.Sprint(sc.CodeConflict)) {
		t.Fatalf("same timestamp: %s", got)
	}
	// An unknown message goes upstream once, then is known.
	other := g.emit("unknown")
	q := fmt.Sprintf(`[%s,"cross-unsafe",{"chainID":"902","timestamp":"0x%x"}]`, hexKeys(other.Keys()), ts)
	for range 2 {
		if got := g.call("interop_checkAccessList", q); string(got) != "null" {
			t.Fatalf("unknown message: %s", got)
		}
	}
	if n := g.upstream.Load() - before; n != 1 {
		t.Fatalf("%d upstream requests for two checks of a new message, want 1", n)
	}
}

// A message invalidated by a reorg of its source chain is found by the next cycle, published,
// and the builder's call reports its tx.
func TestReorgedMessageIsFoundWithinOneCycle(t *testing.T) {
	published := store.NewMemory(store.MemoryConfig{})
	g := newRigWith(t, Deps{Invalid: published.Invalid}, nil)
	g.emit("padding")
	e := g.emit("reorged")
	tx := g.pend(1, e.Keys())
	g.cycle()
	if len(g.r.InvalidTransactions()) != 0 {
		t.Fatalf("invalid before the reorg: %+v", g.r.InvalidTransactions())
	}
	if err := g.net.Chain(901).Reorg(1); err != nil {
		t.Fatal(err)
	}
	g.cycle()
	inv := g.r.InvalidTransactions()
	if len(inv) != 1 || inv[0].Hash != tx.Hash() || inv[0].Code != sc.CodeConflict {
		t.Fatalf("after the reorg: %+v", inv)
	}
	var listed []Invalid
	if err := json.Unmarshal(g.call(MethodInvalidTransactions, "[]"), &listed); err != nil || len(listed) != 1 {
		t.Fatalf("interopgate_invalidTransactions: %+v %v", listed, err)
	}
	if set, _ := published.Invalid.Txs(g.ctx); len(set) != 1 || set[0] != tx.Hash().Hex() {
		t.Fatalf("published set %v", set)
	}
	var res CheckResult
	before := g.upstream.Load()
	if err := json.Unmarshal(g.call(MethodCheckTransactions, `[["`+tx.Hash().Hex()+`"]]`), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Invalid) != 1 || res.Invalid[0].Hash != tx.Hash() || g.upstream.Load() != before {
		t.Fatalf("builder's call: %+v (upstream requests %d)", res, g.upstream.Load()-before)
	}
}

func TestFailsafeIsMirrored(t *testing.T) {
	g := newRig(t, nil, nil)
	e := g.emit("failsafe")
	g.pend(1, e.Keys())
	g.cycle()
	g.filter.SetFailsafe(true)
	deadline := time.Now().Add(time.Second)
	for string(g.call("admin_getFailsafeEnabled", "[]")) != "true" {
		if time.Now().After(deadline) {
			t.Fatal("the upstream failsafe was not mirrored within 1 s")
		}
		time.Sleep(10 * time.Millisecond) // polling against a deadline
	}
	q := fmt.Sprintf(`[%s,"cross-unsafe",{"chainID":"902","timestamp":"0x%x"}]`, hexKeys(e.Keys()), g.r.Next().Timestamp)
	if got := g.call("interop_checkAccessList", q); !strings.Contains(string(got), fmt.Sprint(sc.CodeFailsafe)) {
		t.Fatalf("check during failsafe: %s", got)
	}
	g.filter.SetFailsafe(false)
	for string(g.call("admin_getFailsafeEnabled", "[]")) != "false" {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatal("failsafe never went off")
		}
		time.Sleep(10 * time.Millisecond) // polling against a deadline
	}
	// The transition dropped what was known: the next check goes upstream.
	before := g.upstream.Load()
	if got := g.call("interop_checkAccessList", q); string(got) != "null" {
		t.Fatalf("after failsafe: %s", got)
	}
	if g.upstream.Load() == before {
		t.Fatal("a verdict from before the failsafe was served from memory")
	}
}

// Txs announced on the gateway's feed are tracked before the node has them.
func TestFeedTxsAreTracked(t *testing.T) {
	mem := store.NewMemory(store.MemoryConfig{})
	g := newRig(t, mem.Feed, nil)
	e := g.emit("feed")
	tx := g.announce(mem.Feed, 1, e)
	g.cycle()
	if !g.r.Tracked(tx.Hash()) {
		t.Fatal("a tx from the feed is not tracked")
	}
	if res := g.r.CheckTransactions([][]byte{tx.Hash().Bytes()}, g.r.Next()); len(res.Invalid)+len(res.Unknown) != 0 {
		t.Fatalf("%+v", res)
	}
}

// /readyz follows what the revalidator needs: a cycle, the filters answering, failsafe off.
func TestReadinessFollowsTheFilters(t *testing.T) {
	g := newRig(t, nil, nil)
	e := g.emit("ready")
	g.pend(1, e.Keys())
	if err := g.r.Ready(g.ctx); err == nil {
		t.Fatal("ready before any cycle")
	}
	g.cycle()
	if err := g.r.Ready(g.ctx); err != nil {
		t.Fatalf("after a cycle: %v", err)
	}
	g.filter.SetFailsafe(true)
	deadline := time.Now().Add(5 * time.Second)
	for g.r.Ready(g.ctx) == nil {
		if time.Now().After(deadline) {
			t.Fatal("still ready with the filters' failsafe on")
		}
		time.Sleep(10 * time.Millisecond) // polling against a deadline
	}
	g.filter.SetFailsafe(false)
	for g.r.Ready(g.ctx) != nil {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("not ready again after failsafe off: %v", g.r.Ready(g.ctx))
		}
		time.Sleep(10 * time.Millisecond) // polling against a deadline
	}
	// The filter goes away: the next round gets no answer.
	if err := g.filter.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.r.msgs.clear() // so the cycle has something to ask
	g.cycle()
	if err := g.r.Ready(g.ctx); err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("with the filter gone: %v", err)
	}
}

// Issue 15 (found as a new user would): with an empty pool there is nothing to ask, and the
// only filter gone was still reported ready (200 and 1) with nothing logged. Readiness follows
// the filters whatever the pool holds.
func TestReadinessWithAnEmptyPoolFollowsTheFilters(t *testing.T) {
	g := newRig(t, nil, nil)
	g.cycle()
	rpctest.WaitFor(t, "ready with an empty pool", 10*time.Second, func() bool { return g.r.Ready(g.ctx) == nil })
	if err := g.filter.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.cycle()
	rpctest.WaitFor(t, "not ready with the only filter gone", 10*time.Second, func() bool {
		err := g.r.Ready(g.ctx)
		return err != nil && strings.Contains(err.Error(), "do not answer")
	})
}

// Issue 15 (found as a new user would): a tx announced on the feed and mined before a pool read
// saw it was listed as invalid, logged and counted for the InteropgateInvalidTxInSequencerPool
// alert after a failsafe flip. Only txs in the node's pool are listed, and a failsafe is not a
// verdict on a tx (it has its own gauge and alert).
func TestAMinedTxIsNeverReportedInvalid(t *testing.T) {
	mem := store.NewMemory(store.MemoryConfig{})
	g := newRig(t, mem.Feed, nil)
	e := g.emit("mined before a pool read")
	tx := g.announce(mem.Feed, 1, e)
	if err := g.net.Chain(902).Client().SendTransaction(g.ctx, tx); err != nil {
		t.Fatal(err)
	}
	if _, err := g.net.Chain(902).WaitReceipt(g.ctx, tx.Hash()); err != nil {
		t.Fatal(err)
	}
	g.cycle() // reads the feed: the tx is tracked from it, and not in the pool
	g.filter.SetFailsafe(true)
	rpctest.WaitFor(t, "the failsafe seen", 5*time.Second, g.r.FailsafeEnabled)
	g.cycle()
	if inv := g.r.InvalidTransactions(); len(inv) != 0 {
		t.Fatalf("listed as invalid: %+v", inv)
	}
}

// Issue 15, item 4: a reorg on a source chain is seen by watching that chain's head, and the
// messages it touches are checked again at once, not at the sequencer's next head (here the
// sequencer's head is not read at all).
func TestSourceReorgIsSeenWithoutASequencerHead(t *testing.T) {
	g := newRigWith(t, Deps{}, func(c *Config) {
		c.HeadPoll = config.Duration(time.Hour)
		c.PoolPoll = config.Duration(time.Hour)
		c.Recheck = config.Duration(time.Hour)
		c.SourcePoll = config.Duration(50 * time.Millisecond)
	})
	// The rig's revalidator has no sources: build one that watches chain 901.
	g.r.d.Sources = []Source{{ChainID: 901, URL: g.net.Chain(901).RPCURL()}}
	e := g.emit("reorged on its own")
	tx := g.pend(1, e.Keys())
	g.cycle()
	if len(g.r.InvalidTransactions()) != 0 {
		t.Fatal("invalid before the reorg")
	}
	ctx, cancel := context.WithCancel(g.ctx)
	defer cancel()
	go g.r.Run(ctx)
	// The watch has seen 901's head before the reorg.
	rpctest.WaitFor(t, "the source watch's first heads", 5*time.Second, func() bool { return g.r.Stats().SourceHeads >= 2 })
	if err := g.net.Chain(901).Reorg(1); err != nil {
		t.Fatal(err)
	}
	rpctest.WaitFor(t, "the reorged message's tx found invalid", 5*time.Second, func() bool {
		inv := g.r.InvalidTransactions()
		return len(inv) == 1 && inv[0].Hash == tx.Hash()
	})
}

// Issue 15, item 3: a tx the gateway forwarded (announced on its feed) that the node never took
// (refused while its gate was on, or lost between the sentries and the sequencer) is sent to the
// node once it has been missing for a while, if still valid.
func TestAFeedTxTheNodeNeverTookIsSentThere(t *testing.T) {
	mem := store.NewMemory(store.MemoryConfig{})
	g := newRig(t, mem.Feed, nil)
	e := g.emit("never reached the sequencer")
	tx := g.announce(mem.Feed, 1, e)
	g.cycle()
	if g.net.Chain(902).InPool(tx.Hash()) {
		t.Fatal("sent before it had been missing for a while")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !g.net.Chain(902).InPool(tx.Hash()) {
		if time.Now().After(deadline) {
			t.Fatal("a valid feed tx missing from the node's pool was never sent there")
		}
		time.Sleep(200 * time.Millisecond) // polling against a deadline; each round a cycle
		g.cycle()
	}
	if g.r.Stats().Restored != 1 {
		t.Fatalf("restored %d", g.r.Stats().Restored)
	}
}

// announce signs a tx of account executing e and publishes it on feed as the gateway does for a
// tx it forwarded, without sending it to the node.
func (g *rig) announce(feed store.Feed, account int, e devnet.Emitted) *types.Transaction {
	g.t.Helper()
	tx, err := g.net.Chain(902).ExecutingTx(g.ctx, g.net.Accounts[account], 0, e.Keys())
	if err != nil {
		g.t.Fatal(err)
	}
	raw, _ := tx.MarshalBinary()
	if err := feed.Publish(g.ctx, store.FeedEntry{Hash: tx.Hash().Hex(), Raw: raw}); err != nil {
		g.t.Fatal(err)
	}
	return tx
}
