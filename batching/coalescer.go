package batching

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Config bounds a Coalescer. Zero values take the defaults.
type Config struct {
	// MaxBatch is the most requests one batch carries (default 100). A single call with more
	// requests goes alone.
	MaxBatch int
	// MaxInFlight is the most batches in flight at once (default 4).
	MaxInFlight int
	// MaxPending is the most requests waiting for a slot (default 100 × MaxBatch); a call that
	// would go past it fails at once with ErrOverloaded rather than queue without bound.
	MaxPending int
	// CallTimeout is how long one upstream call may take (what newCtx gives it; 0: unknown).
	// A caller is called on its own goroutine only when it would wait that long anyway.
	CallTimeout time.Duration
}

// ErrOverloaded: the coalescer's waiting room is full.
var ErrOverloaded = errors.New("too many checks waiting for an upstream call")

// Coalescer batches calls to one function. Safe for concurrent use; the zero value is not.
type Coalescer[Q, R any] struct {
	cfg  Config
	call func(ctx context.Context, reqs []Q) []R
	// newCtx makes the context of each batch call (it outlives any one caller).
	newCtx func() (context.Context, context.CancelFunc)

	mu       sync.Mutex
	pending  []*waiter[Q, R]
	waiting  int // requests in pending
	inFlight int
	stats    Stats
}

// Stats counts what a Coalescer did.
type Stats struct {
	Calls    int64 // Do calls
	Requests int64 // requests in them
	Batches  int64 // upstream batches sent
}

type waiter[Q, R any] struct {
	reqs []Q
	resp []R
	done chan struct{}
}

// New returns a Coalescer over call. newCtx gives each batch its context (for example one
// with the upstream timeout); nil means context.Background.
func New[Q, R any](cfg Config, call func(ctx context.Context, reqs []Q) []R, newCtx func() (context.Context, context.CancelFunc)) *Coalescer[Q, R] {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 100
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 4
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 100 * cfg.MaxBatch
	}
	if newCtx == nil {
		newCtx = func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }
	}
	return &Coalescer[Q, R]{cfg: cfg, call: call, newCtx: newCtx}
}

// Do sends reqs, alone or with other callers' requests, and returns their responses in order.
// It returns ctx's error if ctx ends first: requests not yet sent are then withdrawn, and a
// batch already sent still completes for the others. A caller that finds the upstream idle, and
// would wait for a whole call anyway (no deadline, or one at least CallTimeout away), is called
// on its own goroutine, under a context its ctx also ends. If the upstream answers fewer
// responses than requests, the missing ones are R's zero value.
func (c *Coalescer[Q, R]) Do(ctx context.Context, reqs []Q) ([]R, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	w := &waiter[Q, R]{reqs: reqs, done: make(chan struct{})}
	c.mu.Lock()
	c.stats.Calls++
	c.stats.Requests += int64(len(reqs))
	if c.inFlight >= c.cfg.MaxInFlight && c.waiting+len(reqs) > c.cfg.MaxPending {
		c.mu.Unlock()
		return nil, ErrOverloaded
	}
	c.pending = append(c.pending, w)
	c.waiting += len(reqs)
	var batch []*waiter[Q, R]
	if c.inFlight < c.cfg.MaxInFlight {
		c.inFlight++
		batch = c.take()
	}
	c.mu.Unlock()
	switch {
	case len(batch) == 1 && batch[0] == w && c.waitsWholeCall(ctx):
		// The idle case: the batch is this caller's alone, and the caller would wait for the
		// whole call anyway, so it is called on the caller's goroutine (no hand-off); what
		// queued meanwhile goes on in a goroutine of its own. A caller with less time than a
		// call hands it off and leaves at its deadline (found by a review: it outlived it).
		if next := c.runOnce(batch, ctx); next != nil {
			go c.run(next)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return w.resp, nil
	case batch != nil:
		go c.run(batch)
	}
	select {
	case <-w.done:
		return w.resp, nil
	case <-ctx.Done():
		c.withdraw(w)
		return nil, ctx.Err()
	}
}

// withdraw removes w from pending if it has not been taken into a batch.
func (c *Coalescer[Q, R]) withdraw(w *waiter[Q, R]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.pending {
		if p == w {
			c.pending = append(c.pending[:i:i], c.pending[i+1:]...)
			c.waiting -= len(w.reqs)
			return
		}
	}
}

// Stats returns the counters.
func (c *Coalescer[Q, R]) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// take removes from pending the waiters of the next batch; c.mu is held.
func (c *Coalescer[Q, R]) take() []*waiter[Q, R] {
	n, i := 0, 0
	for ; i < len(c.pending); i++ {
		if i > 0 && n+len(c.pending[i].reqs) > c.cfg.MaxBatch {
			break
		}
		n += len(c.pending[i].reqs)
	}
	batch := c.pending[:i:i]
	c.pending = append([]*waiter[Q, R](nil), c.pending[i:]...)
	c.waiting -= n
	c.stats.Batches++
	return batch
}

// run sends batches until nothing is pending, then frees its slot.
func (c *Coalescer[Q, R]) run(batch []*waiter[Q, R]) {
	for batch != nil {
		batch = c.runOnce(batch, nil)
	}
}

// waitsWholeCall reports whether ctx lasts at least as long as an upstream call may.
func (c *Coalescer[Q, R]) waitsWholeCall(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return !ok || c.cfg.CallTimeout > 0 && time.Until(d) >= c.cfg.CallTimeout
}

// runOnce makes one call for batch and answers its waiters; it returns the next batch to call
// (what queued meanwhile; the in-flight slot passes to it), or nil, giving the slot back.
// When caller is not nil (the batch is its caller's alone) its end also ends the call.
func (c *Coalescer[Q, R]) runOnce(batch []*waiter[Q, R], caller context.Context) []*waiter[Q, R] {
	var reqs []Q
	for _, w := range batch {
		reqs = append(reqs, w.reqs...)
	}
	ctx, cancel := c.newCtx()
	if caller != nil {
		stop := context.AfterFunc(caller, cancel)
		defer stop()
	}
	resps := c.call(ctx, reqs)
	cancel()
	if len(resps) < len(reqs) {
		resps = append(resps, make([]R, len(reqs)-len(resps))...)
	}
	off := 0
	for _, w := range batch {
		w.resp = resps[off : off+len(w.reqs) : off+len(w.reqs)]
		off += len(w.reqs)
		close(w.done)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		c.inFlight--
		return nil
	}
	return c.take()
}
