package light

import (
	"container/list"
	"sync"

	"github.com/ethereum/go-ethereum/common"
)

// logRecord is what a check needs of one log: its index in the block, its address and the hash
// of its topics and data.
type logRecord struct {
	index       uint32
	origin      common.Address
	payloadHash common.Hash
}

// blockLogs are the logs of one block, sorted by index.
type blockLogs []logRecord

func (b blockLogs) find(index uint32) (logRecord, bool) {
	lo, hi := 0, len(b)
	for lo < hi {
		mid := (lo + hi) / 2
		switch {
		case b[mid].index == index:
			return b[mid], true
		case b[mid].index < index:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return logRecord{}, false
}

// logCache is an LRU of block logs by block hash, bounded by the total number of log records
// (each block counts at least one, so empty blocks are bounded too). Safe for concurrent use.
type logCache struct {
	mu      sync.Mutex
	max     int
	weight  int
	order   *list.List // front = most recently used; values are *cacheEntry
	entries map[common.Hash]*list.Element
}

type cacheEntry struct {
	hash common.Hash
	logs blockLogs
}

func newLogCache(maxRecords int) *logCache {
	return &logCache{max: maxRecords, order: list.New(), entries: make(map[common.Hash]*list.Element)}
}

func entryWeight(logs blockLogs) int { return max(len(logs), 1) }

func (c *logCache) get(hash common.Hash) (blockLogs, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[hash]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).logs, true
}

func (c *logCache) add(hash common.Hash, logs blockLogs) {
	w := entryWeight(logs)
	if w > c.max {
		return // larger than the whole cache: not worth evicting everything for
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[hash]; ok {
		return
	}
	c.entries[hash] = c.order.PushFront(&cacheEntry{hash: hash, logs: logs})
	c.weight += w
	for c.weight > c.max {
		oldest := c.order.Back()
		e := oldest.Value.(*cacheEntry)
		c.order.Remove(oldest)
		delete(c.entries, e.hash)
		c.weight -= entryWeight(e.logs)
	}
}

func (c *logCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
