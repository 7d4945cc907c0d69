package revalidator

// Following: the node's head and pool, the gateway's feed and the upstream failsafe (the
// source chains' heads are in sources.go). What is followed starts cycles.

import (
	"context"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"go.uber.org/zap"
)

// Run follows the node until ctx ends: a cycle on every new head; in between, the pool re-read
// every pool_poll and, when no head came for half of recheck, a cycle for the last head (so
// every tracked message is rechecked within recheck, heads or not); failsafe transitions
// applied as soon as they are seen.
func (r *Revalidator) Run(ctx context.Context) {
	heads := time.NewTicker(r.cfg.HeadPoll.D())
	defer heads.Stop()
	pool := time.NewTicker(r.cfg.PoolPoll.D())
	defer pool.Stop()
	for _, s := range r.d.Sources {
		go r.watchSource(ctx, s)
	}
	for {
		r.watchFailsafe()
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
			r.mu.Lock()
			h := r.headSeen
			r.mu.Unlock()
			if h.Hash != (common.Hash{}) {
				r.cycle(ctx, h)
			}
		case <-pool.C:
			if h, ok := r.recheckDue(); ok {
				r.cycle(ctx, h)
				continue
			}
			if err := r.refresh(ctx); err != nil {
				r.log.Debug("reading the node's pool", zap.Error(err))
			}
			// A tx that became takeable since the last cycle (a nonce gap filled, the base fee
			// down) is acted on now if its verdict says invalid; what the node refused while its
			// gate was still on goes back now. Both from known verdicts: no upstream call.
			r.actBetweenCycles(ctx)
			r.restore(ctx, r.Next(), r.now())
		case <-heads.C:
			hctx, cancel := context.WithTimeout(ctx, r.cfg.HeadPoll.D()+time.Second)
			h, err := r.node.head(hctx)
			cancel()
			if err != nil {
				r.log.Debug("reading the node's head", zap.Error(err))
				continue
			}
			r.mu.Lock()
			last := r.lastHead
			fresh := h.Hash != last.Hash
			r.lastHead = h
			r.mu.Unlock()
			if fresh && last.Hash != (common.Hash{}) && r.headReorged(ctx, last, h) {
				r.nodeReorged(last, h)
			}
			if fresh {
				r.cycle(ctx, h)
			}
		}
	}
}

// recheckDue returns the last head when no cycle ran for half of recheck.
func (r *Revalidator) recheckDue() (head, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastCycle.IsZero() || r.now().Sub(r.lastCycle) < r.cfg.Recheck.D()/2 {
		return head{}, false
	}
	return r.headSeen, true
}

// watchFailsafe mirrors the upstream failsafe; a transition voids every message verdict. It also
// logs the upstream filters going silent, or answering again.
func (r *Revalidator) watchFailsafe() {
	if answering := r.d.UpstreamAnswering(); r.upstreamSilent.Swap(!answering) != !answering {
		if answering {
			r.log.Info("the upstream filters answer again")
		} else {
			r.log.Warn("the upstream filters do not answer: not ready")
		}
		r.metrics.setReady(r.cycleReady())
	}
	on := r.d.Failsafe()
	if r.failsafeOn.Swap(on) != on {
		r.msgs.clear()
		r.metrics.setFailsafe(on)
		r.log.Warn("upstream failsafe changed: message verdicts dropped", zap.Bool("enabled", on))
		r.kickCycle() // verdicts again at once, and what the node dropped restored
	}
}

// FailsafeEnabled is the upstream failsafe as last seen.
func (r *Revalidator) FailsafeEnabled() bool {
	r.watchFailsafe()
	return r.failsafeOn.Load()
}

// refresh re-reads the node's pending pool and the gateway's feed.
func (r *Revalidator) refresh(ctx context.Context) error {
	now := r.now()
	if r.d.Feed != nil {
		r.readFeed(ctx, now)
	}
	pctx, cancel := context.WithTimeout(ctx, r.cfg.CycleTimeout.D())
	defer cancel()
	pending, err := r.node.pending(pctx, now)
	if err != nil {
		return err
	}
	r.holdDropped(r.txs.sync(pending, now, r.cfg.FeedGrace.D()), now)
	r.endPulse(now)
	txs, interop := r.txs.len()
	r.metrics.sizes(txs, interop, r.msgs.len())
	full := r.txs.untracked()
	r.mu.Lock()
	r.metrics.setUntracked(full, &r.untracked)
	r.mu.Unlock()
	return nil
}

func (r *Revalidator) readFeed(ctx context.Context, now time.Time) {
	r.mu.Lock()
	cursor := r.feedCursor
	r.mu.Unlock()
	entries, err := r.d.Feed.Read(ctx, cursor, 1000)
	if err != nil {
		r.log.Debug("reading the gateway feed", zap.Error(err))
		return
	}
	var ts []*tracked
	for _, e := range entries {
		cursor = e.ID
		if t, err := fromRaw(e.Raw, r.cfg.ChainID, now); err == nil {
			ts = append(ts, t)
		}
	}
	r.txs.addFeed(ts)
	r.mu.Lock()
	r.feedCursor = cursor
	r.mu.Unlock()
}

// headReorged reports whether the node's new head h does not extend last: not above it, its
// parent not last, or, after a jump of several blocks (heads missed between two polls), the
// block at last's height is another.
func (r *Revalidator) headReorged(ctx context.Context, last, h head) bool {
	switch {
	case h.Number <= last.Number:
		return true
	case h.Number == last.Number+1:
		return h.Parent != last.Hash
	}
	hctx, cancel := context.WithTimeout(ctx, r.cfg.HeadPoll.D()+time.Second)
	defer cancel()
	then, err := r.node.headAt(hctx, uint64(last.Number))
	return err == nil && then.Hash != last.Hash
}
