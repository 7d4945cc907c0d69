//go:build opgeth

package e2e

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/devnet/opreth"
	"github.com/interopgate/interopgate/filterapi"
	"github.com/interopgate/interopgate/internal/config"
	"github.com/interopgate/interopgate/internal/rpctest"
	"github.com/interopgate/interopgate/revalidator"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// TestOpRethPoolWithTheReferenceUpstream (issue 15): chain 902's pool is the op-reth model, the
// revalidator its only interop endpoint, and upstream the real op-interop-filter with reorg
// recovery on. 5 valid interop txs and 1 whose initiating block on 901 is then reorged away:
// the invalid one is never mined and leaves the pool, the valid ones are mined.
func TestOpRethPoolWithTheReferenceUpstream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	needReference(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // the revalidator's address, for the model
	if err != nil {
		t.Fatal(err)
	}
	revalAddr := ln.Addr().String() // kept open, served by the revalidator once it exists
	mcfg := opreth.DefaultConfig()
	mcfg.Endpoints = []string{"http://" + revalAddr}
	mcfg.ValidityWindow = 300 // op-reth's 7200 s timeout is for the protocol's 7-day expiry; the suite's is 600 s
	build, model, err := opreth.New(mcfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	d, err := devnet.Start(devnet.Config{Accounts: 8, ExpiryWindow: expiryWindow,
		PoolPolicies: map[uint64]func(*devnet.Chain) (devnet.PoolPolicy, error){902: build}}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	defer model.Close() // before the revalidator's server stops
	for range 10 {      // so the finalized block is above genesis
		d.Commit()
	}
	kept, err := d.Chain(901).EmitBlock(ctx, d.Accounts[:1], d.Commit)
	if err != nil {
		t.Fatal(err)
	}
	d.Commit()
	gone, err := d.Chain(901).EmitBlock(ctx, d.Accounts[1:2], d.Commit)
	if err != nil {
		t.Fatal(err)
	}
	d.Commit()
	ref := startReference(t, d, referenceOptions{expiryWindow: expiryWindow, reorgRecovery: true})

	client, err := sc.NewClient(sc.ClientConfig{URL: ref.url, Name: "reference"})
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := sc.NewPool([]sc.Endpoint{{Name: "reference", Checker: client}}, sc.PoolConfig{})
	watcher := sc.NewFailsafeWatcher([]sc.NamedFailsafeSource{{Name: "reference", Source: client}}, sc.FailsafeWatcherConfig{Interval: 250 * time.Millisecond})
	go watcher.Run(ctx)
	cfg := revalidator.DefaultConfig()
	cfg.ChainID = 902
	cfg.BlockTime = config.Duration(time.Second)
	cfg.HeadPoll = config.Duration(50 * time.Millisecond)
	cfg.PoolPoll = config.Duration(50 * time.Millisecond)
	cfg.SourcePoll = config.Duration(50 * time.Millisecond)
	r, err := revalidator.New(ctx, cfg, revalidator.Deps{Upstream: pool, Failsafe: watcher.Enabled, UpstreamAnswering: watcher.QuorumAnswers,
		Dependencies: d.DependencySet(), NodeURL: d.Chain(902).RPCURL(), Log: zap.NewNop(),
		Sources: []revalidator.Source{{ChainID: 901, URL: d.Chain(901).RPCURL()}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	srv, err := revalidator.NewServer(r, filterapi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	go r.Run(rctx)

	c902 := d.Chain(902)
	send := func(i int, e devnet.Emitted) *types.Transaction {
		tx, err := c902.ExecutingTx(ctx, d.Accounts[i], 0, e.Keys())
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for sendErr := c902.Client().SendTransaction(ctx, tx); sendErr != nil; sendErr = c902.Client().SendTransaction(ctx, tx) {
			if time.Now().After(deadline) {
				t.Fatalf("the model did not admit tx %d: %v", i, sendErr)
			}
			keepUpWithTheClock(d)
			time.Sleep(100 * time.Millisecond) // retrying against a deadline while the reference catches up
		}
		return tx
	}
	var valid []*types.Transaction
	for i := 2; i < 7; i++ {
		valid = append(valid, send(i, kept[0]))
	}
	doomed := send(7, gone[0])

	// The reorg moves every chain on by one block in lockstep (902's empty: its pool stays).
	if err := d.Chain(901).Reorg(d.Chain(901).Head().Number.Uint64() - gone[0].ID.BlockNumber + 1); err != nil {
		t.Fatal(err)
	}
	rpctest.WaitFor(t, "the model's gate on", 2*time.Minute, model.Gate)
	if watcher.Enabled() {
		t.Log("the gate came from the reference's own failsafe, not (only) a pulse")
	}
	c902.Commit()
	mined := func(tx *types.Transaction) bool {
		rc, err := c902.Client().TransactionReceipt(ctx, tx.Hash())
		return err == nil && rc != nil
	}
	if mined(doomed) || c902.InPool(doomed.Hash()) {
		t.Fatal("the tx whose message was reorged away was mined, or is still pooled")
	}
	// The chains move on together (the reference judges nothing newer than its slowest chain);
	// the revalidator proves the dropped txs valid again and sends them back; they are mined.
	rpctest.WaitFor(t, "the valid txs back and mined", 2*time.Minute, func() bool {
		for _, tx := range valid {
			if !mined(tx) {
				d.Commit()
				time.Sleep(100 * time.Millisecond) // a block at most every 100 ms while waiting
				return false
			}
		}
		return true
	})
	if mined(doomed) {
		t.Fatal("the invalid tx was mined")
	}
}
