package revalidator

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/internal/sendrefusal"
	"github.com/interopgate/interopgate/store"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// What the revalidator does to the node's pool, beyond answering it (docs/revalidator.md,
// "op-reth"). op-reth asks about a pooled interop tx only near its 2-hour deadline, so a tx
// found invalid by a cycle stays buildable unless something makes the node drop it; and op-reth
// drops every interop tx on a failsafe episode or a reorg of its chain. The two levers here use
// only what op-reth offers: the failsafe flag it reads from this revalidator every second (a
// pulse makes it leave interop txs out of its next block and evict them all), admin_clearTxpool
// where its admin namespace is open (the whole pool out at once, the rest sent back), and
// eth_sendRawTransaction (restore sends the still-valid ones back).

// pulse is a failsafe answered to the node until it evicted the txs that started it.
type pulse struct {
	started time.Time
	txs     map[common.Hash]bool
}

// NodeFailsafe is what admin_getFailsafeEnabled answers the node: the upstream filters'
// failsafe, or a pulse.
func (r *Revalidator) NodeFailsafe() bool {
	if r.FailsafeEnabled() {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pulse != nil
}

// leverTargets are the invalid pooled txs the lever acts on now: those in the presumed next
// block(s), the only ones a builder would take (an invalid tx the builder would not take yet,
// underpriced or behind a nonce gap, costs nothing where it is and is acted on when it is
// planned: so a sender cannot make the lever work for txs that never pay), and not acted on
// within pulse_max.
func (r *Revalidator) leverTargets(invalid []common.Hash, planned []*tracked, now time.Time) []common.Hash {
	if len(invalid) == 0 || r.cfg.eviction() == EvictNone {
		return nil
	}
	next := make(map[common.Hash]bool, len(planned))
	for _, t := range planned {
		next[t.hash] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for h, at := range r.levered {
		if now.Sub(at) > r.cfg.PulseMax.D() {
			delete(r.levered, h)
		}
	}
	var out []common.Hash
	for _, h := range invalid {
		if next[h] && r.levered[h].IsZero() {
			out = append(out, h)
		}
	}
	return out
}

// evict makes the node drop the txs a cycle found invalid while in its pool, with the
// configured lever. admin_clearTxpool is used at most once per clear_min_interval and on a pool
// of at most clear_max_txs (it sends the whole pool back); otherwise, a pulse.
func (r *Revalidator) evict(ctx context.Context, hashes []common.Hash, now time.Time) {
	if len(hashes) == 0 {
		return
	}
	r.mu.Lock()
	for _, h := range hashes {
		r.levered[h] = now
	}
	sinceClear := now.Sub(r.lastClear)
	r.mu.Unlock()
	switch r.cfg.eviction() {
	case EvictClearTxpool:
		txs, _ := r.txs.len()
		if sinceClear < r.cfg.ClearMinInterval.D() || txs > r.cfg.ClearMaxTxs {
			r.log.Info("clear-txpool: within clear_min_interval of the last clear, or a pool above clear_max_txs: a failsafe pulse instead",
				zap.Duration("since_last_clear", sinceClear), zap.Int("pool_txs", txs))
			break
		}
		r.mu.Lock()
		r.lastClear = now
		r.mu.Unlock()
		err := r.clearPool(ctx, hashes)
		if err == nil {
			return
		}
		r.metrics.cleared(false, 0, 0)
		r.log.Warn("clear-txpool: admin_clearTxpool failed: a failsafe pulse instead", zap.Error(err))
	case EvictFailsafePulse:
	default:
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.startPulse(hashes, now)
}

// clearPoolBatch is how many txs one eth_sendRawTransaction batch sends back after a clear
// (geth's default limit on calls per batch is 1,000).
const clearPoolBatch = 500

// clearPool is the clear-txpool lever: the node's pool read, emptied with admin_clearTxpool,
// and every tx but the invalid ones sent back in sender and nonce order, so the next block is
// built without them and nothing else is lost. Txs that reach the node between the read and
// the clear are lost to it (the gateway's feed txs among them are restored after
// feedRestoreAfter); a block built before they are back is built from what is back.
func (r *Revalidator) clearPool(ctx context.Context, invalid []common.Hash) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.CycleTimeout.D())
	defer cancel()
	start := time.Now()
	all, err := r.node.content(ctx)
	if err != nil {
		return fmt.Errorf("txpool_content: %w", err)
	}
	removed, err := r.node.clearTxpool(ctx)
	if err != nil {
		return err
	}
	drop := make(map[common.Hash]bool, len(invalid))
	for _, h := range invalid {
		drop[h] = true
	}
	var back [][]byte
	for _, tx := range all {
		if drop[tx.Hash()] {
			continue
		}
		raw, err := tx.MarshalBinary()
		if err != nil {
			continue
		}
		back = append(back, raw)
	}
	taken, refused := 0, 0
	for chunk := range slices.Chunk(back, clearPoolBatch) {
		errs, err := r.node.send(ctx, chunk)
		if err != nil {
			refused += len(chunk)
			r.log.Warn("clear-txpool: sending txs back", zap.Int("txs", len(chunk)), zap.Error(err))
			continue
		}
		for _, e := range errs {
			if e == nil {
				taken++
			} else {
				refused++
				r.log.Debug("clear-txpool: a tx was not taken back", zap.Error(e))
			}
		}
	}
	r.metrics.cleared(true, taken, refused)
	r.stats.clears.Add(1)
	r.stats.clearResent.Add(int64(taken))
	r.mu.Lock()
	r.noteRestoration(Restoration{Delay: time.Since(start)})
	r.mu.Unlock()
	r.log.Warn("clear-txpool: the node's pool cleared to evict invalid interop txs, the rest sent back",
		zap.Int("invalid", len(invalid)), zap.Uint64("removed", removed), zap.Int("sent_back", taken), zap.Int("refused", refused),
		zap.Duration("took", time.Since(start)))
	return nil
}

// startPulse turns a pulse on (or extends it) for txs found invalid while in the node's pool.
// r.mu is held.
func (r *Revalidator) startPulse(hashes []common.Hash, now time.Time) {
	if r.pulse == nil {
		r.pulse = &pulse{started: now, txs: map[common.Hash]bool{}}
		r.metrics.pulse(true)
		r.log.Warn("failsafe pulse: the node is told failsafe until it evicts the invalid txs", zap.Int("txs", len(hashes)))
	}
	for _, h := range hashes {
		r.pulse.txs[h] = true
	}
}

// endPulse ends the pulse once none of its txs is in the node's pool, or at pulse_max.
func (r *Revalidator) endPulse(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pulse == nil {
		return
	}
	left := 0
	for h := range r.pulse.txs {
		if t := r.txs.get(h); t != nil && !t.fromFeed {
			left++
		}
	}
	if left > 0 && now.Sub(r.pulse.started) < r.cfg.PulseMax.D() {
		return
	}
	r.log.Info("failsafe pulse ended", zap.Int("still_in_pool", left), zap.Duration("took", now.Sub(r.pulse.started)))
	r.pulse = nil
	r.metrics.pulse(false)
	r.kickCycle() // restore what the node dropped
}

// holdDropped keeps interop txs that left the node's pool, for restore; the mined ones among
// them are told apart later by their sender's nonce.
func (r *Revalidator) holdDropped(gone []*tracked, now time.Time) {
	if !r.cfg.Restore {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range gone {
		if t.raw == nil || t.badKeys != nil {
			continue
		}
		t.firstSeen, t.dropHead, t.refusals = now, uint64(r.headSeen.Number), 0
		if !r.dropped.add(t) {
			r.metrics.restored("full", 1)
		}
	}
}

// restore sends back to the node, at most restore_per_cycle per cycle, the dropped interop txs
// that are still valid for exec (every message proven valid), whose nonce is unused, and that
// the node does not hold again; never while the node is told failsafe (it would refuse them).
func (r *Revalidator) restore(ctx context.Context, exec accesslist.ExecContext, now time.Time) {
	if !r.cfg.Restore || r.NodeFailsafe() {
		return
	}
	r.mu.Lock()
	var due []*tracked
	for h, at := range r.feedSent {
		if now.Sub(at) > r.cfg.FeedGrace.D()+feedRestoreAfter {
			delete(r.feedSent, h)
		}
	}
	// Feed txs the node has not taken a while after the gateway forwarded them: refused while its
	// gate was on (a pulse, a failsafe) or lost on the way from the sentries.
	for _, t := range r.txs.interopTxs() {
		if !t.fromFeed || t.raw == nil || now.Sub(t.firstSeen) < feedRestoreAfter ||
			now.Sub(r.feedSent[t.hash]) < feedRestoreAfter || len(due) >= r.cfg.RestorePerCycle {
			continue
		}
		if v, err := r.msgs.answerMessages(t.msgs, exec, now); err == nil && v.Class == sc.ClassValid {
			due = append(due, t)
			r.feedSent[t.hash] = now
		}
	}
	for h, t := range r.mined.m {
		if now.Sub(t.firstSeen) > r.cfg.RestoreTTL.D() {
			r.mined.remove(h)
		}
	}
	for h, t := range r.dropped.m {
		switch {
		case now.Sub(t.firstSeen) > r.cfg.RestoreTTL.D():
			r.dropped.remove(h)
			r.metrics.restored("expired", 1)
		case r.txs.get(h) != nil:
			r.dropped.remove(h) // back in the pool
		case !t.resentAt.IsZero() && now.Sub(t.resentAt) < feedRestoreAfter:
			// Sent back a moment ago: held until a pool read shows it (the node may drop it again
			// before one does: a reorg's eviction right after the restore), not sent again yet.
		default:
			if v, err := r.msgs.answerMessages(t.msgs, exec, now); err == nil && v.Class == sc.ClassValid && len(due) < r.cfg.RestorePerCycle {
				due = append(due, t)
			}
		}
	}
	r.mu.Unlock()
	if len(due) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.CycleTimeout.D())
	defer cancel()
	senders := map[common.Address]bool{}
	var list []common.Address
	for _, t := range due {
		if !senders[t.sender] {
			senders[t.sender] = true
			list = append(list, t.sender)
		}
	}
	nonces, err := r.node.nonces(ctx, list)
	if err != nil {
		r.log.Debug("restore: reading nonces", zap.Error(err))
		return
	}
	var send []*tracked
	r.mu.Lock()
	for _, t := range due {
		if n, ok := nonces[t.sender]; !ok || n > t.nonce {
			r.dropped.remove(t.hash) // mined, or its nonce used by another tx
			r.metrics.restored("nonce_used", 1)
			if ok {
				r.mined.add(t) // a reorg of the node's chain may take its block away
			}
			continue
		}
		send = append(send, t)
	}
	r.mu.Unlock()
	if len(send) == 0 {
		return
	}
	raws := make([][]byte, len(send))
	for i, t := range send {
		raws[i] = t.raw
	}
	errs, err := r.node.send(ctx, raws)
	if err != nil {
		r.log.Debug("restore: sending", zap.Error(err))
		return
	}
	taken := 0
	r.mu.Lock()
	for i, t := range send {
		e := errs[i]
		var why sendrefusal.Refusal
		if e != nil {
			why = sendrefusal.Classify(e.Error())
		}
		switch {
		case e == nil:
			if r.dropped.has(t.hash) { // not a feed tx the node never took
				x := Restoration{Delay: r.now().Sub(t.firstSeen)}
				if h := uint64(r.headSeen.Number); h > t.dropHead { // not below it after a reorg of the node's chain
					x.Blocks = h - t.dropHead
				}
				r.noteRestoration(x)
			}
			t.resentAt = r.now() // held until a pool read shows it back (removed then)
			taken++
		case why == sendrefusal.Known:
			r.dropped.remove(t.hash) // the node has it (pending, or queued behind a nonce gap)
		case why == sendrefusal.NonceTooLow, why == sendrefusal.ReplacementUnderpriced:
			r.dropped.remove(t.hash) // its nonce is used, or taken in the pool by another tx
			r.metrics.restored("nonce_used", 1)
		case why.Passes():
			// Refusals that pass: its gate has not cleared yet, its head is one block behind, or
			// its interop check found no answer in time (it asked this revalidator, which proved
			// the tx valid before sending it): not counted. A definitive interop refusal is.
		default:
			r.log.Debug("restore: the node refused a tx", zap.String("tx", t.hash.Hex()), zap.Error(e))
			if t.refusals++; t.refusals >= maxRestoreRefusals {
				r.dropped.remove(t.hash) // the node will not take it: stop asking
				r.metrics.restored("refused", 1)
			}
		}
	}
	r.mu.Unlock()
	r.recordRestored(send, errs)
	r.stats.restored.Add(int64(taken))
	r.metrics.restored("sent", taken)
	if taken > 0 {
		r.log.Info("restored interop txs the node had dropped", zap.Int("txs", taken))
	}
}

// nodeReorged is a reorg of the node's own chain (from last to h): op-reth evicts every interop
// tx, and puts back in its pool the txs of the blocks the reorg took away. The interop txs lately
// mined (held restore_ttl) are held for restore again: those whose nonce the new chain left
// unused go back to the node.
func (r *Revalidator) nodeReorged(last, h head) {
	r.mu.Lock()
	n := len(r.mined.m)
	for hash, t := range r.mined.m {
		r.mined.remove(hash)
		r.dropped.add(t)
	}
	r.mu.Unlock()
	r.log.Warn("the node's chain reorged: lately mined interop txs held for restore", zap.Uint64("from", uint64(last.Number)),
		zap.Uint64("to", uint64(h.Number)), zap.Int("txs", n))
	r.kickCycle()
}

// maxRestoreRefusals: a dropped tx the node refused this many times (for a reason that does not
// pass with its gate or its next block) is no longer sent.
const maxRestoreRefusals = 3

// heldTxs are signed txs held for restore, bounded in count and in bytes. r.mu guards it.
type heldTxs struct {
	m                map[common.Hash]*tracked
	bytes            int
	maxTxs, maxBytes int
}

func newHeldTxs(maxTxs, maxBytes int) *heldTxs {
	return &heldTxs{m: map[common.Hash]*tracked{}, maxTxs: maxTxs, maxBytes: maxBytes}
}

// add holds t; false when the bound is reached (t is not held).
func (h *heldTxs) add(t *tracked) bool {
	if _, ok := h.m[t.hash]; ok {
		return true
	}
	if len(h.m) >= h.maxTxs || h.bytes+len(t.raw) > h.maxBytes {
		return false
	}
	h.m[t.hash] = t
	h.bytes += len(t.raw)
	return true
}

func (h *heldTxs) remove(hash common.Hash) {
	if t, ok := h.m[hash]; ok {
		h.bytes -= len(t.raw)
		delete(h.m, hash)
	}
}

func (h *heldTxs) has(hash common.Hash) bool { _, ok := h.m[hash]; return ok }

// feedRestoreAfter is how long a feed tx may be missing from the node's pool before it is sent
// there, and how often it is sent again while it is missing.
const feedRestoreAfter = 2 * time.Second

// droppedTxs returns the dropped txs held for restore (their messages are checked by cycles).
func (r *Revalidator) droppedTxs() []*tracked {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*tracked, 0, len(r.dropped.m))
	for _, t := range r.dropped.m {
		out = append(out, t)
	}
	return out
}

// noteRestoration keeps a restoration for Stats, the last restoreSample. r.mu is held.
func (r *Revalidator) noteRestoration(x Restoration) {
	if len(r.restores) >= restoreSample {
		r.restores = slices.Delete(r.restores, 0, 1)
	}
	r.restores = append(r.restores, x)
}

func (r *Revalidator) restorations() []Restoration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.restores)
}

// recordRestored records in the tx statuses the txs the node took back (errs[i] nil).
func (r *Revalidator) recordRestored(sent []*tracked, errs []error) {
	if r.d.Statuses == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), statusWriteTimeout)
	defer cancel()
	for i, t := range sent {
		if errs[i] != nil {
			continue
		}
		h := t.hash.Hex()
		attempts := 1
		if old, ok, err := r.d.Statuses.GetStatus(ctx, h); err == nil && ok && old.State == StateRestored {
			attempts = old.Attempts + 1
		}
		if err := r.d.Statuses.SetStatus(ctx, h, store.Status{State: StateRestored, Attempts: attempts, UpdatedAt: r.now()}, r.cfg.StatusTTL.D()); err != nil {
			r.log.Debug("recording a restored tx's status", zap.Error(err))
			return
		}
	}
}
