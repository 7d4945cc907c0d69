package store

import (
	"context"
	"time"
)

// Verdict is a cached check verdict. Class is the caller's own encoding.
type Verdict struct {
	Class   uint8  `json:"c"`
	Code    int    `json:"k,omitempty"`
	Message string `json:"m,omitempty"`
}

// Verdicts caches verdicts by key.
type Verdicts interface {
	// GetVerdicts looks keys up in one round trip; found[i] says whether verdicts[i] is set.
	GetVerdicts(ctx context.Context, keys []string) (verdicts []Verdict, found []bool, err error)
	// SetVerdicts stores entries in one round trip.
	SetVerdicts(ctx context.Context, entries []VerdictEntry) error
}

// VerdictEntry is one verdict to store.
type VerdictEntry struct {
	Key     string
	Verdict Verdict
	TTL     time.Duration
}

// Limiter counts events per key in fixed windows.
type Limiter interface {
	// Allow records one event for key and reports whether it is within limit for the current
	// window of the given length.
	Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, error)
}

// Item is a queued transaction.
type Item struct {
	// ID identifies the item (the tx hash); pushing an ID already queued replaces it.
	ID       string    `json:"id"`
	Raw      []byte    `json:"raw"`
	Method   string    `json:"method"`
	Params   []byte    `json:"params,omitempty"` // the call's params as received, for forwarding
	Attempts int       `json:"attempts"`
	Enqueued time.Time `json:"enqueued"`
	Due      time.Time `json:"-"`
}

// Queue is a delay queue. Claimed items are leased: invisible to other claimers until the
// lease runs out, then due again, unless acknowledged or rescheduled first.
type Queue interface {
	Push(ctx context.Context, it Item) error
	// Claim leases up to max items due at now.
	Claim(ctx context.Context, now time.Time, max int, lease time.Duration) ([]Item, error)
	// Ack removes an item for good.
	Ack(ctx context.Context, id string) error
	// Len is the number of queued items; Oldest the earliest enqueue time (zero if empty).
	Len(ctx context.Context) (int, error)
	Oldest(ctx context.Context) (time.Time, error)
}

// Status is what became of an admitted transaction.
type Status struct {
	State     string    `json:"status"` // queued, forwarded, dropped
	Code      int       `json:"code,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Attempts  int       `json:"attempts"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Statuses records transaction statuses by hash.
type Statuses interface {
	SetStatus(ctx context.Context, hash string, s Status, ttl time.Duration) error
	GetStatus(ctx context.Context, hash string) (Status, bool, error)
}

// FeedEntry is one accepted interop transaction.
type FeedEntry struct {
	ID   string // assigned by the feed, increasing
	Hash string
	Raw  []byte
	At   time.Time
}

// Feed is an append-only, bounded log of accepted interop transactions.
type Feed interface {
	Publish(ctx context.Context, e FeedEntry) error
	// Read returns up to max entries after the entry with ID after ("" = from the start).
	Read(ctx context.Context, after string, max int) ([]FeedEntry, error)
}

// Stores is the set the gateway uses.
type Stores struct {
	Verdicts Verdicts
	Limiter  Limiter
	Queue    Queue
	Statuses Statuses
	Feed     Feed
	// Close releases connections (a no-op in memory).
	Close func() error
}
