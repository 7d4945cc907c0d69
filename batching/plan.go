package batching

import "container/heap"

// PlanTx is what block planning needs of one pending transaction. Fees are in wei, clamped to
// uint64 by the caller (no real fee comes near it).
type PlanTx struct {
	// ID is the caller's handle of the tx, returned in block order.
	ID        int
	Nonce     uint64
	GasTipCap uint64
	GasFeeCap uint64
	Gas       uint64
}

// effectiveTip is what the builder earns per gas at baseFee; ok is false when the tx cannot
// pay the base fee (it and its sender's later txs wait).
func (t *PlanTx) effectiveTip(baseFee uint64) (uint64, bool) {
	if t.GasFeeCap < baseFee {
		return 0, false
	}
	return min(t.GasTipCap, t.GasFeeCap-baseFee), true
}

// Plan orders pending transactions as a block builder would and returns the IDs of those that
// fit in gasLimit (and maxTxs when positive), in block order: each sender's txs in nonce order,
// senders interleaved by the effective tip of their next tx at baseFee, highest first. A tx
// that does not fit ends its sender's run, as in go-ethereum's miner. senders[i] must be sorted
// by nonce, without gaps from the account's next nonce (the pool's pending set).
//
// The cost is O(S + K log S) for S senders and K planned txs: a heap over the senders' next txs,
// never a sort of the whole pool.
func Plan(senders [][]PlanTx, baseFee, gasLimit uint64, maxTxs int) []int {
	h := make(planHeap, 0, len(senders))
	for _, txs := range senders {
		if len(txs) == 0 {
			continue
		}
		if tip, ok := txs[0].effectiveTip(baseFee); ok {
			h = append(h, planHead{txs: txs, tip: tip})
		}
	}
	heap.Init(&h)
	var out []int
	gasLeft := gasLimit
	const minTxGas = 21000
	for h.Len() > 0 && gasLeft >= minTxGas && (maxTxs <= 0 || len(out) < maxTxs) {
		head := &h[0]
		tx := &head.txs[0]
		if tx.Gas > gasLeft {
			heap.Pop(&h) // does not fit: the sender's later txs cannot go before it
			continue
		}
		out = append(out, tx.ID)
		gasLeft -= tx.Gas
		head.txs = head.txs[1:]
		tip, ok := uint64(0), len(head.txs) > 0
		if ok {
			tip, ok = head.txs[0].effectiveTip(baseFee)
		}
		if !ok {
			heap.Pop(&h)
			continue
		}
		head.tip = tip
		heap.Fix(&h, 0)
	}
	return out
}

type planHead struct {
	txs []PlanTx
	tip uint64
}

type planHeap []planHead

func (h planHeap) Len() int { return len(h) }

// Less puts the highest tip first; among equal tips, the lower ID (earlier seen) first.
func (h planHeap) Less(i, j int) bool {
	if h[i].tip != h[j].tip {
		return h[i].tip > h[j].tip
	}
	return h[i].txs[0].ID < h[j].txs[0].ID
}
func (h planHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *planHeap) Push(x any)   { *h = append(*h, x.(planHead)) }
func (h *planHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
