package revalidator

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

func mkTx(hash, sender int, nonce uint64) *tracked {
	return &tracked{hash: common.BigToHash(big.NewInt(int64(hash))), sender: common.BigToAddress(big.NewInt(int64(sender))),
		nonce: nonce, tip: 1, feeCap: 10, gas: 21000, firstSeen: time.Now()}
}

// The mirror follows the pool: replacements take the nonce, what leaves the pool leaves the
// table (feed txs after their grace), and the bound holds.
func TestTxTableFollowsThePool(t *testing.T) {
	tt := newTxTable(3, 1<<20)
	now := time.Now()
	a0, a1, b0 := mkTx(1, 1, 0), mkTx(2, 1, 1), mkTx(3, 2, 0)
	tt.sync([]*tracked{a1, a0, b0}, now, time.Minute)
	if got := tt.bySender[a0.sender]; len(got) != 2 || got[0] != a0 || got[1] != a1 {
		t.Fatalf("sender list not in nonce order: %v", got)
	}
	// a1 replaced by a1' (same sender and nonce): one entry for the nonce.
	a1r := mkTx(4, 1, 1)
	tt.sync([]*tracked{a0, a1r, b0}, now, time.Minute)
	if got := tt.bySender[a0.sender]; len(got) != 2 || got[1] != a1r || tt.get(a1.hash) != nil {
		t.Fatalf("after a replacement: %v", got)
	}
	// The table is full (3): a fourth tx is not tracked, and counted.
	tt.sync([]*tracked{a0, a1r, b0, mkTx(5, 3, 0)}, now, time.Minute)
	if n, _ := tt.len(); n != 3 || tt.untracked() != 1 {
		t.Fatalf("%d tracked, %d untracked", n, tt.untracked())
	}
	// A feed tx survives syncs without it until its grace ends.
	tt.sync(nil, now, time.Minute)
	f := mkTx(6, 4, 0)
	tt.addFeed([]*tracked{f})
	tt.sync(nil, now.Add(time.Second), time.Minute)
	if tt.get(f.hash) == nil {
		t.Fatal("a feed tx left before its grace")
	}
	tt.sync(nil, now.Add(2*time.Minute), time.Minute)
	if n, _ := tt.len(); n != 0 || len(tt.bySender) != 0 || tt.bytes != 0 {
		t.Fatalf("after everything left: %d txs, %d senders, %d bytes", n, len(tt.bySender), tt.bytes)
	}
}
