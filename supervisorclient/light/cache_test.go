package light

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

func logs(n int) blockLogs {
	out := make(blockLogs, n)
	for i := range out {
		out[i] = logRecord{index: uint32(2 * i)}
	}
	return out
}

func TestLogCacheIsBoundedByRecords(t *testing.T) {
	c := newLogCache(10)
	c.add(common.Hash{1}, logs(4))
	c.add(common.Hash{2}, logs(4))
	c.add(common.Hash{3}, nil) // an empty block weighs one record
	if c.len() != 3 || c.weight != 9 {
		t.Fatalf("len %d weight %d", c.len(), c.weight)
	}
	if _, ok := c.get(common.Hash{1}); !ok { // 1 becomes the most recently used
		t.Fatal("miss")
	}
	c.add(common.Hash{4}, logs(3)) // 12 > 10: evicts the least recently used (2)
	if _, ok := c.get(common.Hash{2}); ok {
		t.Fatal("the least recently used block was kept")
	}
	if _, ok := c.get(common.Hash{1}); !ok {
		t.Fatal("a recently used block was evicted")
	}
	if c.weight > 10 {
		t.Fatalf("weight %d over the bound", c.weight)
	}
	c.add(common.Hash{5}, logs(11)) // larger than the whole cache: not cached
	if _, ok := c.get(common.Hash{5}); ok || c.weight > 10 {
		t.Fatal("an oversized block was cached")
	}
}

func TestBlockLogsFind(t *testing.T) {
	b := logs(50) // indexes 0, 2, …, 98
	for _, i := range []uint32{0, 2, 48, 98} {
		if r, ok := b.find(i); !ok || r.index != i {
			t.Fatalf("find(%d) = %v %v", i, r, ok)
		}
	}
	for _, i := range []uint32{1, 97, 99, 1000} {
		if _, ok := b.find(i); ok {
			t.Fatalf("find(%d) found a log that is not there", i)
		}
	}
}
