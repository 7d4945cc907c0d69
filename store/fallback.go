package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// FallbackConfig configures Fallback.
type FallbackConfig struct {
	// Cooldown is how long the primary is skipped after it failed (default 1 s), so an outage
	// costs one timeout per cooldown rather than one per operation.
	Cooldown time.Duration
	// OnError is told of every primary failure (op names the operation); for a metric and a log.
	OnError func(op string, err error)
	// OnState is told when the primary goes down (false) or comes back (true).
	OnState func(up bool)
	// SlowOp and SlowOps: SlowOps operations within one Cooldown that each took SlowOp or more
	// count as a failure: the primary is skipped for a cooldown, as if it had failed. A Redis
	// that answers, but slowly, would otherwise add its latency to every request, once per
	// operation (six operations of 200 ms under a 250 ms timeout made a request wait 1.2 s, and
	// nothing ever failed). Fast operations in between do not reset the count (found by a
	// review: the background queue polls did, and a Redis stalling 200 ms at a time was never
	// skipped). After the cooldown one more slow operation skips it again, until a fast one
	// shows it recovered. SlowOps 0: off.
	SlowOp  time.Duration
	SlowOps int
}

// ErrSlow is the failure a run of slow operations counts as (see FallbackConfig.SlowOps).
var ErrSlow = errors.New("redis answers too slowly")

// Fallback combines a primary (Redis) with a secondary (memory): each operation uses the
// primary while it works and the secondary while it does not. Queue claims read both, so items
// pushed during an outage are still served.
func Fallback(primary, secondary Stores, cfg FallbackConfig) Stores {
	if cfg.Cooldown == 0 {
		cfg.Cooldown = time.Second
	}
	if cfg.OnError == nil {
		cfg.OnError = func(string, error) {}
	}
	if cfg.OnState == nil {
		cfg.OnState = func(bool) {}
	}
	f := &fallback{p: primary, s: secondary, cfg: cfg, now: time.Now}
	return Stores{Verdicts: f, Limiter: f, Queue: f, Statuses: f, Feed: f, Invalid: f, Close: func() error {
		return errors.Join(primary.Close(), secondary.Close())
	}}
}

type fallback struct {
	p, s      Stores
	cfg       FallbackConfig
	downUntil atomic.Int64 // unix nanos; primary skipped until then
	down      atomic.Bool

	mu   sync.Mutex
	owed map[string]string // id → lease token of acks the primary still needs
	// owedStatuses are statuses the primary did not take (written during an outage): written
	// back, where newer than the primary's, when it answers again. At most maxOwedStatuses.
	owedStatuses map[string]owedStatus
	// owing is set while statuses are owed; catchingUp while they are being written back.
	owing, catchingUp atomic.Bool
	// The primary's slow operations (SlowOp or more) in the window begun at slowSince, and
	// whether they made it skip the primary with no fast operation since.
	slowMu      sync.Mutex
	slowSince   time.Time
	slowCount   int
	slowTripped bool
	now         func() time.Time // time.Now; a test's clock
}

type owedStatus struct {
	s       Status
	expires time.Time
}

// maxOwedStatuses bounds the statuses kept for writing back after an outage.
const maxOwedStatuses = 100_000

func (f *fallback) usePrimary() bool { return time.Now().UnixNano() >= f.downUntil.Load() }

// failed records a primary failure; it returns true so callers can write `if f.failed(...)`.
func (f *fallback) failed(op string, err error) bool {
	if errors.Is(err, ErrQueueFull) || errors.Is(err, ErrLimiterFull) || errors.Is(err, context.Canceled) {
		return false // not an outage
	}
	f.downUntil.Store(time.Now().Add(f.cfg.Cooldown).UnixNano())
	if !f.down.Swap(true) {
		f.cfg.OnState(false)
	}
	f.cfg.OnError(op, err)
	return true
}

// ok records a primary success; the operation began at start (zero: not timed).
func (f *fallback) ok(start time.Time) {
	if f.cfg.SlowOps > 0 && !start.IsZero() {
		if err := f.slowRun(f.now().Sub(start)); err != nil {
			f.failed("slow", err)
			return
		}
	}
	if !f.usePrimary() {
		// An operation begun before the primary was skipped ended during the skip: it says
		// nothing of the primary now (found by a review: it reported Redis back, many times a
		// second, while it was still skipped, and began writing statuses back to it).
		return
	}
	switch {
	case f.down.Swap(false):
		f.cfg.OnState(true)
		f.catchUp()
	case f.owing.Load():
		// Statuses owed while an operation begun before a failure succeeded after it (and so
		// cleared down during the cooldown): written back all the same (found by the Cluster
		// failover test: a forwarded tx read "queued" on the other replica for good).
		f.catchUp()
	}
}

