package devnet

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"go.uber.org/zap/zaptest"

	"github.com/interopgate/interopgate/accesslist"
)

func startDevnet(t *testing.T, cfg Config) *Devnet {
	t.Helper()
	d, err := Start(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestEmitOverHTTP(t *testing.T) {
	d := startDevnet(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range d.Chains {
		client, err := ethclient.DialContext(ctx, c.RPCURL())
		if err != nil {
			t.Fatal(err)
		}
		id, err := client.ChainID(ctx)
		if err != nil || id.Uint64() != c.ID() {
			t.Fatalf("chain %d over HTTP says chain ID %v (%v)", c.ID(), id, err)
		}
		bal, err := client.BalanceAt(ctx, d.Accounts[0].Address, nil)
		if err != nil || bal.Cmp(accountBalance) != 0 {
			t.Fatalf("account 0 balance %v (%v)", bal, err)
		}
		client.Close()
	}
	src := d.Chain(901)
	topic := common.Hash{0xaa}
	e, err := src.Emit(ctx, d.Accounts[0], topic, []byte("hello interop"))
	if err != nil {
		t.Fatal(err)
	}
	if e.ID.Origin != EmitterAddress || e.ID.ChainID.Uint64() != 901 || len(e.Topics) != 1 || e.Topics[0] != topic || string(e.Data) != "hello interop" {
		t.Fatalf("emitted %+v", e)
	}
	h := src.HeaderByNumber(e.ID.BlockNumber)
	if h == nil || h.Hash() != e.BlockHash || h.Time != e.ID.Timestamp {
		t.Fatalf("identifier does not match the block: %+v vs %+v", e.ID, h)
	}
	// The message's checksum is the one of the log as the chain serves it.
	if !accesslist.VerifyChecksum(e.Message(), e.ID.Origin, accesslist.PayloadHash(e.Topics, e.Data)) {
		t.Fatal("checksum does not verify")
	}
	// An executing tx on the other chain is accepted and mined with its access list intact.
	dst := d.Chain(902)
	tx, err := dst.ExecutingTx(ctx, d.Accounts[1], 0, e.Keys())
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.Client().SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	r, err := dst.WaitReceipt(ctx, tx.Hash())
	if err != nil || r.Status != 1 {
		t.Fatalf("executing tx receipt %+v (%v)", r, err)
	}
	mined, _, err := dst.Client().TransactionByHash(ctx, tx.Hash())
	if err != nil || len(accesslist.InboxKeys(mined)) != 2 {
		t.Fatalf("mined tx keys: %v (%v)", mined, err)
	}
}

func TestEmitPendingPredictsTheBlock(t *testing.T) {
	d := startDevnet(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := d.Chain(902)
	p, err := c.EmitPending(ctx, d.Accounts[2], common.Hash{1}, []byte("later"))
	if err != nil {
		t.Fatal(err)
	}
	if c.HeaderByNumber(p.ID.BlockNumber) != nil {
		t.Fatal("the pending message's block already exists")
	}
	got, err := p.Mine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Message() != p.Message() {
		t.Fatalf("mined %v, predicted %v", got.Message(), p.Message())
	}
}

func TestReorgRemovesMessage(t *testing.T) {
	d := startDevnet(t, Config{ChainIDs: []uint64{901}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := d.Chains[0]
	e, err := c.Emit(ctx, d.Accounts[0], common.Hash{2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Commit()
	depth := c.Head().Number.Uint64() - e.ID.BlockNumber + 1
	if err := c.Reorg(depth); err != nil {
		t.Fatal(err)
	}
	h := c.HeaderByNumber(e.ID.BlockNumber)
	if h == nil || h.Hash() == e.BlockHash {
		t.Fatalf("block %d was not replaced", e.ID.BlockNumber)
	}
	if h.Time != e.ID.Timestamp {
		t.Fatalf("the replacement block is at %d, the block it replaced at %d", h.Time, e.ID.Timestamp)
	}
	if r, err := c.Client().TransactionReceipt(ctx, e.TxHash); err == nil {
		t.Fatalf("the emit tx is still in the chain: %+v", r)
	}
}

// Timed chains make block n at genesis + n·block_time, all of them in lockstep, as the
// reference filter expects of an OP Stack chain.
func TestTimerMakesBlocksInLockstep(t *testing.T) {
	d := startDevnet(t, Config{BlockTime: time.Second})
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range d.Chains {
		for c.Head().Number.Uint64() < 3 {
			if time.Now().After(deadline) {
				t.Fatalf("chain %d: head %d after 30 s with a 1 s block time", c.ID(), c.Head().Number.Uint64())
			}
			time.Sleep(20 * time.Millisecond) // polling the head against a deadline
		}
	}
	for _, c := range d.Chains {
		if c.GenesisTime() != d.Chains[0].GenesisTime() || c.BlockTime() != 1 {
			t.Fatalf("chain %d: genesis %d, block time %d", c.ID(), c.GenesisTime(), c.BlockTime())
		}
		for n := uint64(0); n <= 3; n++ {
			if h := c.HeaderByNumber(n); h.Time != c.GenesisTime()+n {
				t.Fatalf("chain %d: block %d at %d, want %d", c.ID(), n, h.Time, c.GenesisTime()+n)
			}
		}
	}
	if _, err := Start(Config{BlockTime: 1500 * time.Millisecond}, zaptest.NewLogger(t)); err == nil {
		t.Fatal("a block time of 1.5 s accepted")
	}
}

// On demand, Commit moves every chain one block_time on, whatever the wall clock says.
func TestCommitKeepsTheChainsInLockstep(t *testing.T) {
	d := startDevnet(t, Config{GenesisTime: 1_000_000})
	for range 3 {
		d.Commit()
	}
	for _, c := range d.Chains {
		if h := c.Head(); h.Number.Uint64() != 3 || h.Time != 1_000_003 {
			t.Fatalf("chain %d: head %d at %d, want 3 at 1000003", c.ID(), h.Number.Uint64(), h.Time)
		}
	}
}

// A Commit of one chain of an on-demand devnet moves the others to the same time with empty
// blocks, so a tx pending on another chain stays pending until that chain commits; a reorg
// keeps them in lockstep too; CommitAlone leaves them behind.
func TestOneChainCommitKeepsTheOthersInStepAndPending(t *testing.T) {
	d := startDevnet(t, Config{GenesisTime: 1_000_000})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := d.Chain(901), d.Chain(902)
	tx, err := b.ExecutingTx(ctx, d.Accounts[1], 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Client().SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Emit(ctx, d.Accounts[0], common.Hash{1}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := a.Reorg(1); err != nil {
		t.Fatal(err)
	}
	ha, hb := a.Head(), b.Head()
	if ha.Number.Uint64() != 2 || hb.Number.Uint64() != 2 || ha.Time != hb.Time || hb.Time != 1_000_002 {
		t.Fatalf("heads 901 %d at %d, 902 %d at %d: want both 2 at 1000002", ha.Number, ha.Time, hb.Number, hb.Time)
	}
	for n := uint64(1); n <= 2; n++ {
		if blk, err := b.Client().BlockByNumber(ctx, new(big.Int).SetUint64(n)); err != nil || len(blk.Transactions()) != 0 {
			t.Fatalf("902 block %d: %v, want empty", n, err)
		}
	}
	if r, err := b.WaitReceipt(ctx, tx.Hash()); err != nil || r.BlockNumber.Uint64() != 3 {
		t.Fatalf("902's own commit did not mine its pending tx in block 3: %v %v", r, err)
	}
	a.CommitAlone()
	if a.Head().Number.Uint64() != 4 || b.Head().Number.Uint64() != 3 {
		t.Fatalf("CommitAlone: 901 at %d, 902 at %d, want 4 and 3", a.Head().Number, b.Head().Number)
	}
}

func TestCasesCoverEveryVariant(t *testing.T) {
	e := Emitted{ID: accesslist.Identifier{BlockNumber: 10, Timestamp: 1000}}
	e.ID.ChainID.SetUint64(901)
	names := map[string]bool{}
	for _, c := range Cases(e, 1005, 3600, 999) {
		names[c.Name] = true
		if len(c.Keys) == 0 {
			t.Errorf("%s has no keys", c.Name)
		}
	}
	for _, want := range []string{"valid", "wrong checksum", "wrong log index", "wrong block", "wrong timestamp", "unknown chain", "future block", "same timestamp", "expired"} {
		if !names[want] {
			t.Errorf("no case %q", want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := Start(Config{ChainIDs: []uint64{901, 901}}, zaptest.NewLogger(t)); err == nil {
		t.Fatal("duplicate chain IDs accepted")
	}
	if _, err := Start(Config{ChainIDs: []uint64{0}}, zaptest.NewLogger(t)); err == nil {
		t.Fatal("chain ID 0 accepted")
	}
	if _, err := Start(Config{ExpiryWindow: accesslist.DefaultExpiryWindow + 1}, zaptest.NewLogger(t)); err == nil {
		t.Fatal("a window longer than the protocol's accepted")
	}
}
