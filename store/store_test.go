package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/interopgate/interopgate/internal/redistest"
	"github.com/interopgate/interopgate/store"
)

// backends runs a contract test against memory and against a real Redis.
func backends(t *testing.T, run func(t *testing.T, s store.Stores)) {
	t.Run("memory", func(t *testing.T) { run(t, store.NewMemory(store.MemoryConfig{MaxQueue: 3, FeedSize: 3})) })
	t.Run("redis", func(t *testing.T) {
		s, err := store.NewRedis(store.RedisConfig{URL: redistest.SharedURL(t), Prefix: fmt.Sprintf("test-%s-%d:", t.Name(), time.Now().UnixNano()), MaxQueue: 3, FeedSize: 3})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		run(t, s)
	})
}

func TestVerdicts(t *testing.T) {
	backends(t, func(t *testing.T, s store.Stores) {
		ctx := context.Background()
		if _, found, err := s.Verdicts.GetVerdicts(ctx, []string{"k"}); found[0] || err != nil {
			t.Fatalf("empty: %v %v", found, err)
		}
		want := store.Verdict{Class: 2, Code: -320600, Message: "conflict"}
		if err := s.Verdicts.SetVerdicts(ctx, []store.VerdictEntry{{Key: "k", Verdict: want, TTL: time.Minute}}); err != nil {
			t.Fatal(err)
		}
		got, found, err := s.Verdicts.GetVerdicts(ctx, []string{"nope", "k", "k"})
		if err != nil || found[0] || !found[1] || !found[2] || got[1] != want || got[2] != want {
			t.Fatalf("got %+v %v %v", got, found, err)
		}
		if err := s.Verdicts.SetVerdicts(ctx, []store.VerdictEntry{{Key: "short", Verdict: want, TTL: time.Millisecond}}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, found, _ := s.Verdicts.GetVerdicts(ctx, []string{"short"}); !found[0] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("verdict did not expire")
			}
			time.Sleep(5 * time.Millisecond) // polling for expiry against a deadline
		}
	})
}

func TestLimiter(t *testing.T) {
	backends(t, func(t *testing.T, s store.Stores) {
		ctx := context.Background()
		allowed := 0
		for range 10 {
			if ok, err := s.Limiter.Allow(ctx, "ip", 3, time.Hour); err != nil {
				t.Fatal(err)
			} else if ok {
				allowed++
			}
		}
		if allowed != 3 {
			t.Fatalf("%d allowed, want 3", allowed)
		}
		if ok, _ := s.Limiter.Allow(ctx, "other", 3, time.Hour); !ok {
			t.Fatal("keys are not independent")
		}
	})
}

