//go:build opgeth

package e2e

// Issue 15's runs in e2e: chain 902 is op-geth (its real pool and payload builder) with the
// op-reth model's rules around it, the revalidator its only interop endpoint, upstream the light
// filter, and every tx arriving through a gateway in front of 902.

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/devnet/opreth"
	"github.com/interopgate/interopgate/filterapi"
	"github.com/interopgate/interopgate/internal/config"
	"github.com/interopgate/interopgate/internal/rpctest"
	"github.com/interopgate/interopgate/revalidator"
	"github.com/interopgate/interopgate/store"
	sc "github.com/interopgate/interopgate/supervisorclient"
	"github.com/interopgate/interopgate/supervisorclient/light"
)

// rethStack is the deployment the runs share.
type rethStack struct {
	t         *testing.T
	ctx       context.Context
	d         *devnet.Devnet
	model     *opreth.Pool
	r         *revalidator.Revalidator
	gw        gateway
	filterURL string
	statuses  store.Statuses
}

// startRethStack starts it with the revalidator's eviction lever; the model keeps op-reth's
// own timing (failsafe poll 1 s) and, for clear-txpool, has its admin namespace open.
func startRethStack(t *testing.T, ctx context.Context, eviction string) *rethStack {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0") // the revalidator's address, for the model
	if err != nil {
		t.Fatal(err)
	}
	revalAddr := ln.Addr().String() // kept open, served by the revalidator once it exists
	mcfg := opreth.DefaultConfig()
	mcfg.Endpoints = []string{"http://" + revalAddr}
	mcfg.ValidityWindow = 300 // below the suite's 600 s expiry (op-reth's 7200 s is for 7 days)
	build, model, err := opreth.New(mcfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	dcfg := devnet.Config{Accounts: 120, ExpiryWindow: expiryWindow,
		PoolPolicies: map[uint64]func(*devnet.Chain) (devnet.PoolPolicy, error){902: build}}
	if eviction == revalidator.EvictClearTxpool {
		dcfg.AdminAPI = []uint64{902}
	}
	d, err := devnet.Start(dcfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	t.Cleanup(model.Close) // before the revalidator's server stops: its poll holds a connection

	// The light filter, its failsafe settable (for the failsafe run).
	var chains []light.ChainRPC
	for _, c := range d.Chains {
		chains = append(chains, light.ChainRPC{ChainID: c.ID(), RPC: c.RPCURL()})
	}
	checker, err := light.New(light.Config{Chains: chains, Dependencies: d.DependencySet(), CrossUnsafeHead: light.HeadLatest})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(checker.Close)
	api, err := filterapi.New(checker, filterapi.Config{AllowSetFailsafe: true}, filterapi.WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Shutdown(context.Background()) })

	client, err := sc.NewClient(sc.ClientConfig{URL: api.URL(), Name: "light"})
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := sc.NewPool([]sc.Endpoint{{Name: "light", Checker: client}}, sc.PoolConfig{})
	watcher := sc.NewFailsafeWatcher([]sc.NamedFailsafeSource{{Name: "light", Source: client}}, sc.FailsafeWatcherConfig{Interval: 100 * time.Millisecond})
	wctx, wcancel := context.WithCancel(ctx)
	t.Cleanup(wcancel)
	go watcher.Run(wctx)
	statuses := store.NewMemory(store.MemoryConfig{}).Statuses
	cfg := revalidator.DefaultConfig()
	cfg.ChainID = 902
	cfg.Eviction = eviction
	cfg.BlockTime = config.Duration(time.Second)
	cfg.HeadPoll = config.Duration(50 * time.Millisecond)
	cfg.PoolPoll = config.Duration(50 * time.Millisecond)
	cfg.SourcePoll = config.Duration(50 * time.Millisecond)
	r, err := revalidator.New(ctx, cfg, revalidator.Deps{Upstream: pool, Failsafe: watcher.Enabled, UpstreamAnswering: watcher.QuorumAnswers,
		Dependencies: d.DependencySet(), NodeURL: d.Chain(902).RPCURL(), Log: zap.NewNop(), Statuses: statuses,
		Sources: []revalidator.Source{{ChainID: 901, URL: d.Chain(901).RPCURL()}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	srv, err := revalidator.NewServer(r, filterapi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve(ln)
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	rctx, rcancel := context.WithCancel(ctx)
	t.Cleanup(rcancel)
	go r.Run(rctx)
	return &rethStack{t: t, ctx: ctx, d: d, model: model, r: r, gw: startGateway(t, d, api.URL()), filterURL: api.URL(), statuses: statuses}
}

// sendAll sends, through the gateway, one executing tx of keys from each account (8 at a time)
// and waits until 902's pool holds them all.
func (s *rethStack) sendAll(accounts []int, keys []common.Hash) []*types.Transaction {
	s.t.Helper()
	txs := make([]*types.Transaction, len(accounts))
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < len(accounts); i += 8 {
				tx, err := s.d.Chain(902).ExecutingTx(s.ctx, s.d.Accounts[accounts[i]], 0, keys)
				if err != nil {
					s.t.Error(err)
					return
				}
				if code := sendRaw(s.t, s.gw.url, tx); code != 0 {
					s.t.Errorf("the gateway refused a valid tx: %d", code)
					return
				}
				txs[i] = tx
			}
		})
	}
	wg.Wait()
	if s.t.Failed() {
		s.t.FailNow()
	}
	s.waitInPool(txs, "the txs sent through the gateway in 902's pool")
	return txs
}

func (s *rethStack) waitInPool(txs []*types.Transaction, what string) {
	s.t.Helper()
	missing := 0
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) { // polling against a deadline
		missing = 0
		for _, tx := range txs {
			if !s.d.Chain(902).InPool(tx.Hash()) {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: %d of %d not in the pool after 30 s (model %+v, revalidator restored %d)", what, missing, len(txs), s.model.Stats(), s.r.Stats().Restored)
		}
	}
}

func (s *rethStack) mined(tx *types.Transaction) bool {
	rc, err := s.d.Chain(902).Client().TransactionReceipt(s.ctx, tx.Hash())
	return err == nil && rc != nil
}

func accountsFrom(first, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = first + i
	}
	return out
}

// 100 valid interop txs and 1 whose initiating block on 901 is then reorged away (no failsafe
// upstream). With clear-txpool the invalid one is out of 902's pool before its next block and
// the 100 are mined in it; without a lever (the model alone, op-reth's way) it is mined.
func TestOpRethPoolBehindTheGatewayLosesTheReorgedTx(t *testing.T) {
	for _, lever := range []string{revalidator.EvictClearTxpool, revalidator.EvictNone} {
		t.Run(lever, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			s := startRethStack(t, ctx, lever)
			c901, c902 := s.d.Chain(901), s.d.Chain(902)
			valid, err := c901.Emit(ctx, s.d.Accounts[0], common.Hash{0x15}, []byte("stays"))
			if err != nil {
				t.Fatal(err)
			}
			gone, err := c901.Emit(ctx, s.d.Accounts[0], common.Hash{0x15}, []byte("reorged away"))
			if err != nil {
				t.Fatal(err)
			}
			s.d.Commit() // op-reth asks as of its head: one block after the messages'
			txs := s.sendAll(accountsFrom(1, 100), valid.Keys())
			doomed := s.sendAll([]int{110}, gone.Keys())[0]
			reorgAt := time.Now()
			if err := c901.Reorg(c901.Head().Number.Uint64() - gone.ID.BlockNumber + 1); err != nil {
				t.Fatal(err)
			}
			if lever == revalidator.EvictNone {
				c902.Commit()
				if !s.mined(doomed) {
					t.Fatal("without a lever the model did not mine the invalid tx (the test proves nothing)")
				}
				t.Log("the model alone (op-reth's way): the tx whose message was reorged away is mined in 902's next block")
				return
			}
			rpctest.WaitFor(t, "the invalid tx out of 902's pool", 30*time.Second, func() bool { return !c902.InPool(doomed.Hash()) })
			outAt := time.Now()
			s.waitInPool(txs, "the 100 valid txs back in 902's pool")
			t.Logf("source reorg → the invalid tx out of 902's pool: %v, no block in between; the 100 valid ones back %v later",
				outAt.Sub(reorgAt).Round(time.Millisecond), time.Since(outAt).Round(time.Millisecond))
			c902.Commit()
			for _, tx := range txs {
				if !s.mined(tx) {
					t.Fatalf("valid tx %s not mined in the block after the eviction", tx.Hash())
				}
			}
			if s.mined(doomed) {
				t.Fatal("the invalid tx was mined")
			}
			if st, ok, _ := s.statuses.GetStatus(ctx, doomed.Hash().Hex()); !ok || st.State != revalidator.StateInvalid {
				t.Fatalf("the invalid tx's status: %+v", st)
			}
		})
	}
}