// slowRun counts an operation that took took; it returns the failure a run of slow ones
// counts as (see FallbackConfig.SlowOps), or nil.
func (f *fallback) slowRun(took time.Duration) error {
	f.slowMu.Lock()
	defer f.slowMu.Unlock()
	if took < f.cfg.SlowOp {
		f.slowTripped = false // it answers in time again
		return nil
	}
	now := f.now()
	if now.Sub(f.slowSince) > f.cfg.Cooldown {
		f.slowSince, f.slowCount = now, 0
	}
	f.slowCount++
	if f.slowCount < f.cfg.SlowOps && !f.slowTripped {
		return nil
	}
	f.slowTripped = true
	return fmt.Errorf("%w: %d operations within %s took %s or more (the last %s)", ErrSlow, f.slowCount, f.cfg.Cooldown, f.cfg.SlowOp, took.Round(time.Millisecond))
}

// catchUp writes back the owed statuses, in one goroutine at a time.
func (f *fallback) catchUp() {
	if f.catchingUp.Swap(true) {
		return
	}
	go func() {
		defer f.catchingUp.Store(false)
		f.writeBackStatuses()
	}()
}

// owe keeps a status the primary did not take.
func (f *fallback) owe(hash string, s Status, ttl time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.owedStatuses == nil {
		f.owedStatuses = map[string]owedStatus{}
	}
	cur, ok := f.owedStatuses[hash]
	if ok && cur.s.UpdatedAt.After(s.UpdatedAt) {
		// A write-back that failed gives back what it took; a status owed since is newer (found
		// by the Cluster failover test: "forwarded" was overwritten by the "queued" before it).
		return
	}
	if ok || len(f.owedStatuses) < maxOwedStatuses {
		f.owedStatuses[hash] = owedStatus{s: s, expires: time.Now().Add(ttl)}
		f.owing.Store(true)
	}
}

// writeBackStatuses writes the statuses of the outage to the primary, each where the primary
// has none or an older one (newest wins: another replica may have moved on meanwhile).
func (f *fallback) writeBackStatuses() {
	f.mu.Lock()
	owed := f.owedStatuses
	f.owedStatuses = nil
	f.owing.Store(false)
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var failed error
	for hash, o := range owed {
		ttl := time.Until(o.expires)
		if ttl <= 0 {
			continue
		}
		if failed == nil {
			if failed = f.setIfNewer(ctx, hash, o.s, ttl); failed == nil {
				continue
			}
		}
		f.owe(hash, o.s, ttl) // down again: the next recovery writes the rest
	}
	if failed != nil {
		f.failed("write_back_status", failed)
	}
}

// setIfNewer writes s to the primary where it has none or an older one: in one transaction where
// the primary can (Redis), else read then write.
func (f *fallback) setIfNewer(ctx context.Context, hash string, s Status, ttl time.Duration) error {
	if cas, ok := f.p.Statuses.(interface {
		SetStatusIfNewer(context.Context, string, Status, time.Duration) (bool, error)
	}); ok {
		_, err := cas.SetStatusIfNewer(ctx, hash, s, ttl)
		return err
	}
	cur, found, err := f.p.Statuses.GetStatus(ctx, hash)
	if err == nil && (!found || cur.UpdatedAt.Before(s.UpdatedAt)) {
		err = f.p.Statuses.SetStatus(ctx, hash, s, ttl)
	}
	return err
}

func (f *fallback) GetVerdicts(ctx context.Context, keys []string) ([]Verdict, []bool, error) {
	if f.usePrimary() {
		start := f.now()
		vs, found, err := f.p.Verdicts.GetVerdicts(ctx, keys)
		if err == nil {
			f.ok(start)
			return vs, found, nil
		}
		f.failed("get_verdict", err)
	}
	return f.s.Verdicts.GetVerdicts(ctx, keys)
}

func (f *fallback) SetVerdicts(ctx context.Context, entries []VerdictEntry) error {
	if f.usePrimary() {
		start := f.now()
		err := f.p.Verdicts.SetVerdicts(ctx, entries)
		if err == nil {
			f.ok(start)
			return nil
		}
		f.failed("set_verdict", err)
	}
	return f.s.Verdicts.SetVerdicts(ctx, entries)
}

