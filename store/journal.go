package store

import (
	"sync"
	"time"
)

// Redis replicates asynchronously: what a master acknowledged in its last moments before it
// died may never reach the replica promoted in its place. A journal keeps what this process
// wrote to the primary lately (queue items and statuses), and Fallback writes it again when the
// primary answers after a failure: an item still queued is left as it is (Add is a no-op for
// a queued id), a lost one is queued again, and a status is written where the primary's is
// older (found by the Cluster failover test: a tx acknowledged into the queue, lost with its
// master, stayed "queued" for ever).
const (
	// journalWindow is how far back the journal reaches: far more than replication lag.
	journalWindow = 10 * time.Second
	// journalMax and journalMaxBytes bound the journal's entries and the bytes of its items'
	// transactions (the oldest go first).
	journalMax      = 20_000
	journalMaxBytes = 16 << 20
)

type journaled struct {
	at     time.Time
	item   *Item
	hash   string // with status and ttl, a status write
	status Status
	ttl    time.Duration
}

type journal struct {
	mu      sync.Mutex
	entries []journaled
	bytes   int
	// finished are the items acknowledged since they were journaled (by id, when): they are
	// not queued again. At most journalMax; the expired go when it is full.
	finished map[string]time.Time
}

// done records that the item id was acknowledged.
func (j *journal) done(id string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.finished == nil {
		j.finished = map[string]time.Time{}
	}
	now := time.Now()
	if len(j.finished) >= journalMax { // full: forget what is older than the window
		for id, at := range j.finished {
			if now.Sub(at) > journalWindow {
				delete(j.finished, id)
			}
		}
	}
	if len(j.finished) < journalMax {
		j.finished[id] = now
	}
}

func (j *journal) isDone(id string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, ok := j.finished[id]
	return ok
}

func (e journaled) size() int {
	if e.item == nil {
		return 0
	}
	return len(e.item.Raw) + len(e.item.Rest)
}

func (j *journal) add(e journaled) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.prune(e.at)
	j.entries = append(j.entries, e)
	j.bytes += e.size()
	i := 0
	for ; len(j.entries)-i > journalMax || j.bytes > journalMaxBytes; i++ {
		j.bytes -= j.entries[i].size()
	}
	j.drop(i)
}

// prune drops entries older than journalWindow (j.mu held).
func (j *journal) prune(now time.Time) {
	i := 0
	for i < len(j.entries) && now.Sub(j.entries[i].at) > journalWindow {
		j.bytes -= j.entries[i].size()
		i++
	}
	j.drop(i)
}

// drop removes the first n entries (j.mu held).
func (j *journal) drop(n int) {
	if n > 0 {
		clear(j.entries[:n])
		j.entries = append(j.entries[:0], j.entries[n:]...)
	}
}

// recent returns the entries of the last journalWindow.
func (j *journal) recent(now time.Time) []journaled {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.prune(now)
	return append([]journaled(nil), j.entries...)
}