// The upstream failsafe on for 3 s, then off: the model evicts every interop tx at its next
// block; once it clears, every one is back in the pool and mined within 2 blocks, none twice.
func TestOpRethPoolBehindTheGatewayAfterAFailsafe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := startRethStack(t, ctx, revalidator.EvictFailsafePulse)
	c902 := s.d.Chain(902)
	e, err := s.d.Chain(901).Emit(ctx, s.d.Accounts[0], common.Hash{0x15}, []byte("before the failsafe"))
	if err != nil {
		t.Fatal(err)
	}
	s.d.Commit()
	txs := s.sendAll(accountsFrom(1, 20), e.Keys())
	setFailsafe := func(on bool) {
		body := map[string]any{"jsonrpc": "2.0", "id": 1, "method": "admin_setFailsafeEnabled", "params": []bool{on}}
		if _, err := post(s.filterURL, body); err != nil {
			t.Fatal(err)
		}
	}
	setFailsafe(true)
	onAt := time.Now()
	rpctest.WaitFor(t, "the model's gate on", 10*time.Second, s.model.Gate)
	c902.Commit()
	for _, tx := range txs {
		if s.mined(tx) || c902.InPool(tx.Hash()) {
			t.Fatal("an interop tx survived a block made while the failsafe was on")
		}
	}
	// The failsafe stays on for 3 s: the scenario's length, not a wait for an event.
	time.Sleep(time.Until(onAt.Add(3 * time.Second)))
	setFailsafe(false)
	offAt := time.Now()
	blocks := 0
	for deadline := time.Now().Add(time.Minute); ; {
		all := true
		for _, tx := range txs {
			all = all && s.mined(tx)
		}
		if all {
			break
		}
		if time.Now().After(deadline) || blocks > 2 {
			t.Fatalf("not every tx mined within 2 blocks after the failsafe (%d blocks)", blocks)
		}
		if !s.model.Gate() {
			// One block once the txs the revalidator sends back are in: what a 1 s chain does.
			s.waitInPool(pending(s, txs), "the dropped txs back in the pool")
			c902.Commit()
			blocks++
		}
		time.Sleep(20 * time.Millisecond) // polling the model's gate against a deadline
	}
	t.Logf("failsafe off → all %d interop txs back and mined within %d block(s), %v", len(txs), blocks, time.Since(offAt).Round(time.Millisecond))
	if n := s.r.Stats().Restored; n < int64(len(txs)) {
		t.Fatalf("restored %d, want %d", n, len(txs))
	}
}

