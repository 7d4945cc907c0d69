package ingress

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/internal/jsonrpc"
	"github.com/interopgate/interopgate/internal/sendrefusal"
	"github.com/interopgate/interopgate/store"
)

// Tx states reported by interopgate_getTransactionStatus.
const (
	StateQueued    = "queued"
	StateForwarded = "forwarded"
	StateDropped   = "dropped"
)

// enqueue puts a borderline tx in the durable delay queue and answers the client with its hash.
// A tx already queued stays as it is: resubmitting it neither resets its attempts nor delays it.
func (g *Gateway) enqueue(ctx context.Context, c *txCall) callAnswer {
	it := c.items[0]
	now := g.now()
	var rest []byte
	if len(c.rest) > 0 {
		rest, _ = json.Marshal(c.rest)
	}
	item := store.Item{ID: it.hash.Hex(), Raw: it.raw, Method: c.req.Method, Rest: rest,
		Enqueued: now, Due: now.Add(g.cfg.RetryDelay.D())}
	added, err := g.st.Queue.Add(ctx, item)
	if err != nil {
		g.metrics.call(c.req.Method, "queue_full")
		return callAnswer{err: newClientError(CodeLimitExceeded, http.StatusServiceUnavailable, "queue_full",
			"the gateway's retry queue is full: resubmit once the initiating block is known")}
	}
	if added {
		g.setStatus(ctx, it.hash, store.Status{State: StateQueued, Code: it.verdict.Code, Reason: fromVerdict(it.verdict).rpc.Message})
		g.metrics.verdict("queued", codeName(it.verdict.Code))
	}
	g.metrics.call(c.req.Method, "queued")
	hash, _ := json.Marshal(it.hash.Hex())
	return callAnswer{status: http.StatusOK, body: jsonrpc.AppendResult(nil, c.req.ID, hash)}
}

// runQueue finishes queued txs: re-test each when due, then forward, reschedule or drop it.
// Items are leased, so a replica that dies mid-way loses nothing: the lease runs out and any
// replica (or this one, restarted) claims them again.
func (g *Gateway) runQueue(ctx context.Context) {
	t := time.NewTicker(g.cfg.QueuePoll.D())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		g.drainQueue(ctx)
	}
}

// queued is a claimed item and its admission state.
type queued struct {
	q  store.Item
	it *txItem
}

// drainQueue handles up to queue_batch items due now, in one admission round that ends well
// within their lease: the filter round is bounded by twice filter_timeout (< queue_lease, as
// Check requires), and before forwarding each claim is renewed, so an item whose lease ran out
// (another replica may hold it now) is never forwarded by this one.
func (g *Gateway) drainQueue(ctx context.Context) {
	items, err := g.st.Queue.Claim(ctx, g.now(), g.cfg.QueueBatch, g.cfg.QueueLease.D())
	if err != nil {
		g.log.Warn("claiming queued txs", zap.Error(err))
	}
	g.queueGauges(ctx)
	if len(items) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, g.cfg.QueueLease.D()/2)
	defer cancel()
	work := make([]queued, len(items))
	var pending []*txItem
	for i, q := range items {
		it := g.judge.prepare(q.Raw)
		it.stage, it.charged = stageQueued, true // charged against its sender when it arrived
		work[i] = queued{q: q, it: it}
		if !it.decided {
			pending = append(pending, it)
		}
	}
	g.judge.decide(rctx, pending)
	var forwards []queued
	for _, w := range work {
		attempts := w.q.Attempts + 1
		if w.it.err != nil {
			g.drop(rctx, w.q, w.it.err, attempts)
			continue
		}
		if w.it.interop {
			g.metrics.retest(w.it.verdict.Class.String())
		}
		act, e := g.judge.fate(w.it.verdict, attempts, stageQueued)
		switch act {
		case actForward:
			forwards = append(forwards, w)
		case actReschedule:
			g.reschedule(rctx, w.q, w.it, attempts)
		default:
			g.drop(rctx, w.q, e, attempts)
		}
	}
	g.forwardQueued(rctx, forwards)
}

