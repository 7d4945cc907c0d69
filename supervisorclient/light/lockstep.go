package light

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/rpc"
)

// headClock is what the checker knows of one chain's latest block: op-interop-filter's
// lockstep rule judges no message newer than the slowest chain of the set, so every chain's
// latest timestamp is needed, and a fresh message must not wait for the next watch tick.
type headClock struct {
	time atomic.Uint64 // highest latest-block timestamp seen; 0 until the chain was read

	mu    sync.Mutex // one on-demand read at a time; followers reuse its answer
	last  time.Time  // when the last on-demand read started
	moved bool       // it found a newer block than was known
	err   error      // its error, for followers
}

// saw records a latest-block timestamp read from the chain. It only moves forward: answers of
// concurrent reads may arrive out of order.
func (h *headClock) saw(ts uint64) {
	for {
		cur := h.time.Load()
		if ts <= cur || h.time.CompareAndSwap(cur, ts) {
			return
		}
	}
}

// refreshHead reads the chain's latest block, unless the last read found no newer block and
// started less than gap ago: a flood of checks naming messages from the future costs at most
// one read per chain per gap, plus one per new block, while a chain that is moving is read as
// often as fresh messages need it.
func (u *upstream) refreshHead(ctx context.Context, gap time.Duration) error {
	h := u.head
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.last.IsZero() && !h.moved && time.Since(h.last) < gap {
		return h.err
	}
	before := h.time.Load()
	h.last = time.Now()
	h.err = u.readLatest(ctx)
	h.moved = h.time.Load() > before
	return h.err
}

// readLatest reads the chain's latest header and records its timestamp.
func (u *upstream) readLatest(ctx context.Context) error {
	var latest *header
	elems := []rpc.BatchElem{{Method: "eth_getBlockByNumber", Args: []any{"latest", false}, Result: &latest}}
	if err := u.batch(ctx, "eth_getBlockByNumber", elems); err != nil {
		return fmt.Errorf("chain %d: reading the latest block: %w", u.chainID, err)
	}
	if elems[0].Error != nil {
		return fmt.Errorf("chain %d: reading the latest block: %w", u.chainID, elems[0].Error)
	}
	if latest == nil {
		return fmt.Errorf("chain %d: no latest block", u.chainID)
	}
	u.readOK()
	u.head.saw(uint64(latest.Time))
	return nil
}

// slowest is the lowest latest-block timestamp over the chains of the set; ok is false while
// a chain was never read.
func (c *Checker) slowest() (ts uint64, ok bool) {
	first := true
	for _, up := range c.chains {
		t := up.head.time.Load()
		if t == 0 {
			return 0, false
		}
		if first || t < ts {
			ts, first = t, false
		}
	}
	return ts, !first
}

// ingested is the timestamp up to which every chain of the set has been read, refreshed first
// when a check needs a newer one (need): chains behind need are read again, each at most once
// per HeadRefreshInterval. An error means a chain was never read and cannot be now.
func (c *Checker) ingested(ctx context.Context, need uint64) (uint64, error) {
	if ts, ok := c.slowest(); ok && ts >= need {
		return ts, nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(c.chains))
	for _, up := range c.chains {
		if t := up.head.time.Load(); t != 0 && t >= need {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := up.refreshHead(ctx, c.cfg.HeadRefreshInterval); err != nil && up.head.time.Load() == 0 {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	ts, _ := c.slowest()
	return ts, nil
}
