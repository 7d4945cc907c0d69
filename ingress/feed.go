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

// feedOutbox holds accepted interop txs until the publisher moves them to the feed, off the
// request path; at most max wait (beyond it they are dropped and counted).
type feedOutbox struct {
	mu      sync.Mutex
	pending []store.FeedEntry
	max     int
	wake    chan struct{} // capacity 1: the publisher has something to take
}

func newFeedOutbox(max int) *feedOutbox {
	return &feedOutbox{max: max, wake: make(chan struct{}, 1)}
}

// add queues e; false when the outbox is full.
func (o *feedOutbox) add(e store.FeedEntry) bool {
	o.mu.Lock()
	if len(o.pending) >= o.max {
		o.mu.Unlock()
		return false
	}
	o.pending = append(o.pending, e)
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
	o.pending = nil
	return out
}

// publish moves what is added to the feed until ctx ends: each entry within 2 s, else dropped
// and counted by dropped.
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
		for _, e := range o.take() {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			if err := feed.Publish(pctx, e); err != nil {
				dropped()
			}
			cancel()
		}
	}
}