func (f *fallback) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, error) {
	if f.usePrimary() {
		start := f.now()
		ok, err := f.p.Limiter.Allow(ctx, key, limit, window)
		if err == nil || errors.Is(err, ErrLimiterFull) {
			f.ok(start)
			return ok, err
		}
		f.failed("rate_limit", err)
	}
	return f.s.Limiter.Allow(ctx, key, limit, window)
}

func (f *fallback) Add(ctx context.Context, it Item) (bool, error) {
	if f.usePrimary() {
		added, err := f.p.Queue.Add(ctx, it)
		if err == nil || errors.Is(err, ErrQueueFull) {
			f.ok(time.Time{}) // not timed: it waits up to 100 ms for a replica by design
			return added, err
		}
		f.failed("queue_add", err)
	}
	return f.s.Queue.Add(ctx, it)
}

// Lease tokens say which store an item was claimed from, so that extending, retrying and
// acknowledging it go to that store whatever the primary's state is by then.
const (
	fromPrimary   = "p"
	fromSecondary = "s"
)

func (f *fallback) Claim(ctx context.Context, now time.Time, max int, lease time.Duration) ([]Item, error) {
	var out []Item
	if f.usePrimary() {
		f.flushAcks(ctx)
		start := f.now()
		items, err := f.p.Queue.Claim(ctx, now, max, lease)
		if err == nil {
			f.ok(start)
			for _, it := range items {
				if f.ackPending(it.ID) {
					// Handled during an outage, its ack still owed: finish it now.
					_, _ = f.p.Queue.Ack(ctx, it.ID, it.Lease)
					continue
				}
				it.Lease = fromPrimary + it.Lease
				out = append(out, it)
			}
		} else {
			f.failed("queue_claim", err)
		}
	}
	if len(out) < max {
		more, err := f.s.Queue.Claim(ctx, now, max-len(out), lease)
		if err != nil {
			return out, err
		}
		for _, it := range more {
			it.Lease = fromSecondary + it.Lease
			out = append(out, it)
		}
	}
	return out, nil
}

// route returns the queue a lease token came from and the token it gave.
func (f *fallback) route(lease string) (Queue, string, bool) {
	switch {
	case strings.HasPrefix(lease, fromPrimary):
		return f.p.Queue, lease[len(fromPrimary):], true
	case strings.HasPrefix(lease, fromSecondary):
		return f.s.Queue, lease[len(fromSecondary):], false
	}
	return nil, "", false
}

// errSkipped: the primary is being skipped after a failure; an operation that can only go to it
// fails at once rather than wait on it again (found by a review: 8 renewals took 2 s).
var errSkipped = errors.New("redis skipped after a failure")

func (f *fallback) Extend(ctx context.Context, id, lease string, until time.Time) (bool, error) {
	q, token, primary := f.route(lease)
	if q == nil {
		return false, nil
	}
	if primary && !f.usePrimary() {
		return false, errSkipped // the lease runs out and the item comes back
	}
	ok, err := q.Extend(ctx, id, token, until)
	if err != nil && primary {
		f.failed("queue_extend", err)
	}
	return ok, err
}

func (f *fallback) Retry(ctx context.Context, id, lease string, due time.Time, attempts int) (bool, error) {
	q, token, primary := f.route(lease)
	if q == nil {
		return false, nil
	}
	if primary && !f.usePrimary() {
		return false, errSkipped
	}
	ok, err := q.Retry(ctx, id, token, due, attempts)
	if err != nil && primary {
		f.failed("queue_retry", err) // the lease runs out and the item comes back
	}
	return ok, err
}

// Ack of a primary item is tried even during a cool-down (an ack only in memory would leave
// the item in Redis for another replica to forward again once its lease ends); if Redis is down
// it is owed, and paid before the next claim from Redis.
func (f *fallback) Ack(ctx context.Context, id, lease string) (bool, error) {
	q, token, primary := f.route(lease)
	if q == nil {
		return false, nil
	}
	ok, err := q.Ack(ctx, id, token)
	if err != nil && primary {
		f.failed("queue_ack", err)
		f.oweAck(id, token)
		return true, nil
	}
	return ok, err
}

// maxOwedAcks bounds the acks kept for Redis during an outage.
const maxOwedAcks = 100_000

func (f *fallback) oweAck(id, token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.owed == nil {
		f.owed = map[string]string{}
	}
	if len(f.owed) < maxOwedAcks {
		f.owed[id] = token
	}
}

func (f *fallback) ackPending(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.owed[id]
	if ok {
		delete(f.owed, id)
	}
	return ok
}

