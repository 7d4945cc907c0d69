package store

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MemoryConfig bounds the in-memory state.
type MemoryConfig struct {
	MaxVerdicts int // default 100,000
	MaxKeys     int // rate-limiter keys per table (IPs, senders), default 100,000
	MaxQueue    int // default 10,000
	// MaxQueueBytes bounds the queue's raw transactions and params, default 256 MiB.
	MaxQueueBytes int
	MaxStatuses   int // default 100,000
	FeedSize      int // default 10,000
	Now           func() time.Time
}

func (c *MemoryConfig) withDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxVerdicts, 100_000)
	def(&c.MaxKeys, 100_000)
	def(&c.MaxQueue, 10_000)
	def(&c.MaxQueueBytes, 256<<20)
	def(&c.MaxStatuses, 100_000)
	def(&c.FeedSize, 10_000)
	if c.Now == nil {
		c.Now = time.Now
	}
}

// NewMemory returns in-memory stores, bounded by cfg. Safe for concurrent use.
func NewMemory(cfg MemoryConfig) Stores {
	cfg.withDefaults()
	return Stores{
		Verdicts: &memVerdicts{ttlMap: newTTLMap[Verdict](cfg.MaxVerdicts, cfg.Now)},
		Limiter:  &memLimiter{max: cfg.MaxKeys, now: cfg.Now, tables: map[string]map[string]*window{}},
		Queue:    &memQueue{max: cfg.MaxQueue, maxBytes: cfg.MaxQueueBytes, items: map[string]*memItem{}},
		Statuses: &memStatuses{ttlMap: newTTLMap[Status](cfg.MaxStatuses, cfg.Now)},
		Feed:     &memFeed{size: cfg.FeedSize, now: cfg.Now},
		Invalid:  &memTxSet{ttlMap: newTTLMap[struct{}](cfg.MaxStatuses, cfg.Now)},
		Close:    func() error { return nil },
	}
}

// ttlMap is a bounded map whose entries expire. When full it drops expired entries, then the
// ones closest to expiry.
type ttlMap[V any] struct {
	mu      sync.Mutex
	max     int
	now     func() time.Time
	entries map[string]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

func newTTLMap[V any](max int, now func() time.Time) *ttlMap[V] {
	return &ttlMap[V]{max: max, now: now, entries: make(map[string]ttlEntry[V])}
}

func (m *ttlMap[V]) get(key string) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || !m.now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (m *ttlMap[V]) set(key string, v V, ttl time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if _, exists := m.entries[key]; !exists && len(m.entries) >= m.max {
		m.evict(now)
	}
	m.entries[key] = ttlEntry[V]{v: v, expires: now.Add(ttl)}
}

// evict frees at least a tenth of the map: expired entries first, then the soonest to expire.
func (m *ttlMap[V]) evict(now time.Time) {
	for k, e := range m.entries {
		if !now.Before(e.expires) {
			delete(m.entries, k)
		}
	}
	target := m.max - m.max/10 - 1
	if len(m.entries) <= target {
		return
	}
	keys := make([]string, 0, len(m.entries))
	for k := range m.entries {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m.entries[keys[i]].expires.Before(m.entries[keys[j]].expires) })
	for _, k := range keys[:len(keys)-max(target, 0)] {
		delete(m.entries, k)
	}
}

type memVerdicts struct{ *ttlMap[Verdict] }

func (m *memVerdicts) GetVerdicts(_ context.Context, keys []string) ([]Verdict, []bool, error) {
	vs, found := make([]Verdict, len(keys)), make([]bool, len(keys))
	for i, k := range keys {
		vs[i], found[i] = m.get(k)
	}
	return vs, found, nil
}

func (m *memVerdicts) SetVerdicts(_ context.Context, entries []VerdictEntry) error {
	for _, e := range entries {
		m.set(e.Key, e.Verdict, e.TTL)
	}
	return nil
}

type memStatuses struct{ *ttlMap[Status] }

func (m *memStatuses) SetStatus(_ context.Context, hash string, s Status, ttl time.Duration) error {
	m.set(hash, s.bounded(), ttl)
	return nil
}

func (m *memStatuses) SetStatuses(_ context.Context, entries []StatusEntry) error {
	for _, e := range entries {
		m.set(e.Hash, e.Status.bounded(), e.TTL)
	}
	return nil
}

func (m *memStatuses) GetStatus(_ context.Context, hash string) (Status, bool, error) {
	s, ok := m.get(hash)
	return s, ok, nil
}

type window struct {
	end   time.Time // the window's end: the entry is dead after it, whatever other keys use
	count int
}

// memLimiter keeps one bounded table per key prefix ("ip", "sender"), so a sweep of one kind
// of key never touches another's live windows.
type memLimiter struct {
	mu     sync.Mutex
	max    int
	now    func() time.Time
	tables map[string]map[string]*window
}