// pending is the txs not mined yet.
func pending(s *rethStack, txs []*types.Transaction) []*types.Transaction {
	var out []*types.Transaction
	for _, tx := range txs {
		if !s.mined(tx) {
			out = append(out, tx)
		}
	}
	return out
}

// A reorg of chain 902 itself: the model evicts every interop tx; the revalidator sends back
// the pending ones and those of the block the reorg took away; all are mined, each once.
func TestOpRethPoolBehindTheGatewayAfterItsOwnReorg(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := startRethStack(t, ctx, revalidator.EvictClearTxpool)
	c902 := s.d.Chain(902)
	e, err := s.d.Chain(901).Emit(ctx, s.d.Accounts[0], common.Hash{0x15}, []byte("before 902's reorg"))
	if err != nil {
		t.Fatal(err)
	}
	s.d.Commit()
	tracked := func(txs []*types.Transaction) {
		rpctest.WaitFor(t, "the txs in the revalidator's mirror", 10*time.Second, func() bool {
			for _, tx := range txs {
				if !s.r.Tracked(tx.Hash()) {
					return false
				}
			}
			return true
		})
	}
	first := s.sendAll(accountsFrom(1, 10), e.Keys())
	tracked(first)
	c902.Commit() // the block the reorg takes away
	second := s.sendAll(accountsFrom(11, 10), e.Keys())
	tracked(second)
	// In the model's pool before the reorg, or the reorg evicts fewer than the test means to
	// test (a CI run under load: the model had 2 of them when the reorg came, and failed).
	s.waitInPool(second, "the second batch in 902's pool before its reorg")
	if err := c902.Reorg(1); err != nil {
		t.Fatal(err)
	}
	reorgAt := time.Now()
	all := append(first, second...)
	s.waitInPool(all, "every interop tx back in 902's pool")
	t.Logf("902 reorg → %d interop txs back in its pool in %v", len(all), time.Since(reorgAt).Round(time.Millisecond))
	if n := s.model.Stats().Evicted; n < int64(len(second)) {
		t.Fatalf("the model evicted %d on its reorg (the test proves nothing)", n)
	}
	c902.Commit()
	for _, tx := range all {
		if !s.mined(tx) {
			t.Fatalf("tx %s not mined after 902's reorg", tx.Hash())
		}
	}
}
