package store

import (
	"testing"
	"time"
)

// The journal keeps the last journalWindow of writes, within its count and byte bounds.
func TestJournalIsBounded(t *testing.T) {
	var j journal
	t0 := time.Now()
	j.add(journaled{at: t0.Add(-2 * journalWindow), hash: "old"})
	big := make([]byte, journalMaxBytes/4+1)
	for i := range 5 {
		j.add(journaled{at: t0, item: &Item{ID: string(rune('a' + i)), Raw: big}})
	}
	got := j.recent(t0)
	if len(got) != 3 || got[0].item.ID != "c" || j.bytes > journalMaxBytes {
		t.Fatalf("journal of %d entries (%d bytes), first %+v: want the last 3 within %d bytes", len(got), j.bytes, got[0], journalMaxBytes)
	}
	for range journalMax + 10 {
		j.add(journaled{at: t0, hash: "h"})
	}
	if n := len(j.recent(t0)); n != journalMax {
		t.Fatalf("%d entries, want at most %d", n, journalMax)
	}
}

// A write-back that fails gives back the statuses it took; one owed meanwhile is newer and
// stays (found by the Cluster failover test: a forwarded tx read "queued" for good).
func TestAStatusOwedMeanwhileIsNotOverwrittenByAnOlderOne(t *testing.T) {
	f := &fallback{}
	t0 := time.Now()
	f.owe("h", Status{State: "forwarded", UpdatedAt: t0}, time.Hour)
	f.owe("h", Status{State: "queued", UpdatedAt: t0.Add(-time.Second)}, time.Hour) // given back
	if got := f.owedStatuses["h"].s.State; got != "forwarded" {
		t.Fatalf("owed %q, want the newer forwarded", got)
	}
}
