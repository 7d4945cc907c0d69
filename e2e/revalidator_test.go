//go:build opgeth

package e2e

import (
	"context"
	"math/big"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/filterapi"
	"github.com/interopgate/interopgate/internal/config"
	"github.com/interopgate/interopgate/internal/rpctest"
	"github.com/interopgate/interopgate/revalidator"
	"github.com/interopgate/interopgate/store"
	sc "github.com/interopgate/interopgate/supervisorclient"
	"github.com/interopgate/interopgate/supervisorclient/light"
)

// TestOpGethMempoolAsksTheRevalidator: the real op-geth, its interop RPC pointed at the
// revalidator and its re-check interval at 1 s. A valid interop tx is admitted (answered from
// memory) and mined; a tx whose initiating block is reorged away on the source chain is dropped
// from op-geth's pool at its next re-check and never mined; every op-geth call is answered from
// memory, the upstream filter seeing only the cycles' batches.
func TestOpGethMempoolAsksTheRevalidator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := zap.NewNop()
	src, err := devnet.Start(devnet.Config{ChainIDs: []uint64{901}}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	deps, _ := accesslist.NewDependencySet([]uint64{901, 902}, 0)

	// op-geth must be told the revalidator's URL before the revalidator can read op-geth.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	revalAddr := ln.Addr().String()
	ln.Close()
	alloc := types.GenesisAlloc{}
	for i := range 4 {
		alloc[devnet.DevAccount(i).Address] = types.Account{Balance: new(big.Int).Mul(big.NewInt(1e6), big.NewInt(1e18))}
	}
	// Its genesis a little ahead of the clock: its blocks are later than any message the
	// source chain emits during the test, as a chain's next block is later than what it executes.
	og := startOpGeth(t, opGethConfig{ChainID: 902, Alloc: alloc, GenesisTime: uint64(time.Now().Unix()) + 10, BlockTime: 2,
		InteropRPC: "http://" + revalAddr, FilterInterval: time.Second})

	// The upstream: the light filter over both chains, behind the filter API, counted.
	checker, err := light.New(light.Config{Chains: []light.ChainRPC{{ChainID: 901, RPC: src.Chain(901).RPCURL()}, {ChainID: 902, RPC: og.RPCURL()}},
		Dependencies: deps, CrossUnsafeHead: light.HeadLatest})
	if err != nil {
		t.Fatal(err)
	}
	defer checker.Close()
	api, err := filterapi.New(checker, filterapi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer api.Shutdown(context.Background())
	var upstream atomic.Int64
	client, _ := sc.NewClient(sc.ClientConfig{URL: rpctest.CountingProxy(t, api.URL(), &upstream), Name: "light"})
	pool, _ := sc.NewPool([]sc.Endpoint{{Name: "light", Checker: client}}, sc.PoolConfig{})
	direct, _ := sc.NewClient(sc.ClientConfig{URL: api.URL(), Name: "light"})
	watcher := sc.NewFailsafeWatcher([]sc.NamedFailsafeSource{{Name: "light", Source: direct}}, sc.FailsafeWatcherConfig{Interval: 100 * time.Millisecond})
	go watcher.Run(ctx)

	// The revalidator beside op-geth, with the gateway's feed (in memory here).
	feed := store.NewMemory(store.MemoryConfig{})
	cfg := revalidator.DefaultConfig()
	cfg.ChainID = 902
	cfg.ExecutionClient = revalidator.ClientOpGeth // its own re-check drops what turned invalid
	cfg.BlockTime = config.Duration(2 * time.Second)
	cfg.HeadPoll = config.Duration(50 * time.Millisecond)
	cfg.PoolPoll = config.Duration(100 * time.Millisecond)
	cfg.Recheck = config.Duration(time.Second)
	r, err := revalidator.New(ctx, cfg, revalidator.Deps{Upstream: pool, Failsafe: watcher.Enabled, Dependencies: deps,
		NodeURL: og.RPCURL(), Feed: feed.Feed, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	srv, err := revalidator.NewServer(r, filterapi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(revalAddr); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	go r.Run(rctx)
	og.Mine(ctx) // op-geth refuses interop txs while its head is the genesis

	// known waits until the revalidator knows tx's messages valid (a cycle checked them).
	known := func(tx *types.Transaction) {
		t.Helper()
		rpctest.WaitFor(t, "a cycle to check "+tx.Hash().Hex(), 30*time.Second, func() bool {
			res := r.CheckTransactions([][]byte{tx.Hash().Bytes()}, r.Next())
			return len(res.Invalid) == 0 && len(res.Unknown) == 0
		})
	}
	// announce publishes tx on the feed, as the gateway does once it accepted it.
	announce := func(tx *types.Transaction) {
		raw, _ := tx.MarshalBinary()
		if err := feed.Feed.Publish(ctx, store.FeedEntry{Hash: tx.Hash().Hex(), Raw: raw}); err != nil {
			t.Fatal(err)
		}
	}
	executing := func(account int, keys []common.Hash) *types.Transaction {
		to := accesslist.CrossL2InboxAddress
		return types.MustSignNewTx(devnet.DevAccount(account).Key, types.LatestSignerForChainID(big.NewInt(902)), &types.DynamicFeeTx{
			ChainID: big.NewInt(902), Nonce: 0, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(1e11), Gas: 100_000, To: &to,
			AccessList: types.AccessList{{Address: accesslist.CrossL2InboxAddress, StorageKeys: keys}},
		})
	}

	// 1. A valid interop tx, announced and checked before op-geth sees it: admitted, mined.
	e, err := src.Chain(901).Emit(ctx, src.Accounts[0], common.Hash{0x0e}, []byte("valid"))
	if err != nil {
		t.Fatal(err)
	}
	tx := executing(1, e.Keys())
	announce(tx)
	known(tx)
	if err := og.client.SendTransaction(ctx, tx); err != nil {
		t.Fatalf("op-geth refused a valid interop tx: %v", err)
	}
	og.Mine(ctx)
	if receipt, err := og.client.TransactionReceipt(ctx, tx.Hash()); err != nil || receipt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("the valid tx was not mined: %v %v", receipt, err)
	}

	// 2. A tx whose initiating block is reorged away after op-geth admitted it.
	e2, err := src.Chain(901).Emit(ctx, src.Accounts[0], common.Hash{0x0e}, []byte("reorged"))
	if err != nil {
		t.Fatal(err)
	}
	tx2 := executing(2, e2.Keys())
	announce(tx2)
	known(tx2)
	if err := og.client.SendTransaction(ctx, tx2); err != nil {
		t.Fatalf("op-geth refused the second tx before the reorg: %v", err)
	}
	if !og.inPool(tx2.Hash()) {
		t.Fatal("the second tx is not in op-geth's pool")
	}
	if err := src.Chain(901).Reorg(1); err != nil {
		t.Fatal(err)
	}
	reorgAt := time.Now()
	rpctest.WaitFor(t, "op-geth to drop the tx whose message was reorged away", 30*time.Second, func() bool { return !og.inPool(tx2.Hash()) })
	t.Logf("op-geth dropped the tx %s after the source-chain reorg", time.Since(reorgAt).Round(time.Millisecond))
	og.Mine(ctx)
	if _, err := og.client.TransactionReceipt(ctx, tx2.Hash()); err == nil {
		t.Fatal("a tx whose initiating message was reorged away was mined")
	}
	found := false
	for _, inv := range r.InvalidTransactions() {
		found = found || inv.Hash == tx2.Hash()
	}
	if !found {
		t.Fatalf("the revalidator did not publish the invalid tx: %+v", r.InvalidTransactions())
	}

	// 3. Every op-geth call (ingress checks, the 1 s re-checks) was answered from memory: the
	// upstream saw only the cycles' rounds (one batch each: fewer messages than a batch holds).
	s := r.Stats()
	if s.Misses != 0 {
		t.Fatalf("%d of op-geth's checks went upstream (%d answered from memory)", s.Misses, s.Hits)
	}
	if s.Hits < 2 {
		t.Fatalf("op-geth asked the revalidator %d times", s.Hits)
	}
	if got := upstream.Load(); got != s.UpstreamRounds {
		t.Fatalf("%d upstream requests for %d cycle rounds", got, s.UpstreamRounds)
	}
	t.Logf("op-geth's checks answered from memory: %d; cycles: %d, upstream requests: %d", s.Hits, s.Cycles, upstream.Load())
}