// forwardQueued renews the claims, then forwards what this replica still holds as one sentry
// sub-batch.
func (g *Gateway) forwardQueued(ctx context.Context, work []queued) {
	var held []queued
	for _, w := range work {
		ok, err := g.st.Queue.Extend(ctx, w.q.ID, w.q.Lease, g.now().Add(g.cfg.QueueLease.D()))
		if err != nil || !ok {
			g.metrics.queueLeaseLost()
			continue
		}
		held = append(held, w)
	}
	if len(held) == 0 {
		return
	}
	calls := make([]*jsonrpc.Request, len(held))
	for i, w := range held {
		var rest []json.RawMessage
		_ = json.Unmarshal(w.q.Rest, &rest)
		calls[i] = &jsonrpc.Request{Method: w.q.Method, Params: sendParams(w.q.Raw, rest)}
	}
	parts, _ := g.sentries.subBatch(ctx, calls, g.sentries.toAll, nil)
	onChain := g.lookUpNonceTooLow(ctx, held, parts)
	var hashes []common.Hash
	for i, w := range held {
		attempts := w.q.Attempts + 1
		if parts[i] == nil {
			g.reschedule(ctx, w.q, w.it, attempts) // no sentry now: keep it, within the attempt bound
			continue
		}
		if r := readRefusal(parts[i]); r.refused && r.why != sendrefusal.Known && !onChain[i] {
			e := sentryError(parts[i])
			g.drop(ctx, w.q, &clientError{rpc: jsonrpc.Errorf(e.Code, "sentry rejected the transaction: "+e.Message), reason: "sentry_rejected"}, attempts)
			continue
		}
		g.setStatus(ctx, common.HexToHash(w.q.ID), store.Status{State: StateForwarded, Attempts: attempts})
		g.metrics.verdict("accepted", "valid_after_retest")
		g.toFeed(store.FeedEntry{Hash: w.q.ID, Raw: w.q.Raw, At: g.now()}, false)
		hashes = append(hashes, w.it.hash)
		_, _ = g.st.Queue.Ack(ctx, w.q.ID, w.q.Lease)
	}
	g.judge.cache.forwarded(ctx, hashes)
}

// lookUpNonceTooLow asks the sentry, in one sub-batch, about the queued txs it refused with
// "nonce too low": one it holds (in a block or its pool) was forwarded before, by this replica or
// one that died before recording it, and is not to be called dropped (issue 19: 61 of 61 such
// txs were). It reports, by index of held, the txs the sentry holds.
func (g *Gateway) lookUpNonceTooLow(ctx context.Context, held []queued, parts []json.RawMessage) map[int]bool {
	var idx []int
	var hashes []string
	for i, p := range parts {
		if r := readRefusal(p); p != nil && r.refused && r.why == sendrefusal.NonceTooLow {
			idx = append(idx, i)
			hashes = append(hashes, held[i].q.ID)
		}
	}
	out := map[int]bool{}
	for j, holds := range g.sentries.holding(ctx, hashes) {
		if holds {
			out[idx[j]] = true
		}
	}
	return out
}

func (g *Gateway) reschedule(ctx context.Context, q store.Item, it *txItem, attempts int) {
	if attempts >= max(g.cfg.RetryAttempts, 1) {
		g.drop(ctx, q, g.judge.exhausted(it.verdict, attempts), attempts)
		return
	}
	ok, err := g.st.Queue.Retry(ctx, q.ID, q.Lease, g.now().Add(g.cfg.RetryDelay.D()), attempts)
	if err != nil || !ok {
		if err != nil {
			g.log.Warn("rescheduling a queued tx", zap.String("tx", q.ID), zap.Error(err))
		}
		return // the lease runs out and the item comes back, or another replica holds it
	}
	g.setStatus(ctx, common.HexToHash(q.ID), store.Status{State: StateQueued, Code: it.verdict.Code,
		Reason: fromVerdict(it.verdict).rpc.Message, Attempts: attempts})
}

func (g *Gateway) drop(ctx context.Context, q store.Item, e *clientError, attempts int) {
	ok, err := g.st.Queue.Ack(ctx, q.ID, q.Lease)
	if err == nil && !ok {
		g.metrics.queueLeaseLost()
		return // another replica holds it now: its verdict is the one that counts
	}
	g.setStatus(ctx, common.HexToHash(q.ID), store.Status{State: StateDropped, Code: e.rpc.Code, Reason: e.rpc.Message, Attempts: attempts})
	g.metrics.verdict("rejected", codeName(e.rpc.Code))
}

func (g *Gateway) queueGauges(ctx context.Context) {
	n, _ := g.st.Queue.Len(ctx)
	oldest, _ := g.st.Queue.Oldest(ctx)
	var age time.Duration
	if !oldest.IsZero() {
		age = g.now().Sub(oldest)
	}
	g.metrics.queue(n, age)
}
