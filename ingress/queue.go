package ingress

import (
	"context"

	"encoding/json"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"go.uber.org/zap"

	"github.com/interopgate/interopgate/internal/jsonrpc"
	"github.com/interopgate/interopgate/store"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// Tx states reported by interopgate_getTransactionStatus.
const (
	StateQueued    = "queued"
	StateForwarded = "forwarded"
	StateDropped   = "dropped"
)

// enqueue puts a borderline tx in the durable delay queue and answers the client with its hash.
func (g *Gateway) enqueue(ctx context.Context, c *txCall) callAnswer {
	it := c.items[0]
	now := g.now()
	item := store.Item{ID: it.hash.Hex(), Raw: it.raw, Method: c.req.Method, Params: c.req.Params,
		Attempts: 0, Enqueued: now, Due: now.Add(g.cfg.RetryDelay.D())}
	if err := g.st.Queue.Push(ctx, item); err != nil {
		g.metrics.call(c.req.Method, "queue_full")
		return callAnswer{err: newClientError(CodeLimitExceeded, 503, "queue_full",
			"the gateway's retry queue is full: resubmit once the initiating block is known")}
	}
	g.setStatus(ctx, it.hash, store.Status{State: StateQueued, Code: it.verdict.Code, Reason: it.verdict.Message})
	g.metrics.verdict("queued", codeName(it.verdict.Code))
	g.metrics.call(c.req.Method, "queued")
	hash, _ := json.Marshal(it.hash.Hex())
	return callAnswer{status: 200, body: jsonrpc.AppendResult(nil, c.req.ID, hash)}
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

// drainQueue handles the items due now, in one admission round.
func (g *Gateway) drainQueue(ctx context.Context) {
	items, err := g.st.Queue.Claim(ctx, g.now(), 256, g.cfg.QueueLease.D())
	if err != nil {
		g.log.Warn("claiming queued txs", zap.Error(err))
	}
	g.queueGauges(ctx)
	if len(items) == 0 {
		return
	}
	txs := make([]*txItem, len(items))
	var pending []*txItem
	for i, q := range items {
		txs[i] = g.prepare(q.Raw)
		if !txs[i].decided {
			pending = append(pending, txs[i])
		}
	}
	g.decide(ctx, pending)
	for i, q := range items {
		g.finishQueued(ctx, q, txs[i])
	}
}

func (g *Gateway) finishQueued(ctx context.Context, q store.Item, it *txItem) {
	attempts := q.Attempts + 1
	g.metrics.retest(it.verdict.Class.String())
	switch {
	case it.err != nil:
		g.drop(ctx, q, it.err.rpc.Code, it.err.rpc.Message, attempts)
	case !it.interop || it.verdict.Class == sc.ClassValid:
		_, body, err := g.forward(ctx, nil, q.Method, q.Params)
		if err != nil {
			g.reschedule(ctx, q, it, attempts) // no sentry now: keep it, within the attempt bound
			return
		}
		if responseIsError(body) {
			var r struct {
				Error jsonrpc.Error `json:"error"`
			}
			_ = json.Unmarshal(body, &r)
			g.drop(ctx, q, r.Error.Code, "sentry rejected the transaction: "+r.Error.Message, attempts)
			return
		}
		g.setStatus(ctx, common.HexToHash(q.ID), store.Status{State: StateForwarded, Attempts: attempts})
		g.metrics.verdict("accepted", "valid_after_retest")
		g.toFeed(store.FeedEntry{Hash: q.ID, Raw: q.Raw, At: g.now()})
		_ = g.st.Queue.Ack(ctx, q.ID)
	case it.verdict.Class == sc.ClassRetryLater || it.verdict.Class == sc.ClassUnavailable:
		g.reschedule(ctx, q, it, attempts)
	default:
		e := g.rejection(it.verdict)
		g.drop(ctx, q, e.rpc.Code, e.rpc.Message, attempts)
	}
}

func (g *Gateway) reschedule(ctx context.Context, q store.Item, it *txItem, attempts int) {
	if attempts >= max(g.cfg.RetryAttempts, 1) {
		e := g.exhausted(it.verdict, attempts)
		g.drop(ctx, q, e.rpc.Code, e.rpc.Message, attempts)
		return
	}
	q.Attempts = attempts
	q.Due = g.now().Add(g.cfg.RetryDelay.D())
	if err := g.st.Queue.Push(ctx, q); err != nil {
		g.log.Warn("rescheduling a queued tx", zap.String("tx", q.ID), zap.Error(err))
		return // the lease runs out and the item comes back
	}
	g.setStatus(ctx, common.HexToHash(q.ID), store.Status{State: StateQueued, Code: it.verdict.Code, Reason: it.verdict.Message, Attempts: attempts})
}

func (g *Gateway) drop(ctx context.Context, q store.Item, code int, reason string, attempts int) {
	g.setStatus(ctx, common.HexToHash(q.ID), store.Status{State: StateDropped, Code: code, Reason: reason, Attempts: attempts})
	g.metrics.verdict("rejected", codeName(code))
	_ = g.st.Queue.Ack(ctx, q.ID)
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