func (l *memLimiter) Allow(_ context.Context, key string, limit int, length time.Duration) (bool, error) {
	now := l.now()
	table, _, _ := strings.Cut(key, ":")
	l.mu.Lock()
	defer l.mu.Unlock()
	windows := l.tables[table]
	if windows == nil {
		windows = map[string]*window{}
		l.tables[table] = windows
	}
	w, ok := windows[key]
	if !ok {
		if len(windows) >= l.max {
			for k, old := range windows { // drop the windows that have ended
				if !now.Before(old.end) {
					delete(windows, k)
				}
			}
			if len(windows) >= l.max {
				return true, ErrLimiterFull // bounded, and never 429 for every newcomer
			}
		}
		w = &window{}
		windows[key] = w
	}
	if !now.Before(w.end) {
		start := now.Truncate(length)
		w.end, w.count = start.Add(length), 0
	}
	w.count++
	return w.count <= limit, nil
}

type memItem struct {
	it    Item
	due   time.Time
	lease string
	size  int
}

type memQueue struct {
	mu       sync.Mutex
	max      int
	maxBytes int
	bytes    int
	leases   uint64
	items    map[string]*memItem
}

func (q *memQueue) Add(_ context.Context, it Item) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.items[it.ID]; ok {
		return false, nil
	}
	size := it.Size()
	if len(q.items) >= q.max || q.bytes+size > q.maxBytes {
		return false, ErrQueueFull
	}
	it.Lease = ""
	q.items[it.ID] = &memItem{it: it, due: it.Due, size: size}
	q.bytes += size
	return true, nil
}

func (q *memQueue) Claim(_ context.Context, now time.Time, max int, lease time.Duration) ([]Item, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var due []*memItem
	for _, m := range q.items {
		if !m.due.After(now) {
			due = append(due, m)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].due.Before(due[j].due) })
	if len(due) > max {
		due = due[:max]
	}
	out := make([]Item, len(due))
	for i, m := range due {
		q.leases++
		m.due = now.Add(lease)
		m.lease = "m" + strconv.FormatUint(q.leases, 10)
		out[i] = m.it
		out[i].Due, out[i].Lease = m.due, m.lease
	}
	return out, nil
}

// held returns the item if lease still holds it; q.mu is held.
func (q *memQueue) held(id, lease string) *memItem {
	m, ok := q.items[id]
	if !ok || m.lease == "" || m.lease != lease {
		return nil
	}
	return m
}

func (q *memQueue) Extend(_ context.Context, id, lease string, until time.Time) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := q.held(id, lease)
	if m == nil {
		return false, nil
	}
	m.due = until
	return true, nil
}

func (q *memQueue) Retry(_ context.Context, id, lease string, due time.Time, attempts int) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := q.held(id, lease)
	if m == nil {
		return false, nil
	}
	m.due, m.lease, m.it.Attempts = due, "", attempts
	return true, nil
}

func (q *memQueue) Ack(_ context.Context, id, lease string) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := q.held(id, lease)
	if m == nil {
		return false, nil
	}
	q.bytes -= m.size
	delete(q.items, id)
	return true, nil
}

func (q *memQueue) Len(context.Context) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items), nil
}

func (q *memQueue) Oldest(context.Context) (time.Time, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var oldest time.Time
	for _, m := range q.items {
		if oldest.IsZero() || m.it.Enqueued.Before(oldest) {
			oldest = m.it.Enqueued
		}
	}
	return oldest, nil
}

type memFeed struct {
	mu      sync.Mutex
	size    int
	now     func() time.Time
	next    uint64
	entries []FeedEntry // ring, oldest first after trimming
}

func (f *memFeed) Publish(_ context.Context, entries ...FeedEntry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range entries {
		f.next++
		e.ID = strconv.FormatUint(f.next, 10)
		if e.At.IsZero() {
			e.At = f.now()
		}
		f.entries = append(f.entries, e)
	}
	if len(f.entries) > f.size { // trimmed once per call, not per entry (a copy of the whole feed)
		f.entries = append(f.entries[:0], f.entries[len(f.entries)-f.size:]...)
	}
	return nil
}

func (f *memFeed) Read(_ context.Context, after string, max int) ([]FeedEntry, error) {
	var from uint64
	if after != "" {
		n, err := strconv.ParseUint(after, 10, 64)
		if err != nil {
			return nil, errors.New("feed: bad entry id " + strconv.Quote(after))
		}
		from = n
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []FeedEntry
	for _, e := range f.entries {
		if id, _ := strconv.ParseUint(e.ID, 10, 64); id > from {
			out = append(out, e)
			if len(out) == max {
				break
			}
		}
	}
	return out, nil
}

type memTxSet struct{ *ttlMap[struct{}] }

func (m *memTxSet) AddTxs(_ context.Context, hashes []string, ttl time.Duration) error {
	for _, h := range hashes {
		m.set(h, struct{}{}, ttl)
	}
	return nil
}

func (m *memTxSet) Txs(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var out []string
	for k, e := range m.entries {
		if now.Before(e.expires) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, nil
}
