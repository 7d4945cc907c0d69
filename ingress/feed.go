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
	pending  []store.FeedEntry
	bytes    int
	maxTxs   int
	maxBytes int
	wake     chan struct{} // capacity 1: the publisher has something to take
}

func newFeedOutbox(maxTxs, maxBytes int) *feedOutbox {
	return &feedOutbox{maxTxs: maxTxs, maxBytes: maxBytes, wake: make(chan struct{}, 1)}
}

// add queues e; false when the outbox is full.
func (o *feedOutbox) add(e store.FeedEntry) bool {
	o.mu.Lock()
	if len(o.pending) >= o.maxTxs || o.bytes+len(e.Raw) > o.maxBytes {
		o.mu.Unlock()
		return false
	}
	o.pending = append(o.pending, e)
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

func (o *feedOutbox) take() []store.FeedEntry {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.pending
	o.pending, o.bytes = nil, 0
	return out
}

// publish moves what is added to the feed until ctx ends (Shutdown then flushes the rest).
func (o *feedOutbox) publish(ctx context.Context, feed store.Feed, dropped func()) {
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
		o.flush(ctx, feed, dropped)
	}
}

// flush publishes what waits, each entry within 2 s and while ctx lasts; what it cannot publish
// is counted by dropped.
func (o *feedOutbox) flush(ctx context.Context, feed store.Feed, dropped func()) {
	for _, e := range o.take() {
		if ctx.Err() != nil {
			dropped()
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := feed.Publish(pctx, e); err != nil {
			dropped()
		}
		cancel()
	}
}
