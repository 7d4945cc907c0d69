package light_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
	"go.uber.org/zap/zaptest"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/internal/rpctest"
	sc "github.com/interopgate/interopgate/supervisorclient"
	"github.com/interopgate/interopgate/supervisorclient/light"
)

type fixture struct {
	net     *devnet.Devnet
	checker *light.Checker
	ctx     context.Context
}

func setup(t *testing.T, rule light.HeadRule) *fixture {
	t.Helper()
	net, err := devnet.Start(devnet.Config{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })
	checker, err := light.New(light.Config{Chains: chainsOf(net), Dependencies: net.DependencySet(), CrossUnsafeHead: rule})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(checker.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return &fixture{net: net, checker: checker, ctx: ctx}
}

func chainsOf(net *devnet.Devnet) []light.ChainRPC {
	var out []light.ChainRPC
	for _, c := range net.Chains {
		out = append(out, light.ChainRPC{ChainID: c.ID(), RPC: c.RPCURL()})
	}
	return out
}

func request(keys []common.Hash, execChain, execTS uint64) sc.Request {
	return sc.Request{InboxKeys: keys, MinSafety: sc.SafetyCrossUnsafe,
		Executing: sc.ExecutingDescriptor{ChainID: *uint256.NewInt(execChain), Timestamp: execTS, Timeout: 0}}
}

func (f *fixture) emit(t *testing.T, chain uint64, data string) devnet.Emitted {
	t.Helper()
	e, err := f.net.Chain(chain).Emit(f.ctx, f.net.Accounts[0], common.Hash{0xee}, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func expectCode(t *testing.T, name string, v sc.Verdict, want int) {
	t.Helper()
	if want == 0 {
		if !v.Valid() {
			t.Errorf("%s: got %v, want valid", name, v)
		}
		return
	}
	if v.Code != want {
		t.Errorf("%s: got %v, want code %d", name, v, want)
	}
}

func TestEveryCase(t *testing.T) {
	f := setup(t, light.HeadLatest)
	e := f.emit(t, 901, "every case")
	cases := devnet.Cases(e, e.ID.Timestamp+2, f.net.DependencySet().ExpiryWindow(), 999)
	for _, c := range cases {
		expectCode(t, c.Name, f.checker.CheckAccessList(f.ctx, request(c.Keys, 902, c.ExecTimestamp)), c.WantCode)
	}
	// The same cases as one batch give the same verdicts.
	reqs := make([]sc.Request, len(cases))
	for i, c := range cases {
		reqs[i] = request(c.Keys, 902, c.ExecTimestamp)
	}
	for i, v := range f.checker.CheckAccessLists(f.ctx, reqs) {
		expectCode(t, "batch: "+cases[i].Name, v, cases[i].WantCode)
	}
}

func TestExecutingChainRules(t *testing.T) {
	f := setup(t, light.HeadLatest)
	e := f.emit(t, 901, "exec rules")
	expectCode(t, "unknown executing chain", f.checker.CheckAccessList(f.ctx, request(e.Keys(), 999, e.ID.Timestamp+2)), sc.CodeUnknownChain)
	expectCode(t, "zero executing chain", f.checker.CheckAccessList(f.ctx, request(e.Keys(), 0, e.ID.Timestamp+2)), sc.CodeUnknownChain)
	req := request(e.Keys(), 902, e.ID.Timestamp+2)
	req.MinSafety = sc.SafetyFinalized
	expectCode(t, "unsupported safety level", f.checker.CheckAccessList(f.ctx, req), sc.CodeInvalidParams)
	req.MinSafety = sc.SafetyUnsafe
	expectCode(t, "unsafe", f.checker.CheckAccessList(f.ctx, req), 0)
	// A message executed on its own chain is fine for the filter too.
	expectCode(t, "same chain", f.checker.CheckAccessList(f.ctx, request(e.Keys(), 901, e.ID.Timestamp+2)), 0)
	// Timeout rule: the message must still be valid at timestamp+timeout.
	req = request(e.Keys(), 902, e.ID.Timestamp+2)
	req.Executing.Timeout = f.net.DependencySet().ExpiryWindow()
	expectCode(t, "timeout beyond expiry", f.checker.CheckAccessList(f.ctx, req), sc.CodeConflict)
}

func TestFutureBlockPassesOnceMined(t *testing.T) {
	f := setup(t, light.HeadLatest)
	p, err := f.net.Chain(901).EmitPending(f.ctx, f.net.Accounts[1], common.Hash{0x01}, []byte("soon"))
	if err != nil {
		t.Fatal(err)
	}
	req := request(p.Keys(), 902, p.ID.Timestamp+1)
	v := f.checker.CheckAccessList(f.ctx, req)
	if v.Code != sc.CodeOutOfScope || v.Class != sc.ClassRetryLater {
		t.Fatalf("before the block: %v, want retry-later %d (as op-interop-filter)", v, sc.CodeOutOfScope)
	}
	if _, err := p.Mine(f.ctx); err != nil {
		t.Fatal(err)
	}
	// The check before found no new block, so the next head read may wait HeadRefreshInterval.
	rpctest.WaitFor(t, "the message valid after its block", 10*time.Second, func() bool {
		return f.checker.CheckAccessList(f.ctx, req).Valid()
	})
}

func TestReorgInvalidatesMessage(t *testing.T) {
	f := setup(t, light.HeadLatest)
	src := f.net.Chain(901)
	e := f.emit(t, 901, "reorged")
	req := request(e.Keys(), 902, e.ID.Timestamp+100)
	if v := f.checker.CheckAccessList(f.ctx, req); !v.Valid() {
		t.Fatalf("before the reorg: %v", v)
	}
	if err := src.Reorg(src.Head().Number.Uint64() - e.ID.BlockNumber + 1); err != nil {
		t.Fatal(err)
	}
	// The logs of the old block are still cached by its hash; the new canonical block must win.
	if v := f.checker.CheckAccessList(f.ctx, req); v.Code != sc.CodeConflict {
		t.Fatalf("after the reorg: %v, want conflict", v)
	}
}

func TestCrossUnsafeHeadRule(t *testing.T) {
	f := setup(t, light.HeadFinalized)
	e := f.emit(t, 901, "not final yet")
	req := request(e.Keys(), 902, e.ID.Timestamp+2)
	v := f.checker.CheckAccessList(f.ctx, req)
	if v.Code != sc.CodeOutOfScope || v.Class != sc.ClassRetryLater {
		t.Fatalf("cross-unsafe above the finalized head: %v, want out of scope", v)
	}
	req.MinSafety = sc.SafetyUnsafe
	if v := f.checker.CheckAccessList(f.ctx, req); !v.Valid() {
		t.Fatalf("unsafe ignores the head rule: %v", v)
	}
	// The devnet finalizes a block once 8 are on top of it.
	for f.net.Chain(901).Head().Number.Uint64() < e.ID.BlockNumber+9 {
		f.net.Chain(901).Commit()
	}
	req.MinSafety = sc.SafetyCrossUnsafe
	if v := f.checker.CheckAccessList(f.ctx, req); !v.Valid() {
		t.Fatalf("after finalization: %v", v)
	}
}

func TestUpstreamCallsAndCache(t *testing.T) {
	f := setup(t, light.HeadLatest)
	e := f.emit(t, 901, "cached")
	req := request(e.Keys(), 902, e.ID.Timestamp+2)
	before := f.checker.Stats()
	if v := f.checker.CheckAccessList(f.ctx, req); !v.Valid() {
		t.Fatal(v)
	}
	first := f.checker.Stats()
	if got := first.HTTPRequests - before.HTTPRequests; got != 4 {
		t.Fatalf("a first check took %d HTTP requests, want 4 (each chain's latest block for the lockstep rule, headers, logs)", got)
	}
	for range 5 {
		if v := f.checker.CheckAccessList(f.ctx, req); !v.Valid() {
			t.Fatal(v)
		}
	}
	after := f.checker.Stats()
	if got := after.HTTPRequests - first.HTTPRequests; got != 5 {
		t.Fatalf("5 repeated checks took %d HTTP requests, want 5 (headers only)", got)
	}
	if after.CacheHits-first.CacheHits != 5 {
		t.Fatalf("cache hits %d, want 5", after.CacheHits-first.CacheHits)
	}
	// A batch of 20 messages in 10 blocks on one chain: 2 HTTP requests in all, plus a read of
	// each chain's latest block (the messages are newer than what the checker saw).
	var reqs []sc.Request
	for i := range 10 {
		e1 := f.emit(t, 901, "batch")
		_ = i
		reqs = append(reqs, request(e1.Keys(), 902, e1.ID.Timestamp+2), request(e.Keys(), 902, e1.ID.Timestamp+2))
	}
	start := f.checker.Stats()
	for i, v := range f.checker.CheckAccessLists(f.ctx, reqs) {
		if !v.Valid() {
			t.Fatalf("batch item %d: %v", i, v)
		}
	}
	if got := f.checker.Stats().HTTPRequests - start.HTTPRequests; got != 4 {
		t.Fatalf("a batch of 20 checks on one chain took %d HTTP requests, want 4", got)
	}
}

func TestUpstreamDownIsUnavailable(t *testing.T) {
	net, err := devnet.Start(devnet.Config{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	ctx := context.Background()
	e, err := net.Chain(901).Emit(ctx, net.Accounts[0], common.Hash{1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checker, err := light.New(light.Config{Chains: chainsOf(net), Dependencies: net.DependencySet(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer checker.Close()
	if err := checker.Ready(ctx); err != nil {
		t.Fatalf("ready: %v", err)
	}
	net.Chain(901).Close()
	v := checker.CheckAccessList(ctx, request(e.Keys(), 902, e.ID.Timestamp+2))
	if v.Class != sc.ClassUnavailable || v.Err == nil {
		t.Fatalf("source chain down: %v, want unavailable", v)
	}
	if err := checker.Ready(ctx); err == nil {
		t.Fatal("ready with a chain down")
	}
}

func TestReadyChecksChainIDs(t *testing.T) {
	net, err := devnet.Start(devnet.Config{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	swapped := []light.ChainRPC{{ChainID: 901, RPC: net.Chain(902).RPCURL()}, {ChainID: 902, RPC: net.Chain(901).RPCURL()}}
	checker, err := light.New(light.Config{Chains: swapped, Dependencies: net.DependencySet()})
	if err != nil {
		t.Fatal(err)
	}
	defer checker.Close()
	if err := checker.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "serves chain") {
		t.Fatalf("swapped RPCs: %v", err)
	}
}

func TestConfigCheck(t *testing.T) {
	deps, _ := accesslist.NewDependencySet([]uint64{901, 902}, 0)
	ok := []light.ChainRPC{{901, "http://127.0.0.1:1"}, {902, "http://127.0.0.1:2"}}
	bad := map[string]light.Config{
		"no deps":          {Chains: ok},
		"missing rpc":      {Chains: ok[:1], Dependencies: deps},
		"extra chain":      {Chains: append(ok[:2:2], light.ChainRPC{903, "http://x"}), Dependencies: deps},
		"duplicate":        {Chains: append(ok[:2:2], ok[0]), Dependencies: deps},
		"bad url":          {Chains: []light.ChainRPC{{901, "ws://x"}, ok[1]}, Dependencies: deps},
		"bad head rule":    {Chains: ok, Dependencies: deps, CrossUnsafeHead: "cross-safe"},
		"negative timeout": {Chains: ok, Dependencies: deps, Timeout: -1},
	}
	for name, cfg := range bad {
		if _, err := light.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A message claiming a block no node can have (2^63: geth refuses such numbers) coalesced with a
// valid check leaves the valid one valid.
func TestImpossibleBlockSpoilsNoOtherCheck(t *testing.T) {
	f := setup(t, light.HeadLatest)
	e := f.emit(t, 901, "neighbour")
	bad := e.Message()
	bad.BlockNumber = 1 << 63
	vs := f.checker.CheckAccessLists(f.ctx, []sc.Request{
		request(e.Keys(), 902, e.ID.Timestamp+1),
		request(accesslist.EncodeMessages([]accesslist.Message{bad}), 902, e.ID.Timestamp+1),
	})
	if !vs[0].Valid() {
		t.Fatalf("the valid check: %v", vs[0])
	}
	if vs[1].Class != sc.ClassInvalid || vs[1].Code != sc.CodeConflict {
		t.Fatalf("block 2^63, timestamp already reached: %v, want a conflict", vs[1])
	}
}

// A burst needing more calls than geth accepts in one batch (1,000, the devnet's limit as
// geth's) is answered in full: the batches are split.
func TestBurstLargerThanABatchIsAnsweredInFull(t *testing.T) {
	f := setup(t, light.HeadLatest)
	e := f.emit(t, 901, "burst")
	reqs := []sc.Request{request(e.Keys(), 902, e.ID.Timestamp+1)}
	for i := range 1200 {
		m := e.Message()
		m.BlockNumber += uint64(1000 + i) // distinct blocks not mined yet: 1,200 header lookups
		m.Timestamp += uint64(1000 + i)
		reqs = append(reqs, request(accesslist.EncodeMessages([]accesslist.Message{m}), 902, m.Timestamp+1))
	}
	vs := f.checker.CheckAccessLists(f.ctx, reqs)
	if !vs[0].Valid() {
		t.Fatalf("the valid check: %v", vs[0])
	}
	for i, v := range vs[1:] {
		if v.Class != sc.ClassRetryLater || v.Code != sc.CodeOutOfScope {
			t.Fatalf("check %d of the burst: %v, want out of scope (not mined yet)", i+1, v)
		}
	}
}

// An RPC that answers eth_getLogs incompletely (a flaky or load-balanced node behind the URL)
// is not believed: the check is unavailable, not invalid, and nothing is cached, so the same
// check is valid once the RPC answers in full.
func TestIncompleteLogsAreNotBelieved(t *testing.T) {
	net, err := devnet.Start(devnet.Config{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	var truncate atomic.Bool
	truncate.Store(true)
	proxy := forwarder(t, net.Chain(901).RPCURL(), func(body, out []byte) []byte {
		if !truncate.Load() || !bytes.Contains(body, []byte("eth_getLogs")) {
			return out
		}
		var answers []map[string]json.RawMessage
		if json.Unmarshal(out, &answers) != nil {
			return out
		}
		for _, a := range answers {
			a["result"] = json.RawMessage("[]") // every block's logs "lost"
		}
		out, _ = json.Marshal(answers)
		return out
	})
	chains := chainsOf(net)
	chains[0].RPC = proxy.URL
	checker, err := light.New(light.Config{Chains: chains, Dependencies: net.DependencySet(), CrossUnsafeHead: light.HeadLatest})
	if err != nil {
		t.Fatal(err)
	}
	defer checker.Close()
	ctx := context.Background()
	e, err := net.Chain(901).Emit(ctx, net.Accounts[0], common.Hash{0xef}, []byte("truncated"))
	if err != nil {
		t.Fatal(err)
	}
	req := request(e.Keys(), 902, e.ID.Timestamp+1)
	if v := checker.CheckAccessList(ctx, req); v.Class != sc.ClassUnavailable {
		t.Fatalf("with the logs missing: %v, want unavailable (never a conflict)", v)
	}
	truncate.Store(false)
	if v := checker.CheckAccessList(ctx, req); !v.Valid() {
		t.Fatalf("once the RPC answers in full: %v (was the empty answer cached?)", v)
	}
}

// As the reference with its ingestion: checks answer -320400 until every chain has been read
// once, and failsafe goes on by itself while a chain cannot be read for longer than the bound.
func TestWatchReadinessAndFailsafe(t *testing.T) {
	net, err := devnet.Start(devnet.Config{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	proxy := forwarder(t, net.Chain(902).RPCURL(), func(_, out []byte) []byte { return out })
	chains := chainsOf(net)
	chains[1].RPC = proxy.URL
	checker, err := light.New(light.Config{Chains: chains, Dependencies: net.DependencySet(), CrossUnsafeHead: light.HeadLatest})
	if err != nil {
		t.Fatal(err)
	}
	defer checker.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e, err := net.Chain(901).Emit(ctx, net.Accounts[0], common.Hash{0xf0}, []byte("watched"))
	if err != nil {
		t.Fatal(err)
	}
	req := request(e.Keys(), 902, e.ID.Timestamp+1)
	proxy.SetHTTPStatus(503) // chain 902 unreadable from the start
	checker.StartWatch(ctx, 20*time.Millisecond, 300*time.Millisecond)
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond) // polling against a deadline
		}
	}
	if v := checker.CheckAccessList(ctx, req); v.Code != sc.CodeUninitialized {
		t.Fatalf("before every chain was read: %v, want -320400", v)
	}
	proxy.SetHTTPStatus(0)
	waitUntil("the check to pass once both chains are read", func() bool { return checker.CheckAccessList(ctx, req).Valid() })
	if checker.Failsafe() {
		t.Fatal("failsafe with every chain readable")
	}
	proxy.SetHTTPStatus(503)
	waitUntil("failsafe while chain 902 cannot be read", checker.Failsafe)
	proxy.SetHTTPStatus(0)
	waitUntil("failsafe off once chain 902 is back", func() bool { return !checker.Failsafe() })
	// interop_getBlockHashByNumber's source.
	h, err := checker.BlockHash(ctx, 901, e.ID.BlockNumber, false)
	if err != nil || h != net.Chain(901).HeaderByNumber(e.ID.BlockNumber).Hash() {
		t.Fatalf("block hash: %s %v", h, err)
	}
	if h, err := checker.BlockHash(ctx, 901, 0, true); err != nil || h != net.Chain(901).Head().Hash() {
		t.Fatalf("latest block hash: %s %v", h, err)
	}
}

// forwarder is a loopback RPC that forwards every request to target and answers what rewrite
// makes of the target's answer: a flaky or lying node in front of a real one.
func forwarder(t *testing.T, target string, rewrite func(req, resp []byte) []byte) *rpctest.Server {
	return rpctest.NewRaw(t, func(body []byte) []byte {
		resp, err := http.Post(target, "application/json", bytes.NewReader(body))
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return rewrite(body, out)
	})
}
