package revalidator

import (
	"context"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"
	"go.uber.org/zap"
)

// Source is a chain of the dependency set whose head the revalidator watches, so that a reorg
// there re-checks the messages it touches at once instead of at the sequencer's next head.
type Source struct {
	ChainID uint64
	URL     string // its JSON-RPC
}

// sourceHead is what the watch needs of a source chain's latest block.
type sourceHead struct {
	head
	ParentHash common.Hash `json:"parentHash"`
}

// watchSource polls one source chain's head every source_poll until ctx ends. A head that does
// not extend the one seen before is a reorg: the verdicts of that chain's messages are dropped
// and a cycle runs at once, and again at each poll for settleFor: a reorg is seen while it
// happens (the head steps back before the new branch grows), and the filters see it a moment
// after the chain does.
func (r *Revalidator) watchSource(ctx context.Context, s Source) {
	c, err := rpc.DialContext(ctx, s.URL)
	if err != nil {
		r.log.Warn("source chain: not watched", zap.Uint64("chain", s.ChainID), zap.Error(err))
		return
	}
	defer c.Close()
	t := time.NewTicker(r.cfg.SourcePoll.D())
	defer t.Stop()
	var last sourceHead
	settle := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		hctx, cancel := context.WithTimeout(ctx, r.cfg.SourcePoll.D()+time.Second)
		var h sourceHead
		err := c.CallContext(hctx, &h, "eth_getBlockByNumber", "latest", false)
		switch {
		case err == nil && last.Hash != (common.Hash{}) && h.Hash != last.Hash && r.reorged(hctx, c, last, h):
			settle = int(settleFor/r.cfg.SourcePoll.D()) + 1
			r.sourceReorged(s.ChainID, uint64(h.Number), true)
		case settle > 0:
			settle--
			r.sourceReorged(s.ChainID, uint64(h.Number), false)
		}
		cancel()
		if err == nil {
			last = h
			r.stats.sourceHeads.Add(1)
		}
	}
}

// reorged reports whether h does not extend last: its parent is not last, it is not above it,
// or, after a jump of several blocks, the block at last's height is another.
func (r *Revalidator) reorged(ctx context.Context, c *rpc.Client, last, h sourceHead) bool {
	switch {
	case h.Number <= last.Number:
		return true
	case h.Number == last.Number+1:
		return h.ParentHash != last.Hash
	}
	var then sourceHead
	if err := c.CallContext(ctx, &then, "eth_getBlockByNumber", last.Number, false); err != nil {
		return false // the next poll tells
	}
	return then.Hash != last.Hash
}

// settleFor is how long after a reorg its chain's messages are checked again at every poll: the
// filters see a reorg a moment after the chain does.
const settleFor = 2 * time.Second

// sourceReorged drops what was known of the chain's messages and asks the run loop for a cycle.
func (r *Revalidator) sourceReorged(chainID, newHead uint64, first bool) {
	n := r.msgs.forgetChain(chainID)
	if first {
		r.log.Info("source chain reorged: its messages are checked again", zap.Uint64("chain", chainID), zap.Uint64("head", newHead), zap.Int("verdicts_dropped", n))
	}
	r.kickCycle()
}

// kickCycle asks the run loop for a cycle now (a source reorg, a failsafe change, a pulse's end).
func (r *Revalidator) kickCycle() {
	select {
	case r.kick <- struct{}{}:
	default: // a cycle is already asked for
	}
}
