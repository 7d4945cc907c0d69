package revalidator

import (
	"math"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/batching"
)

// tracked is one pending transaction of the mirrored pool.
type tracked struct {
	hash   common.Hash
	sender common.Address
	nonce  uint64
	tip    uint64 // fees in wei, clamped to uint64
	feeCap uint64
	gas    uint64
	// keys are the tx's inbox keys as it carries them; msgs the messages they name (nil for a
	// plain tx); badKeys says the keys do not parse (the tx is invalid whatever the filter says).
	keys    []common.Hash
	msgs    []accesslist.Message
	badKeys error
	seq     int // arrival order, for stable planning among equal tips
	// fromFeed: announced by the gateway and not yet seen in the node's pool.
	fromFeed bool
	// queued: in the node's pool behind a nonce gap (no builder takes it yet).
	queued    bool
	firstSeen time.Time // for a dropped tx: when it left the node's pool
	dropHead  uint64    // for a dropped tx: the node's head when it left
	refusals  int       // for a dropped tx: times the node refused it back
	resentAt  time.Time // for a dropped tx: when it was last sent back and taken
	// raw is the signed tx, kept for interop txs (to send back one the node dropped).
	raw []byte
}

func (t *tracked) interop() bool { return len(t.keys) > 0 }

func (t *tracked) size() int { return 256 + 32*len(t.keys) + 96*len(t.msgs) + len(t.raw) }

func clampWei(v *big.Int) uint64 {
	if v == nil || v.Sign() < 0 {
		return 0
	}
	if !v.IsUint64() {
		return math.MaxUint64
	}
	return v.Uint64()
}

// txTable mirrors the node's pool (pending and queued txs): by hash, and per sender in nonce order. It is
// bounded in txs and bytes; when full, new txs are not tracked (counted in full) and their
// checks take the upstream path. Safe for concurrent use.
type txTable struct {
	maxTxs, maxBytes int

	mu       sync.RWMutex
	byHash   map[common.Hash]*tracked
	bySender map[common.Address][]*tracked
	bytes    int
	seq      int
	full     int // txs not tracked because the table was full
}

func newTxTable(maxTxs, maxBytes int) *txTable {
	return &txTable{maxTxs: maxTxs, maxBytes: maxBytes, byHash: map[common.Hash]*tracked{}, bySender: map[common.Address][]*tracked{}}
}

// add tracks t, replacing a tx of the same sender and nonce; false if the table is full.
// tt.mu is held.
func (tt *txTable) add(t *tracked) bool {
	if old, ok := tt.byHash[t.hash]; ok {
		old.fromFeed = old.fromFeed && t.fromFeed
		return true
	}
	list := tt.bySender[t.sender]
	i, found := slices.BinarySearchFunc(list, t.nonce, func(x *tracked, n uint64) int {
		switch {
		case x.nonce < n:
			return -1
		case x.nonce > n:
			return 1
		}
		return 0
	})
	grows := 1
	freed := 0
	if found {
		grows, freed = 0, list[i].size()
	}
	if len(tt.byHash)+grows > tt.maxTxs || tt.bytes-freed+t.size() > tt.maxBytes {
		tt.full++
		return false
	}
	if found { // a replacement: the new tx takes the old one's nonce
		tt.forget(list[i])
		list[i] = t
	} else {
		list = slices.Insert(list, i, t)
	}
	tt.seq++
	t.seq = tt.seq
	tt.bySender[t.sender] = list
	tt.byHash[t.hash] = t
	tt.bytes += t.size()
	return true
}

// forget drops t from the hash index and the byte count (not from its sender's list).
func (tt *txTable) forget(t *tracked) {
	delete(tt.byHash, t.hash)
	tt.bytes -= t.size()
}

func (tt *txTable) remove(t *tracked) {
	tt.forget(t)
	list := tt.bySender[t.sender]
	if i := slices.Index(list, t); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(tt.bySender, t.sender)
	} else {
		tt.bySender[t.sender] = list
	}
}

// sync makes the table the node's pool: txs not in it leave (included, replaced,
// evicted), except feed txs still within their grace; new ones are added. It returns the
// interop txs that left.
func (tt *txTable) sync(pending []*tracked, now time.Time, grace time.Duration) (gone []*tracked) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	in := make(map[common.Hash]bool, len(pending))
	for _, t := range pending {
		in[t.hash] = true
	}
	// Leavers first, so their room goes to newcomers.
	for h, t := range tt.byHash {
		if in[h] || (t.fromFeed && now.Sub(t.firstSeen) < grace) {
			continue
		}
		tt.remove(t)
		if t.interop() {
			gone = append(gone, t)
		}
	}
	for _, t := range pending {
		tt.add(t)
		if x := tt.byHash[t.hash]; x != nil {
			x.fromFeed, x.queued = false, t.queued
		}
	}
	return gone
}

// addFeed tracks txs announced by the gateway before the node has them.
func (tt *txTable) addFeed(ts []*tracked) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	for _, t := range ts {
		t.fromFeed = true
		tt.add(t)
	}
}

// untracked is how many txs were not tracked because the table was full.
func (tt *txTable) untracked() int {
	tt.mu.RLock()
	defer tt.mu.RUnlock()
	return tt.full
}

func (tt *txTable) get(h common.Hash) *tracked {
	tt.mu.RLock()
	defer tt.mu.RUnlock()
	return tt.byHash[h]
}

func (tt *txTable) len() (txs, interop int) {
	tt.mu.RLock()
	defer tt.mu.RUnlock()
	for _, t := range tt.byHash {
		if t.interop() {
			interop++
		}
	}
	return len(tt.byHash), interop
}

// interopTxs returns every tracked interop tx.
func (tt *txTable) interopTxs() []*tracked {
	tt.mu.RLock()
	defer tt.mu.RUnlock()
	var out []*tracked
	for _, t := range tt.byHash {
		if t.interop() {
			out = append(out, t)
		}
	}
	return out
}

// plan returns the txs of the presumed next blocks, in block order (see batching.Plan).
func (tt *txTable) plan(baseFee, gasLimit uint64, maxTxs int) []*tracked {
	tt.mu.RLock()
	defer tt.mu.RUnlock()
	senders := make([][]batching.PlanTx, 0, len(tt.bySender))
	var all []*tracked
	for _, list := range tt.bySender {
		txs := make([]batching.PlanTx, 0, len(list))
		for _, t := range list {
			if t.queued {
				break // behind a nonce gap: the sender's txs from here wait for it
			}
			txs = append(txs, batching.PlanTx{ID: len(all), Nonce: t.nonce, GasTipCap: t.tip, GasFeeCap: t.feeCap, Gas: t.gas})
			all = append(all, t)
		}
		if len(txs) > 0 {
			senders = append(senders, txs)
		}
	}
	ids := batching.Plan(senders, baseFee, gasLimit, maxTxs)
	out := make([]*tracked, len(ids))
	for i, id := range ids {
		out[i] = all[id]
	}
	return out
}
