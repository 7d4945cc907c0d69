package revalidator

// The cycle: the presumed next block planned from the mirrored pool, its messages checked in
// one upstream round, every tracked interop tx decided and the invalid ones published.

import (
	"context"
	"sort"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/store"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// cycle revalidates for the block after h: it re-reads the pool, plans the presumed next
// block(s), and checks in one upstream round the messages of their interop txs, then those not
// checked for recheck, up to max_cycle_checks; then it re-evaluates every tracked interop tx and
// publishes the invalid ones.
func (r *Revalidator) cycle(ctx context.Context, h head) {
	if err := r.refresh(ctx); err != nil {
		r.log.Warn("reading the node's pool", zap.Error(err))
	}
	r.revalidate(ctx, h)
}

// revalidate is a cycle's work after the pool is read.
func (r *Revalidator) revalidate(ctx context.Context, h head) {
	start := r.now()
	exec := accesslist.ExecContext{ChainID: r.chainID, Timestamp: uint64(h.Time) + uint64(r.cfg.BlockTime.D()/time.Second)}
	r.mu.Lock()
	r.next, r.headSeen, r.lastCycle = exec, h, start
	r.mu.Unlock()
	r.stats.cycles.Add(1)
	if r.FailsafeEnabled() {
		r.metrics.cycle("failsafe", r.now().Sub(start), 0)
		return
	}
	planned := r.plan(h)
	msgs := r.pickMessages(planned, exec, start)
	if len(msgs) > 0 {
		reqs := make([]sc.Request, len(msgs))
		for i := range msgs {
			reqs[i] = sc.Request{InboxKeys: accesslist.EncodeMessages(msgs[i : i+1]), MinSafety: r.safety, Executing: exec}
		}
		cctx, cancel := context.WithTimeout(ctx, r.cfg.CycleTimeout.D())
		verdicts := r.d.Upstream.CheckAccessLists(cctx, reqs)
		cancel()
		r.stats.checks.Add(int64(len(reqs)))
		r.stats.rounds.Add(1)
		r.noteUpstream(verdicts)
		r.record(msgs, verdicts, r.now())
	}
	invalidInPool, fresh := r.evaluate(exec, start)
	r.evict(ctx, r.leverTargets(invalidInPool, planned, start), r.now()) // first: the next block may be close
	r.publish(fresh)
	r.restore(ctx, exec, r.now())
	r.metrics.cycle("ok", r.now().Sub(start), len(msgs))
	r.metrics.setReady(r.cycleReady())
	txs, interop := r.txs.len()
	r.metrics.sizes(txs, interop, r.msgs.len())
}

// plan is the presumed next block(s) after h.
func (r *Revalidator) plan(h head) []*tracked {
	baseFee := uint64(0)
	if h.BaseFee != nil {
		baseFee = clampWei(h.BaseFee.ToInt())
	}
	return r.txs.plan(baseFee, uint64(h.GasLimit)*uint64(r.cfg.PlanBlocks), 0)
}

// actBetweenCycles decides the tracked txs from the table as it is and acts on the invalid ones
// the builder would take next: the pool changes between heads (a nonce gap filled behind an
// invalid tx makes it takeable), and the lever must not wait for the next head.
func (r *Revalidator) actBetweenCycles(ctx context.Context) {
	r.mu.Lock()
	h := r.headSeen
	r.mu.Unlock()
	if h.Hash == (common.Hash{}) || r.FailsafeEnabled() {
		return
	}
	now := r.now()
	invalidInPool, fresh := r.evaluate(r.Next(), now)
	r.evict(ctx, r.leverTargets(invalidInPool, r.plan(h), now), r.now())
	r.publish(fresh)
}

// pickMessages chooses the cycle's checks: every message of the planned interop txs that passes
// the local rules for exec, then any tracked message not checked within recheck.
func (r *Revalidator) pickMessages(planned []*tracked, exec accesslist.ExecContext, now time.Time) []accesslist.Message {
	seen := map[accesslist.Message]bool{}
	var out []accesslist.Message
	add := func(t *tracked, stale bool) bool {
		for _, m := range t.msgs {
			if len(out) >= r.cfg.MaxCycleChecks {
				return false
			}
			if seen[m] || r.d.Dependencies.CheckMessage(exec, m) != nil {
				continue
			}
			if stale && now.Sub(r.msgs.lastChecked(m)) < r.cfg.Recheck.D() {
				continue
			}
			seen[m] = true
			out = append(out, m)
		}
		return true
	}
	for _, t := range planned {
		if !add(t, false) {
			return out
		}
	}
	rest := r.txs.interopTxs()
	sort.Slice(rest, func(i, j int) bool { return rest[i].seq < rest[j].seq })
	rest = append(rest, r.droppedTxs()...) // restore needs their verdicts too
	for _, t := range rest {
		if !add(t, true) {
			break
		}
	}
	return out
}

// record stores upstream verdicts on single messages. Valid and unambiguous invalid verdicts
// are kept; "not yet" and ambiguous ones make the message unknown; an unavailable upstream
// changes nothing (what was known expires by its own TTL).
func (r *Revalidator) record(msgs []accesslist.Message, verdicts []sc.Verdict, now time.Time) {
	var keep []accesslist.Message
	var vs []msgVerdict
	var forget []accesslist.Message
	for i, v := range verdicts {
		switch {
		case v.Class == sc.ClassValid:
			keep = append(keep, msgs[i])
			vs = append(vs, msgVerdict{valid: true, until: now.Add(r.cfg.ValidTTL.D()), checked: now})
		case v.Class == sc.ClassInvalid && !v.Ambiguous:
			keep = append(keep, msgs[i])
			vs = append(vs, msgVerdict{code: v.Code, message: v.Message, until: now.Add(r.cfg.InvalidTTL.D()), checked: now})
		case v.Class == sc.ClassFailsafe:
			r.failsafeOn.Store(true)
			r.msgs.clear()
			return
		case v.Class == sc.ClassUnavailable:
		default:
			forget = append(forget, msgs[i])
		}
	}
	r.msgs.forget(forget)
	r.msgs.set(keep, vs, now)
}

// evaluate decides every tracked interop tx for exec from the table, and publishes the invalid
// ones; a tx found valid again leaves the invalid set. It returns every invalid one in the
// node's pool, for the lever, and the newly invalid ones, to publish.
func (r *Revalidator) evaluate(exec accesslist.ExecContext, now time.Time) (inPool []common.Hash, fresh []Invalid) {
	if r.failsafeOn.Load() {
		// A failsafe is not a verdict on any tx: it has its own gauge and alert, and the builder's
		// checks answer it. The list keeps what it had.
		return nil, nil
	}
	found := map[common.Hash]Invalid{}
	for _, t := range r.txs.interopTxs() {
		if t.fromFeed {
			continue // not (yet) in the node's pool: maybe never, maybe mined already
		}
		v, err := r.msgs.decide(len(t.keys), t.msgs, t.badKeys, exec, now)
		if err != nil {
			continue // not known: neither valid nor invalid
		}
		if v.Class != sc.ClassValid {
			found[t.hash] = Invalid{Hash: t.hash, Code: v.Code, Message: v.Message, FoundAt: now}
		}
	}
	r.mu.Lock()
	for h, inv := range found {
		if old, ok := r.invalid[h]; ok {
			inv.FoundAt = old.FoundAt
		} else {
			fresh = append(fresh, inv)
		}
		inPool = append(inPool, h) // every one of found is a pooled tx (feed txs were skipped)
		found[h] = inv
	}
	// What is no longer tracked (mined, replaced, evicted) stays listed until the bound.
	for h, inv := range r.invalid {
		if _, ok := found[h]; !ok && r.txs.get(h) == nil && len(found) < r.cfg.MaxInvalid {
			found[h] = inv
		}
	}
	r.invalid = found
	r.mu.Unlock()
	return inPool, fresh
}

// publish logs, counts and publishes txs newly found invalid.
func (r *Revalidator) publish(fresh []Invalid) {
	hashes := make([]string, len(fresh))
	for i, inv := range fresh {
		hashes[i] = inv.Hash.Hex()
		r.log.Warn("invalid interop tx in the pool", zap.String("tx", inv.Hash.Hex()), zap.Int("code", inv.Code), zap.String("reason", inv.Message))
	}
	r.metrics.found(len(fresh))
	if r.d.Statuses != nil && len(fresh) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), statusWriteTimeout)
		for _, inv := range fresh {
			st := store.Status{State: StateInvalid, Code: inv.Code, Reason: inv.Message, UpdatedAt: inv.FoundAt}
			if err := r.d.Statuses.SetStatus(ctx, inv.Hash.Hex(), st, r.cfg.StatusTTL.D()); err != nil {
				r.log.Debug("recording an invalid tx's status", zap.Error(err))
				break
			}
		}
		cancel()
	}
	if r.d.Invalid != nil && len(hashes) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := r.d.Invalid.AddTxs(ctx, hashes, invalidSetTTL); err != nil {
			r.log.Warn("publishing invalid txs", zap.Error(err))
		}
		cancel()
	}
}

// cycleReady is readiness as a cycle sees it (the node just answered).
func (r *Revalidator) cycleReady() bool {
	return !r.failsafeOn.Load() && !r.upstreamDown.Load() && !r.upstreamSilent.Load() && r.stats.cycles.Load() > 0
}

// noteUpstream records whether the filters answered a round: any answer at all (valid,
// invalid, not yet, failsafe) means the quorum is reachable.
func (r *Revalidator) noteUpstream(vs []sc.Verdict) {
	for _, v := range vs {
		if v.Class != sc.ClassUnavailable {
			r.upstreamDown.Store(false)
			return
		}
	}
	if len(vs) > 0 {
		r.upstreamDown.Store(true)
	}
}
