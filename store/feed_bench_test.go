package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/interopgate/interopgate/internal/redistest"
	"github.com/interopgate/interopgate/store"
)

// BenchmarkFeedPublish: the gateway's feed publisher moving a burst of 1,000 accepted txs (a
// feed entry and a forwarded status each) to a real Redis, one call per tx against one batched
// call of each. Reported per tx; a round trip per tx caps the publisher at 1/RTT txs a second.
//
//	go test -run '^$' -bench FeedPublish -count 5 ./store
func BenchmarkFeedPublish(b *testing.B) {
	srv := redistest.Start(b)
	s, err := store.NewRedis(store.RedisConfig{URL: srv.URL, Timeout: 5 * time.Second, FeedSize: 10_000})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const burst = 1000
	raw := make([]byte, 300) // a typical interop tx
	entries := make([]store.FeedEntry, burst)
	statuses := make([]store.StatusEntry, burst)
	for i := range entries {
		entries[i] = store.FeedEntry{Hash: fmt.Sprintf("0x%064x", i), Raw: raw}
		statuses[i] = store.StatusEntry{Hash: entries[i].Hash, Status: store.Status{State: "forwarded", UpdatedAt: time.Now()}, TTL: time.Minute}
	}
	b.Run("one-call-per-tx", func(b *testing.B) {
		for b.Loop() {
			for i := range entries {
				if err := s.Statuses.SetStatus(ctx, statuses[i].Hash, statuses[i].Status, statuses[i].TTL); err != nil {
					b.Fatal(err)
				}
				if err := s.Feed.Publish(ctx, entries[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*burst), "µs/tx")
	})
	b.Run("batched", func(b *testing.B) {
		for b.Loop() {
			if err := s.Statuses.SetStatuses(ctx, statuses); err != nil {
				b.Fatal(err)
			}
			if err := s.Feed.Publish(ctx, entries...); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*burst), "µs/tx")
	})
}