// flushAcks pays the acks owed to the primary.
func (f *fallback) flushAcks(ctx context.Context) {
	f.mu.Lock()
	owed := f.owed
	f.owed = nil
	f.mu.Unlock()
	var failed error
	for id, token := range owed {
		if failed == nil {
			if _, failed = f.p.Queue.Ack(ctx, id, token); failed == nil {
				continue
			}
		}
		f.oweAck(id, token) // down again: the rest waits for the next claim
	}
	if failed != nil {
		f.failed("queue_ack", failed)
	}
}

func (f *fallback) Len(ctx context.Context) (int, error) {
	n, _ := f.s.Queue.Len(ctx)
	if f.usePrimary() {
		m, err := f.p.Queue.Len(ctx)
		if err != nil {
			f.failed("queue_len", err)
		}
		n += m
	}
	return n, nil
}

func (f *fallback) Oldest(ctx context.Context) (time.Time, error) {
	oldest, _ := f.s.Queue.Oldest(ctx)
	if f.usePrimary() {
		t, err := f.p.Queue.Oldest(ctx)
		if err != nil {
			f.failed("queue_oldest", err)
		} else if !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	return oldest, nil
}

func (f *fallback) SetStatus(ctx context.Context, hash string, s Status, ttl time.Duration) error {
	_ = f.s.Statuses.SetStatus(ctx, hash, s, ttl) // local copy: answers even during an outage
	if !f.usePrimary() {
		f.owe(hash, s, ttl)
		return nil
	}
	start := f.now()
	if err := f.p.Statuses.SetStatus(ctx, hash, s, ttl); err != nil {
		f.owe(hash, s, ttl)
		f.failed("set_status", err)
	} else {
		f.ok(start)
	}
	return nil
}

func (f *fallback) SetStatuses(ctx context.Context, entries []StatusEntry) error {
	_ = f.s.Statuses.SetStatuses(ctx, entries) // local copies: they answer even during an outage
	owe := func() {
		for _, e := range entries {
			f.owe(e.Hash, e.Status, e.TTL)
		}
	}
	if !f.usePrimary() {
		owe()
		return nil
	}
	if err := f.p.Statuses.SetStatuses(ctx, entries); err != nil {
		owe()
		f.failed("set_status", err)
	} else {
		f.ok(time.Time{}) // not timed: a batch, off the request path
	}
	return nil
}

// GetStatus answers the newer of the primary's and the local status: a status this replica
// wrote during an outage is newer than what the primary kept from before it.
func (f *fallback) GetStatus(ctx context.Context, hash string) (Status, bool, error) {
	local, localFound, _ := f.s.Statuses.GetStatus(ctx, hash)
	if f.usePrimary() {
		start := f.now()
		s, found, err := f.p.Statuses.GetStatus(ctx, hash)
		if err == nil {
			f.ok(start)
			if found && (!localFound || !s.UpdatedAt.Before(local.UpdatedAt)) {
				return s, true, nil
			}
		} else {
			f.failed("get_status", err)
		}
	}
	return local, localFound, nil
}

func (f *fallback) Publish(ctx context.Context, entries ...FeedEntry) error {
	if f.usePrimary() {
		if err := f.p.Feed.Publish(ctx, entries...); err == nil {
			f.ok(time.Time{}) // not timed: a batch, off the request path
			return nil
		} else {
			f.failed("feed_publish", err)
		}
	}
	return f.s.Feed.Publish(ctx, entries...)
}

func (f *fallback) Read(ctx context.Context, after string, max int) ([]FeedEntry, error) {
	if f.usePrimary() {
		start := f.now()
		es, err := f.p.Feed.Read(ctx, after, max)
		if err == nil {
			f.ok(start)
			return es, nil
		}
		f.failed("feed_read", err)
	}
	return f.s.Feed.Read(ctx, after, max)
}

func (f *fallback) AddTxs(ctx context.Context, hashes []string, ttl time.Duration) error {
	if f.usePrimary() {
		start := f.now()
		if err := f.p.Invalid.AddTxs(ctx, hashes, ttl); err == nil {
			f.ok(start)
			return nil
		} else {
			f.failed("invalid_add", err)
		}
	}
	return f.s.Invalid.AddTxs(ctx, hashes, ttl)
}

func (f *fallback) Txs(ctx context.Context) ([]string, error) {
	if f.usePrimary() {
		start := f.now()
		txs, err := f.p.Invalid.Txs(ctx)
		if err == nil {
			f.ok(start)
			return txs, nil
		}
		f.failed("invalid_read", err)
	}
	return f.s.Invalid.Txs(ctx)
}
