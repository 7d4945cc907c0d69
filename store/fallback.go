package store

import (
	"context"
	"errors"
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
}

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
	f := &fallback{p: primary, s: secondary, cfg: cfg}
	return Stores{Verdicts: f, Limiter: f, Queue: f, Statuses: f, Feed: f, Close: func() error {
		return errors.Join(primary.Close(), secondary.Close())
	}}
}

type fallback struct {
	p, s      Stores
	cfg       FallbackConfig
	downUntil atomic.Int64 // unix nanos; primary skipped until then
	down      atomic.Bool
}

func (f *fallback) usePrimary() bool { return time.Now().UnixNano() >= f.downUntil.Load() }

// failed records a primary failure; it returns true so callers can write `if f.failed(...)`.
func (f *fallback) failed(op string, err error) bool {
	if errors.Is(err, ErrQueueFull) || errors.Is(err, context.Canceled) {
		return false // not an outage
	}
	f.downUntil.Store(time.Now().Add(f.cfg.Cooldown).UnixNano())
	if !f.down.Swap(true) {
		f.cfg.OnState(false)
	}
	f.cfg.OnError(op, err)
	return true
}

func (f *fallback) ok() {
	if f.down.Swap(false) {
		f.cfg.OnState(true)
	}
}

func (f *fallback) GetVerdicts(ctx context.Context, keys []string) ([]Verdict, []bool, error) {
	if f.usePrimary() {
		vs, found, err := f.p.Verdicts.GetVerdicts(ctx, keys)
		if err == nil {
			f.ok()
			return vs, found, nil
		}
		f.failed("get_verdict", err)
	}
	return f.s.Verdicts.GetVerdicts(ctx, keys)
}

func (f *fallback) SetVerdicts(ctx context.Context, entries []VerdictEntry) error {
	if f.usePrimary() {
		err := f.p.Verdicts.SetVerdicts(ctx, entries)
		if err == nil {
			f.ok()
			return nil
		}
		f.failed("set_verdict", err)
	}
	return f.s.Verdicts.SetVerdicts(ctx, entries)
}

func (f *fallback) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, error) {
	if f.usePrimary() {
		ok, err := f.p.Limiter.Allow(ctx, key, limit, window)
		if err == nil {
			f.ok()
			return ok, nil
		}
		f.failed("rate_limit", err)
	}
	return f.s.Limiter.Allow(ctx, key, limit, window)
}

func (f *fallback) Push(ctx context.Context, it Item) error {
	if f.usePrimary() {
		err := f.p.Queue.Push(ctx, it)
		if err == nil || errors.Is(err, ErrQueueFull) {
			f.ok()
			return err
		}
		f.failed("queue_push", err)
	}
	return f.s.Queue.Push(ctx, it)
}

func (f *fallback) Claim(ctx context.Context, now time.Time, max int, lease time.Duration) ([]Item, error) {
	var out []Item
	if f.usePrimary() {
		items, err := f.p.Queue.Claim(ctx, now, max, lease)
		if err == nil {
			f.ok()
			out = items
		} else {
			f.failed("queue_claim", err)
		}
	}
	if len(out) < max {
		more, err := f.s.Queue.Claim(ctx, now, max-len(out), lease)
		if err != nil {
			return out, err
		}
		out = append(out, more...)
	}
	return out, nil
}

func (f *fallback) Ack(ctx context.Context, id string) error {
	_ = f.s.Queue.Ack(ctx, id) // the item may live in either
	if f.usePrimary() {
		if err := f.p.Queue.Ack(ctx, id); err != nil {
			f.failed("queue_ack", err)
			return err // the lease runs out and the item is handled again: at least once
		}
		f.ok()
	}
	return nil
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
	if f.usePrimary() {
		if err := f.p.Statuses.SetStatus(ctx, hash, s, ttl); err != nil {
			f.failed("set_status", err)
		} else {
			f.ok()
		}
	}
	return nil
}

func (f *fallback) GetStatus(ctx context.Context, hash string) (Status, bool, error) {
	if f.usePrimary() {
		s, found, err := f.p.Statuses.GetStatus(ctx, hash)
		if err == nil && found {
			f.ok()
			return s, true, nil
		}
		if err != nil {
			f.failed("get_status", err)
		}
	}
	return f.s.Statuses.GetStatus(ctx, hash)
}

func (f *fallback) Publish(ctx context.Context, e FeedEntry) error {
	if f.usePrimary() {
		if err := f.p.Feed.Publish(ctx, e); err == nil {
			f.ok()
			return nil
		} else {
			f.failed("feed_publish", err)
		}
	}
	return f.s.Feed.Publish(ctx, e)
}

func (f *fallback) Read(ctx context.Context, after string, max int) ([]FeedEntry, error) {
	if f.usePrimary() {
		es, err := f.p.Feed.Read(ctx, after, max)
		if err == nil {
			f.ok()
			return es, nil
		}
		f.failed("feed_read", err)
	}
	return f.s.Feed.Read(ctx, after, max)
}
