package store

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"
)

// ErrQueueFull is returned by Queue.Add when the queue holds its maximum of items or bytes.
var ErrQueueFull = errors.New("delay queue is full")

// ErrLimiterFull is returned (with ok = true) by Limiter.Allow for a key that could not be
// tracked because its table is full of live windows.
var ErrLimiterFull = errors.New("rate-limit table is full")

// Verdict is a cached check verdict. Class is the caller's own encoding.
type Verdict struct {
	Class   uint8  `json:"c"`
	Code    int    `json:"k,omitempty"`
	Message string `json:"m,omitempty"`
	// At is when the verdict was made (unix ms), so a reader can ignore verdicts older than an
	// event that voids them (a failsafe transition).
	At int64 `json:"t,omitempty"`
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

// Limiter counts events per key in fixed windows. A key is "table:id": each table (for
// example "ip" and "sender") is bounded on its own, so one kind of key cannot crowd out another.
type Limiter interface {
	// Allow records one event for key and reports whether it is within limit for the current
	// window of the given length. When a table is full of live windows a new key is allowed
	// untracked and the error is ErrLimiterFull (a full table must not refuse everyone).
	Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, error)
}

// Item is a queued transaction. The raw tx is stored once; the forwarded call is rebuilt from
// it, so what is forwarded is what was judged.
type Item struct {
	// ID identifies the item (the tx hash).
	ID     string `json:"id"`
	Raw    []byte `json:"raw"`
	Method string `json:"method"`
	// Rest holds the call's params after the transaction, as a JSON array ("" = none), e.g.
	// the options of eth_sendRawTransactionConditional.
	Rest     []byte    `json:"rest,omitempty"`
	Attempts int       `json:"attempts"`
	Enqueued time.Time `json:"enqueued"`
	Due      time.Time `json:"-"`
	// Lease is the claim's fencing token, set by Claim: only its holder may extend, retry or
	// acknowledge the item, so a replica whose lease ran out cannot act on it any more.
	Lease string `json:"-"`
}

// Size is what the item counts against the queue's byte bound.
func (it *Item) Size() int { return len(it.Raw) + len(it.Rest) + len(it.Method) + len(it.ID) + 64 }

// Queue is a durable delay queue with leased claims. Safe for concurrent use by replicas.
type Queue interface {
	// Add queues a new item. An item with the same ID already queued is left as it is (added
	// is false): a resubmission neither resets its attempts nor delays it. ErrQueueFull when
	// the queue holds its maximum of items or bytes.
	Add(ctx context.Context, it Item) (added bool, err error)
	// Claim leases up to max items due at now until now+lease; each comes with its Lease token.
	// Leased items are invisible to other claimers until the lease runs out.
	Claim(ctx context.Context, now time.Time, max int, lease time.Duration) ([]Item, error)
	// Extend moves a claim's end to until; false when the claim was lost (it ran out and the
	// item was claimed again, or the item is gone).
	Extend(ctx context.Context, id, lease string, until time.Time) (bool, error)
	// Retry releases a claimed item to be due again at due with attempts recorded; false when
	// the claim was lost.
	Retry(ctx context.Context, id, lease string, due time.Time, attempts int) (bool, error)
	// Ack removes a claimed item for good; false when the claim was lost.
	Ack(ctx context.Context, id, lease string) (bool, error)
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

// MaxReasonBytes bounds a status's Reason as stored: the reason quotes a filter's or a node's
// error text, which a status read hands to anyone who asks.
const MaxReasonBytes = 256

// bounded is s with its Reason cut to MaxReasonBytes (on a UTF-8 boundary, marked by "…").
func (s Status) bounded() Status {
	if len(s.Reason) <= MaxReasonBytes {
		return s
	}
	cut := MaxReasonBytes - len("…")
	for cut > 0 && !utf8.RuneStart(s.Reason[cut]) {
		cut--
	}
	s.Reason = s.Reason[:cut] + "…"
	return s
}

// Statuses records transaction statuses by hash.
type Statuses interface {
	SetStatus(ctx context.Context, hash string, s Status, ttl time.Duration) error
	// SetStatuses writes several statuses in one round trip where the store can (Redis: a
	// pipeline).
	SetStatuses(ctx context.Context, entries []StatusEntry) error
	GetStatus(ctx context.Context, hash string) (Status, bool, error)
}

// StatusEntry is one status of SetStatuses.
type StatusEntry struct {
	Hash   string
	Status Status
	TTL    time.Duration
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
	// Publish appends entries, in order, in one round trip where the store can (Redis: a
	// pipeline): a publisher paying a round trip per tx would be capped at 1/RTT txs a second.
	Publish(ctx context.Context, entries ...FeedEntry) error
	// Read returns up to max entries after the entry with ID after ("" = from the start).
	Read(ctx context.Context, after string, max int) ([]FeedEntry, error)
}

// TxSet is a set of tx hashes, each member expiring on its own: the revalidator publishes the
// invalid txs it finds in the pool on it, for builders and tools that read Redis.
type TxSet interface {
	AddTxs(ctx context.Context, hashes []string, ttl time.Duration) error
	// Txs lists the live members.
	Txs(ctx context.Context) ([]string, error)
}

// Stores is the set the gateway and the revalidator use.
type Stores struct {
	Verdicts Verdicts
	Limiter  Limiter
	Queue    Queue
	Statuses Statuses
	Feed     Feed
	Invalid  TxSet
	// Close releases connections (a no-op in memory).
	Close func() error
	// Probe reaches the backing service and checks it is deployed as configured (nil in
	// memory): at start-up, a wrong Redis mode is an error an operator can act on.
	Probe func(ctx context.Context) error
}
