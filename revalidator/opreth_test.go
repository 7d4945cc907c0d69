package revalidator

// The revalidator as op-reth's interop endpoint: chain 902's pool is the op-reth model
// (devnet/opreth) asking this revalidator, upstream the light filter. Issue 15: a tx found
// invalid leaves the pool before the second block, and the valid txs op-reth throws away on a
// failsafe episode come back.

import (
	"context"
	"fmt"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"go.uber.org/zap/zaptest"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/devnet/opreth"
	"github.com/interopgate/interopgate/internal/config"
	"github.com/interopgate/interopgate/internal/rpctest"
	"github.com/interopgate/interopgate/store"
)

type rethRig struct {
	*rig
	model     *opreth.Pool
	statuses  store.Statuses // as the gateway's (interopgate_getTransactionStatus)
	cancelRun context.CancelFunc
}

// newRethRig starts the devnet with chain 902's pool modelled as op-reth (failsafe polled every
// 100 ms; with eviction clear-txpool, op-reth's own 1 s, and its admin namespace open), and the
// revalidator running as its only interop endpoint.
func newRethRig(t *testing.T, mutate func(*Config)) *rethRig {
	t.Helper()
	if raceEnabled {
		// Timing flakes seen in CI under the race detector's slowdown (restores racing the
		// model's evictions); scripts/test.sh runs these tests without it.
		t.Skip("the op-reth rig runs without the race detector (scripts/test.sh)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0") // the revalidator's address, for the model's config
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String() // kept open: the revalidator serves on it once it exists
	rcfg := DefaultConfig()
	if mutate != nil {
		mutate(&rcfg)
	}
	mcfg := opreth.DefaultConfig()
	mcfg.Endpoints = []string{"http://" + addr}
	netCfg := devnet.Config{Accounts: 120}
	if rcfg.eviction() == EvictClearTxpool {
		netCfg.AdminAPI = []uint64{902}
	} else {
		mcfg.FailsafePoll = 100 * time.Millisecond
	}
	build, model, err := opreth.New(mcfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	netCfg.PoolPolicies = map[uint64]func(*devnet.Chain) (devnet.PoolPolicy, error){902: build}
	statuses := store.NewMemory(store.MemoryConfig{}).Statuses
	g := newRigOn(t, netCfg, ln, Deps{Statuses: statuses}, func(c *Config) {
		c.HeadPoll = config.Duration(50 * time.Millisecond)
		c.PoolPoll = config.Duration(50 * time.Millisecond)
		c.SourcePoll = config.Duration(50 * time.Millisecond)
		if mutate != nil {
			mutate(c)
		}
	})
	// A source reorg is seen at once.
	g.r.d.Sources = []Source{{ChainID: 901, URL: g.net.Chain(901).RPCURL()}}
	// The model stops before the revalidator's server shuts down: its poll holds a connection.
	t.Cleanup(model.Close)
	ctx, cancel := context.WithCancel(g.ctx)
	t.Cleanup(cancel)
	go g.r.Run(ctx)
	return &rethRig{rig: g, model: model, statuses: statuses, cancelRun: cancel}
}

// send sends an executing tx to chain 902's node, where the model admits it by asking the
// revalidator.
func (g *rethRig) send(account int, keys []common.Hash) *types.Transaction {
	g.t.Helper()
	tx, err := g.trySend(account, keys)
	if err != nil {
		g.t.Fatal(err)
	}
	return tx
}

// trySend is send for other goroutines than the test's.
func (g *rethRig) trySend(account int, keys []common.Hash) (*types.Transaction, error) {
	tx, err := g.net.Chain(902).ExecutingTx(g.ctx, g.net.Accounts[account], 0, keys)
	if err != nil {
		return nil, err
	}
	if err := g.net.Chain(902).Client().SendTransaction(g.ctx, tx); err != nil {
		return nil, fmt.Errorf("the op-reth model refused a valid tx: %w", err)
	}
	return tx, nil
}

func (g *rethRig) mined(tx *types.Transaction) bool {
	r, err := g.net.Chain(902).Client().TransactionReceipt(g.ctx, tx.Hash())
	return err == nil && r != nil
}

// A valid tx whose initiating block is then reorged away on chain 901, among 100 valid ones:
//   - failsafe-pulse: the model leaves it out of 902's next block and evicts it; the valid txs
//     it evicted with it come back and are mined;
//   - clear-txpool: it is out of the pool before the next block, with op-reth's own 1 s failsafe
//     poll; everything else (the valid interop txs, a plain tx, a queued one) stays;
//   - none: the model mines it.
func TestOpRethPoolLosesTheTxAReorgInvalidated(t *testing.T) {
	for _, lever := range []string{EvictFailsafePulse, EvictClearTxpool, EvictNone} {
		t.Run(lever, func(t *testing.T) {
			g := newRethRig(t, func(c *Config) { c.Eviction = lever })
			c901, c902 := g.net.Chain(901), g.net.Chain(902)
			valid := g.emit("stays")
			gone := g.emit("reorged away")
			// op-reth asks with its head's timestamp, and a message of that very timestamp is
			// invalid (same-timestamp rule): the executing txs come one block later.
			c902.Commit()
			txs := make([]*types.Transaction, 100)
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Go(func() {
					for i := w; i < len(txs); i += 8 {
						var err error
						if txs[i], err = g.trySend(1+i, valid.Keys()); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			// Not interop: a tx that can be mined now, and one queued behind a nonce gap.
			plain := g.sendPlain(111, 0)
			queued := g.sendPlain(112, 1)
			doomed := g.send(110, gone.Keys())
			// The message's block and the empty one 902's commit made on 901 are replaced; 902
			// makes an empty block too: the first after the reorg.
			reorgAt := time.Now()
			if err := c901.Reorg(2); err != nil {
				t.Fatal(err)
			}
			switch lever {
			case EvictNone:
				c902.Commit()
				if !g.mined(doomed) {
					t.Fatal("without a lever the model did not mine the invalid tx (the test proves nothing)")
				}
				return
			case EvictClearTxpool:
				rpctest.WaitFor(t, "the invalid tx out of the pool", 10*time.Second, func() bool { return !c902.InPool(doomed.Hash()) })
				outAt := time.Now()
				rpctest.WaitFor(t, "every other tx back in the pool", 10*time.Second, func() bool {
					for _, tx := range append([]*types.Transaction{plain, queued}, txs...) {
						if !c902.InPool(tx.Hash()) {
							return false
						}
					}
					return true
				})
				t.Logf("source reorg → the invalid tx out of the pool: %v, no block in between; every other tx back %v later",
					outAt.Sub(reorgAt).Round(time.Millisecond), time.Since(outAt).Round(time.Millisecond))
				c902.Commit()
			default:
				rpctest.WaitFor(t, "the model's gate on (the pulse)", 10*time.Second, g.model.Gate)
				gateAt := time.Now()
				c902.Commit() // the second block after the reorg
				if g.mined(doomed) || c902.InPool(doomed.Hash()) {
					t.Fatal("the tx made invalid by the reorg is in the second block after it, or still in the pool")
				}
				rpctest.WaitFor(t, "every valid tx back in the pool", 10*time.Second, func() bool {
					for _, tx := range txs {
						if !c902.InPool(tx.Hash()) {
							return false
						}
					}
					return !g.model.Gate()
				})
				restoredAt := time.Now()
				c902.Commit()
				t.Logf("source reorg → the node's gate on (pulse seen): %v; eviction at the next block (the 2nd after the reorg); gate on → %d valid txs back in the pool: %v; mined in the block after",
					gateAt.Sub(reorgAt).Round(time.Millisecond), len(txs), restoredAt.Sub(gateAt).Round(time.Millisecond))
				if n := g.r.Stats().Restored; n < int64(len(txs)) {
					t.Fatalf("restored %d txs, want %d", n, len(txs))
				}
			}
			for _, tx := range append(txs, plain) {
				if !g.mined(tx) {
					t.Fatalf("valid tx %s not mined after the eviction", tx.Hash())
				}
			}
			if g.mined(doomed) {
				t.Fatal("the invalid tx was mined")
			}
			if st := g.status(doomed); st.State != StateInvalid || st.Code == 0 || st.Reason == "" {
				t.Fatalf("the evicted tx's status: %+v, want invalid with its code and reason", st)
			}
			if st := g.status(txs[0]); lever == EvictFailsafePulse && (st.State != StateRestored || st.Attempts != 1) {
				t.Fatalf("a tx the pulse evicted and restore sent back: status %+v, want restored once", st)
			}
		})
	}
}

func (g *rethRig) status(tx *types.Transaction) store.Status {
	g.t.Helper()
	st, _, err := g.statuses.GetStatus(g.ctx, tx.Hash().Hex())
	if err != nil {
		g.t.Fatal(err)
	}
	return st
}

// sendPlain sends a transfer (no interop) from account with its nonce plus gap.
func (g *rethRig) sendPlain(account int, gap uint64) *types.Transaction {
	g.t.Helper()
	c := g.net.Chain(902)
	a := g.net.Accounts[account]
	nonce, err := c.Client().PendingNonceAt(g.ctx, a.Address)
	if err != nil {
		g.t.Fatal(err)
	}
	to := common.Address{0x42}
	tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{ChainID: new(big.Int).SetUint64(c.ID()), Nonce: nonce + gap, GasTipCap: big.NewInt(1),
		GasFeeCap: big.NewInt(1e12), Gas: 21_000, To: &to}), types.LatestSignerForChainID(new(big.Int).SetUint64(c.ID())), a.Key)
	if err != nil {
		g.t.Fatal(err)
	}
	if err := c.Client().SendTransaction(g.ctx, tx); err != nil {
		g.t.Fatal(err)
	}
	return tx
}

// The upstream failsafe on for a while, then off: the model evicts every interop tx at its next
// block; once it clears, every still-valid one is back in the pool and then mined, none twice.
func TestOpRethPoolGetsBackWhatAFailsafeThrewAway(t *testing.T) {
	g := newRethRig(t, nil)
	c902 := g.net.Chain(902)
	e := g.emit("before the failsafe")
	c902.Commit() // op-reth asks with its head's timestamp: one block after the message's
	var txs []*types.Transaction
	for i := range 10 {
		txs = append(txs, g.send(1+i, e.Keys()))
	}
	setFailsafe := func(on bool) {
		body := `{"jsonrpc":"2.0","id":1,"method":"admin_setFailsafeEnabled","params":[false]}`
		if on {
			body = `{"jsonrpc":"2.0","id":1,"method":"admin_setFailsafeEnabled","params":[true]}`
		}
		if status, out := rpctest.Post(t, g.filter.URL(), body); status != 200 {
			t.Fatalf("setting the failsafe: %d %s", status, out)
		}
	}
	setFailsafe(true)
	rpctest.WaitFor(t, "the model's gate on", 10*time.Second, g.model.Gate)
	c902.Commit()
	for _, tx := range txs {
		if g.mined(tx) || c902.InPool(tx.Hash()) {
			t.Fatal("an interop tx survived a block made while the failsafe was on")
		}
	}
	setFailsafe(false)
	offAt := time.Now()
	rpctest.WaitFor(t, "every valid tx back in the pool", 15*time.Second, func() bool {
		for _, tx := range txs {
			if !c902.InPool(tx.Hash()) {
				return false
			}
		}
		return true
	})
	t.Logf("failsafe off → all %d evicted txs back in the pool: %v (no block in between); mined in the next block", len(txs), time.Since(offAt).Round(time.Millisecond))
	c902.Commit()
	for _, tx := range txs {
		if !g.mined(tx) {
			t.Fatalf("tx %s not mined after the failsafe", tx.Hash())
		}
	}
}

// A reorg of chain 902 itself: the model evicts every interop tx (op-reth's maintain.rs on a
// Reorg); the revalidator sends the still-valid ones back, those of the reorged-out block among
// them (the devnet does not put those back in the pool, as op-reth would before evicting them),
// and they are mined, each once (one nonce each).
func TestOpRethPoolGetsBackWhatItsOwnReorgThrewAway(t *testing.T) {
	g := newRethRig(t, nil)
	c902 := g.net.Chain(902)
	e := g.emit("before 902's reorg")
	c902.Commit()
	var txs []*types.Transaction
	for i := range 4 {
		txs = append(txs, g.send(1+i, e.Keys()))
	}
	rpctest.WaitFor(t, "the four in the revalidator's mirror", 10*time.Second, func() bool {
		for _, tx := range txs {
			if !g.r.Tracked(tx.Hash()) {
				return false
			}
		}
		return true
	})
	c902.Commit() // these four mined, in the block the reorg takes away
	for i := range 4 {
		txs = append(txs, g.send(5+i, e.Keys()))
	}
	// The revalidator restores what it saw: the gateway's feed, or its pool poll (a tx sent
	// straight to the node and gone within one pool_poll is unknown to it).
	rpctest.WaitFor(t, "the second four in the revalidator's mirror", 10*time.Second, func() bool {
		for _, tx := range txs[4:] {
			if !g.r.Tracked(tx.Hash()) {
				return false
			}
		}
		return true
	})
	if err := c902.Reorg(1); err != nil {
		t.Fatal(err)
	}
	reorgAt := time.Now()
	back := func() bool {
		for _, tx := range txs {
			if !c902.InPool(tx.Hash()) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(15 * time.Second); !back(); time.Sleep(20 * time.Millisecond) { // polling against a deadline
		if time.Now().After(deadline) {
			var state []string
			for i, tx := range txs {
				state = append(state, fmt.Sprintf("%d: pool %v tracked %v model %v", i, c902.InPool(tx.Hash()), g.r.Tracked(tx.Hash()), g.model.Tracked(tx.Hash())))
			}
			t.Fatalf("not every valid tx back in the pool 15 s after 902's reorg: %v; revalidator %+v; model %+v", state, g.r.Stats(), g.model.Stats())
		}
	}
	t.Logf("902 reorg → %d interop txs back in the pool: %v", len(txs), time.Since(reorgAt).Round(time.Millisecond))
	if n := g.model.Stats().Evicted; n < 4 {
		t.Fatalf("the model evicted %d interop txs on its reorg, want the 4 pending ones at least (the test proves nothing)", n)
	}
	c902.Commit()
	for _, tx := range txs {
		if !g.mined(tx) {
			t.Fatalf("tx %s not mined after 902's reorg", tx.Hash())
		}
	}
}

// An attacker's shape: interop txs that turn invalid in the pool but that no builder would take
// (their fee cap below the base fee) cost the chain nothing where they are. The lever must not
// work for them: no clear, no pulse, however many there are; they are listed invalid.
func TestTheLeverIgnoresInvalidTxsNoBuilderWouldTake(t *testing.T) {
	g := newRethRig(t, func(c *Config) { c.Eviction = EvictClearTxpool })
	c901, c902 := g.net.Chain(901), g.net.Chain(902)
	gone := g.emit("reorged away")
	c902.Commit()
	baseFee := c902.Head().BaseFee // an eighth of it: below it for the blocks this test makes
	var cheap []*types.Transaction
	for i := range 5 {
		a := g.net.Accounts[100+i]
		al := types.AccessList{{Address: accesslist.CrossL2InboxAddress, StorageKeys: gone.Keys()}}
		to := common.Address{0x42}
		tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{ChainID: big.NewInt(902), Nonce: 0, GasTipCap: big.NewInt(1),
			GasFeeCap: new(big.Int).Div(baseFee, big.NewInt(8)), Gas: 200_000, To: &to, AccessList: al}), types.LatestSignerForChainID(big.NewInt(902)), a.Key)
		if err != nil {
			t.Fatal(err)
		}
		if err := c902.Client().SendTransaction(g.ctx, tx); err != nil {
			t.Fatalf("the model refused an underpriced but valid tx: %v", err)
		}
		cheap = append(cheap, tx)
	}
	rpctest.WaitFor(t, "the cheap txs in the mirror", 10*time.Second, func() bool {
		for _, tx := range cheap {
			if !g.r.Tracked(tx.Hash()) {
				return false
			}
		}
		return true
	})
	if err := c901.Reorg(c901.Head().Number.Uint64() - gone.ID.BlockNumber + 1); err != nil {
		t.Fatal(err)
	}
	rpctest.WaitFor(t, "the cheap txs listed invalid", 10*time.Second, func() bool { return len(g.r.InvalidTransactions()) == len(cheap) })
	// Three more blocks, a cycle after each: still no lever.
	for range 3 {
		n := g.r.Stats().Cycles
		c902.Commit()
		rpctest.WaitFor(t, "a cycle for the new head", 10*time.Second, func() bool { return g.r.Stats().Cycles > n })
	}
	if st := g.r.Stats(); st.PoolClears != 0 || g.r.NodeFailsafe() || g.model.Gate() {
		t.Fatalf("the lever acted on txs no builder would take: %d clears, pulse %v", st.PoolClears, g.r.NodeFailsafe())
	}
	for _, tx := range cheap {
		if !c902.InPool(tx.Hash()) || g.mined(tx) {
			t.Fatalf("an underpriced invalid tx left the pool (%v) or was mined (%v); base fee at send %v, now %v, its fee cap %v",
				!c902.InPool(tx.Hash()), g.mined(tx), baseFee, c902.Head().BaseFee, tx.GasFeeCap())
		}
	}
}

// Found by the review: an interop tx parked behind a nonce gap (queued: no builder takes it) is
// invalidated by a source reorg; then the sender fills the gap between two heads. The tx is
// takeable at once, so the lever acts at the next pool read, before a block is built, not at
// the next head.
func TestATxThatBecomesTakeableIsActedOnBeforeTheNextBlock(t *testing.T) {
	for _, lever := range []string{EvictClearTxpool, EvictFailsafePulse} {
		t.Run(lever, func(t *testing.T) {
			g := newRethRig(t, func(c *Config) {
				c.Eviction = lever
				c.Recheck = config.Duration(time.Minute) // no timed cycle within the test
			})
			c901, c902 := g.net.Chain(901), g.net.Chain(902)
			gone := g.emit("reorged away")
			c902.Commit()
			const acct = 100
			parked, err := c902.ExecutingTx(g.ctx, g.net.Accounts[acct], 1, gone.Keys()) // nonce 1: behind a gap
			if err != nil {
				t.Fatal(err)
			}
			if err := c902.Client().SendTransaction(g.ctx, parked); err != nil {
				t.Fatal(err)
			}
			rpctest.WaitFor(t, "the parked tx in the mirror", 10*time.Second, func() bool { return g.r.Tracked(parked.Hash()) })
			if err := c901.Reorg(c901.Head().Number.Uint64() - gone.ID.BlockNumber + 1); err != nil {
				t.Fatal(err)
			}
			rpctest.WaitFor(t, "the parked tx listed invalid", 10*time.Second, func() bool { return len(g.r.InvalidTransactions()) == 1 })
			// The cycles a source reorg starts (one at each source poll for settleFor) are over:
			// from here only heads start cycles, and no head comes.
			heads, settling := g.r.Stats().SourceHeads, int64(settleFor/(50*time.Millisecond))+5
			rpctest.WaitFor(t, "the source reorg's cycles over", 10*time.Second, func() bool { return g.r.Stats().SourceHeads > heads+settling })
			if !c902.InPool(parked.Hash()) || g.r.NodeFailsafe() || g.r.Stats().PoolClears != 0 {
				t.Fatal("the lever acted on a tx no builder would take yet")
			}
			g.sendPlain(acct, 0) // the gap filled, between two heads
			if lever == EvictClearTxpool {
				rpctest.WaitFor(t, "the parked tx out of the pool", 10*time.Second, func() bool { return !c902.InPool(parked.Hash()) })
			} else {
				rpctest.WaitFor(t, "the model's gate on (the pulse)", 10*time.Second, g.model.Gate)
			}
			c902.Commit()
			if g.mined(parked) {
				t.Fatal("the invalid tx was mined once its nonce gap was filled")
			}
		})
	}
}
