package light_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"go.uber.org/zap/zaptest"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/internal/rpctest"
	sc "github.com/interopgate/interopgate/supervisorclient"
	"github.com/interopgate/interopgate/supervisorclient/light"
)

// A message newer than the slowest chain of the set is not judged yet, whatever its own chain
// says, as op-interop-filter's lockstep rule: -321100 until every chain has reached it.
func TestNothingNewerThanTheSlowestChain(t *testing.T) {
	f := setup(t, light.HeadLatest)
	src, slow := f.net.Chain(901), f.net.Chain(902)
	p, err := src.EmitPending(f.ctx, f.net.Accounts[1], common.Hash{0x02}, []byte("ahead"))
	if err != nil {
		t.Fatal(err)
	}
	src.CommitAlone() // 901 mines the message; 902 stays one block behind
	if r, err := src.Client().TransactionReceipt(f.ctx, p.TxHash); err != nil || r.BlockNumber.Uint64() != p.ID.BlockNumber {
		t.Fatalf("the message was not mined where predicted: %v %v", r, err)
	}
	if slow.Head().Time >= p.ID.Timestamp {
		t.Fatalf("chain 902 at %d is not behind the message at %d", slow.Head().Time, p.ID.Timestamp)
	}
	for _, safety := range []sc.SafetyLevel{sc.SafetyUnsafe, sc.SafetyCrossUnsafe} {
		req := request(p.Keys(), 902, p.ID.Timestamp+5)
		req.MinSafety = safety
		v := f.checker.CheckAccessList(f.ctx, req)
		if v.Class != sc.ClassRetryLater || v.Code != sc.CodeOutOfScope || !strings.Contains(v.Message, "not yet ingested") {
			t.Fatalf("%s, chain 902 behind: %v, want -321100 not yet ingested", safety, v)
		}
		// The rule comes first, as in the reference: even a message whose timing is wrong
		// (executing before initiating) is "not yet" while a chain lags.
		early := request(p.Keys(), 902, p.ID.Timestamp-1)
		early.MinSafety = safety
		if v := f.checker.CheckAccessList(f.ctx, early); v.Code != sc.CodeOutOfScope {
			t.Fatalf("%s, executing before initiating, chain 902 behind: %v, want -321100", safety, v)
		}
	}
	slow.CommitAlone()
	req := request(p.Keys(), 902, p.ID.Timestamp+5)
	rpctest.WaitFor(t, "the message valid once chain 902 reached it", 10*time.Second, func() bool {
		return f.checker.CheckAccessList(f.ctx, req).Valid()
	})
}

// A fresh message is judged as soon as every chain has its block, not at the next watch tick:
// the checker reads the lagging chains' heads on demand.
func TestFreshMessageNeedsNoWatchTick(t *testing.T) {
	net, err := devnet.Start(devnet.Config{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	checker, err := light.New(light.Config{Chains: chainsOf(net), Dependencies: net.DependencySet()})
	if err != nil {
		t.Fatal(err)
	}
	defer checker.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	checker.StartWatch(ctx, time.Hour, 0) // one read at start, then none for an hour
	e, err := net.Chain(901).Emit(ctx, net.Accounts[0], common.Hash{0x03}, []byte("fresh"))
	if err != nil {
		t.Fatal(err)
	}
	if v := checker.CheckAccessList(ctx, request(e.Keys(), 902, e.ID.Timestamp+1)); !v.Valid() {
		t.Fatalf("fresh message, both chains at its block: %v", v)
	}
}

// An attacker naming messages from the far future makes the checker read the chains' heads at
// most once per HeadRefreshInterval, however many checks it sends.
func TestFutureMessagesCostOneHeadReadPerInterval(t *testing.T) {
	f := setup(t, light.HeadLatest)
	e := f.emit(t, 901, "anchor")
	checker, err := light.New(light.Config{Chains: chainsOf(f.net), Dependencies: f.net.DependencySet(), HeadRefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer checker.Close()
	if v := checker.CheckAccessList(f.ctx, request(e.Keys(), 902, e.ID.Timestamp+1)); !v.Valid() {
		t.Fatalf("anchor: %v", v) // every chain read once
	}
	before := checker.Stats()
	const floods = 200
	for i := range floods {
		id := e.ID
		id.Timestamp += uint64(1000 + i)
		id.BlockNumber += uint64(1000 + i)
		keys := accesslist.EncodeMessages([]accesslist.Message{id.Message(e.PayloadHash)})
		v := checker.CheckAccessList(f.ctx, request(keys, 902, id.Timestamp+1))
		if v.Code != sc.CodeOutOfScope {
			t.Fatalf("future message %d: %v, want -321100", i, v)
		}
	}
	after := checker.Stats()
	if got := after.HTTPRequests - before.HTTPRequests; got > 2 {
		t.Fatalf("%d future messages cost %d requests to the chains, want at most one head read per chain (2)", floods, got)
	}
}