func TestQueue(t *testing.T) {
	backends(t, func(t *testing.T, s store.Stores) {
		ctx := context.Background()
		now := time.Now().Truncate(time.Millisecond)
		for i, due := range []time.Duration{2 * time.Second, 0, time.Second} {
			it := store.Item{ID: fmt.Sprint("tx", i), Raw: []byte{byte(i)}, Method: "eth_sendRawTransaction", Enqueued: now.Add(time.Duration(i) * time.Millisecond), Due: now.Add(due)}
			if err := s.Queue.Push(ctx, it); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Queue.Push(ctx, store.Item{ID: "tx9", Due: now}); !errors.Is(err, store.ErrQueueFull) {
			t.Fatalf("push over the bound: %v", err)
		}
		if n, _ := s.Queue.Len(ctx); n != 3 {
			t.Fatalf("len %d", n)
		}
		if o, _ := s.Queue.Oldest(ctx); !o.Equal(now) {
			t.Fatalf("oldest %v, want %v", o, now)
		}
		got, err := s.Queue.Claim(ctx, now.Add(time.Second), 10, 5*time.Second)
		if err != nil || len(got) != 2 || got[0].ID != "tx1" || got[1].ID != "tx2" || got[0].Raw[0] != 1 {
			t.Fatalf("claim: %+v %v", got, err)
		}
		// Leased items are invisible until the lease runs out.
		if again, _ := s.Queue.Claim(ctx, now.Add(2*time.Second), 10, 5*time.Second); len(again) != 1 || again[0].ID != "tx0" {
			t.Fatalf("claim during the lease: %+v", again)
		}
		if err := s.Queue.Ack(ctx, "tx1"); err != nil {
			t.Fatal(err)
		}
		// After the lease, unacknowledged items come back: nothing is lost by a crashed worker.
		back, _ := s.Queue.Claim(ctx, now.Add(10*time.Second), 10, 5*time.Second)
		if len(back) != 2 {
			t.Fatalf("after the lease: %+v", back)
		}
		// Pushing an existing ID replaces it (a reschedule).
		it := back[0]
		it.Attempts = 7
		it.Due = now.Add(11 * time.Second)
		if err := s.Queue.Push(ctx, it); err != nil {
			t.Fatal(err)
		}
		r, _ := s.Queue.Claim(ctx, now.Add(20*time.Second), 10, time.Second)
		found := false
		for _, x := range r {
			if x.ID == it.ID && x.Attempts == 7 {
				found = true
			}
		}
		if !found {
			t.Fatalf("rescheduled item: %+v", r)
		}
	})
}

func TestStatusesAndFeed(t *testing.T) {
	backends(t, func(t *testing.T, s store.Stores) {
		ctx := context.Background()
		st := store.Status{State: "dropped", Code: -320600, Reason: "conflict", Attempts: 2, UpdatedAt: time.Now().Truncate(time.Millisecond)}
		if err := s.Statuses.SetStatus(ctx, "0xab", st, time.Minute); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Statuses.GetStatus(ctx, "0xab")
		if !ok || err != nil || got.State != st.State || got.Code != st.Code || !got.UpdatedAt.Equal(st.UpdatedAt) {
			t.Fatalf("status %+v %v %v", got, ok, err)
		}
		for i := range 5 {
			if err := s.Feed.Publish(ctx, store.FeedEntry{Hash: fmt.Sprint("h", i), Raw: []byte{byte(i)}}); err != nil {
				t.Fatal(err)
			}
		}
		es, err := s.Feed.Read(ctx, "", 100)
		if err != nil || len(es) < 3 || es[len(es)-1].Hash != "h4" || es[len(es)-1].Raw[0] != 4 {
			t.Fatalf("feed: %+v %v", es, err)
		}
		after, _ := s.Feed.Read(ctx, es[len(es)-2].ID, 100)
		if len(after) != 1 || after[0].Hash != "h4" {
			t.Fatalf("read after: %+v", after)
		}
	})
}

func TestFallbackSurvivesAnOutage(t *testing.T) {
	srv := redistest.Start(t)
	primary, err := store.NewRedis(store.RedisConfig{URL: srv.URL, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var errs, downs, ups atomic.Int32
	s := store.Fallback(primary, store.NewMemory(store.MemoryConfig{}), store.FallbackConfig{
		Cooldown: 50 * time.Millisecond,
		OnError:  func(string, error) { errs.Add(1) },
		OnState: func(up bool) {
			if up {
				ups.Add(1)
			} else {
				downs.Add(1)
			}
		},
	})
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	if err := s.Queue.Push(ctx, store.Item{ID: "before", Enqueued: now, Due: now}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	// Every operation still answers, from memory.
	if err := s.Verdicts.SetVerdicts(ctx, []store.VerdictEntry{{Key: "k", Verdict: store.Verdict{Class: 1}, TTL: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	if v, found, err := s.Verdicts.GetVerdicts(ctx, []string{"k"}); err != nil || !found[0] || v[0].Class != 1 {
		t.Fatalf("verdict during the outage: %v %v %v", v, found, err)
	}
	if ok, err := s.Limiter.Allow(ctx, "ip", 1, time.Hour); err != nil || !ok {
		t.Fatalf("limiter during the outage: %v %v", ok, err)
	}
	if err := s.Queue.Push(ctx, store.Item{ID: "during", Enqueued: now, Due: now}); err != nil {
		t.Fatal(err)
	}
	if errs.Load() == 0 || downs.Load() != 1 {
		t.Fatalf("outage not reported: errors %d, downs %d", errs.Load(), downs.Load())
	}
	// Redis comes back (with its append-only file): both items are claimable.
	srv.Restart()
	var claimed []store.Item
	deadline := time.Now().Add(10 * time.Second)
	for len(claimed) < 2 && time.Now().Before(deadline) {
		items, _ := s.Queue.Claim(ctx, time.Now(), 10, time.Minute)
		claimed = append(claimed, items...)
		time.Sleep(20 * time.Millisecond) // polling until the cooldown ends, against a deadline
	}
	ids := map[string]bool{}
	for _, it := range claimed {
		ids[it.ID] = true
	}
	if !ids["before"] || !ids["during"] {
		t.Fatalf("claimed %v, want both items", ids)
	}
	if ups.Load() != 1 {
		t.Fatalf("recovery not reported: ups %d", ups.Load())
	}
}
