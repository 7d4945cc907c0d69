package store

import (
	"testing"
	"time"
)

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
