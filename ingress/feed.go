package ingress

import (
	"context"
	"sync"
	"time"

	"github.com/interopgate/interopgate/store"
)

// feedDelay is how long an accepted tx may wait before the publisher takes it: a burst goes
// out on one wake of the publisher instead of one per tx (with a wake per tx, a unique interop
// tx cost ~25% more CPU: BenchmarkCPUPerRequest). The revalidator reads the feed every source_poll, so 5 ms costs it nothing.
const feedDelay = 5 * time.Millisecond

// Bounds of the feed outbox: txs accepted and not yet on the feed, and their bytes. Beyond them
// an accepted tx is not published, counted in feed_dropped_total.
const (
	feedOutboxTxs   = 4096
	feedOutboxBytes = 16 << 20
)

// feedOutbox holds accepted interop txs until the publisher moves them to the feed, off the
// request path; at most maxTxs of at most maxBytes wait (beyond, they are dropped and counted).
type feedOutbox struct {
	mu       sync.Mutex
	pending  []outgoing
	bytes    int
	maxTxs   int
	maxBytes int
	wake     chan struct{} // capacity 1: the publisher has something to take
}

func newFeedOutbox(maxTxs, maxBytes int) *feedOutbox {
	return &feedOutbox{maxTxs: maxTxs, maxBytes: maxBytes, wake: make(chan struct{}, 1)}
}

// outgoing is an accepted tx on its way to the feed; forwarded records its status too (the
// synchronous path's: the queue records its own).
type outgoing struct {
	e         store.FeedEntry
	forwarded bool
}

// add queues e; false when the outbox is full.
func (o *feedOutbox) add(e store.FeedEntry, forwarded bool) bool {
	o.mu.Lock()
	if len(o.pending) >= o.maxTxs || o.bytes+len(e.Raw) > o.maxBytes {
		o.mu.Unlock()
		return false
	}
	o.pending = append(o.pending, outgoing{e: e, forwarded: forwarded})
	o.bytes += len(e.Raw)
	first := len(o.pending) == 1
	o.mu.Unlock()
	if first {
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// putBack returns outs, not published, to the front of the outbox (beyond its bounds: they
// were within them when added).
func (o *feedOutbox) putBack(outs []outgoing) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, out := range outs {
		o.bytes += len(out.e.Raw)
	}
	o.pending = append(append([]outgoing(nil), outs...), o.pending...)
}

func (o *feedOutbox) take() []outgoing {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.pending
	o.pending, o.bytes = nil, 0
	return out
}

// feedSink is where the outbox's txs go: the feed, the forwarded statuses, the drop counter.
type feedSink struct {
	feed      store.Feed
	forwarded func(ctx context.Context, es []store.FeedEntry)
	dropped   func()
}

// feedBatch is how many txs one publish (and one status write) carries: a round trip per batch,
// not per tx (one per tx capped the feed at 1/RTT txs a second, half that with the statuses).
const feedBatch = 128

// publish moves what is added to the feed until ctx ends (Shutdown then flushes the rest).
func (o *feedOutbox) publish(ctx context.Context, sink feedSink) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		}
		t := time.NewTimer(feedDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		o.flush(ctx, sink, false)
	}
}

// flush publishes what waits, in batches of feedBatch, each within 2 s and while ctx lasts.
// What is left when ctx ends goes back to the outbox (the publisher stopping: Shutdown flushes
// it), or with last (Shutdown's own flush) is counted by sink.dropped.
func (o *feedOutbox) flush(ctx context.Context, sink feedSink, last bool) {
	outs := o.take()
	for len(outs) > 0 {
		if ctx.Err() != nil {
			if !last {
				o.putBack(outs)
				return
			}
			for range outs {
				sink.dropped()
			}
			return
		}
		batch := outs[:min(len(outs), feedBatch)]
		outs = outs[len(batch):]
		entries := make([]store.FeedEntry, len(batch))
		var forwarded []store.FeedEntry
		for i, out := range batch {
			entries[i] = out.e
			if out.forwarded {
				forwarded = append(forwarded, out.e)
			}
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if len(forwarded) > 0 {
			sink.forwarded(pctx, forwarded)
		}
		if err := sink.feed.Publish(pctx, entries...); err != nil {
			for range entries {
				sink.dropped()
			}
		}
		cancel()
	}
}
