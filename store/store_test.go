package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/interopgate/interopgate/internal/redistest"
	"github.com/interopgate/interopgate/internal/rpctest"
	"github.com/interopgate/interopgate/store"
	"github.com/redis/go-redis/v9"
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

// One table's keys never push out another's live windows, and a table full of live windows
// lets newcomers through (untracked) rather than refusing everyone.
func TestLimiterTables(t *testing.T) {
	s := store.NewMemory(store.MemoryConfig{MaxKeys: 4})
	ctx := context.Background()
	for range 2 {
		s.Limiter.Allow(ctx, "ip:a", 2, time.Hour)
	}
	// A flood of senders with short windows, in their own table.
	for i := range 50 {
		s.Limiter.Allow(ctx, fmt.Sprint("sender:", i), 1, time.Nanosecond)
	}
	if ok, _ := s.Limiter.Allow(ctx, "ip:a", 2, time.Hour); ok {
		t.Fatal("the sender sweep reset a live IP window")
	}
	for i := range 3 {
		s.Limiter.Allow(ctx, fmt.Sprint("ip:", i), 2, time.Hour)
	}
	ok, err := s.Limiter.Allow(ctx, "ip:newcomer", 2, time.Hour)
	if !ok || !errors.Is(err, store.ErrLimiterFull) {
		t.Fatalf("newcomer to a full table: %v %v", ok, err)
	}
}

// An ack made while Redis is cooling down must still reach Redis (or be owed to it), or the
// item would be claimed and forwarded again once Redis is back.
func TestFallbackAckReachesRedis(t *testing.T) {
	srv := redistest.Start(t)
	primary, err := store.NewRedis(store.RedisConfig{URL: srv.URL, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := store.Fallback(primary, store.NewMemory(store.MemoryConfig{}), store.FallbackConfig{Cooldown: time.Hour})
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	for _, id := range []string{"a", "b"} {
		if _, err := s.Queue.Add(ctx, store.Item{ID: id, Enqueued: now, Due: now}); err != nil {
			t.Fatal(err)
		}
	}
	items, err := s.Queue.Claim(ctx, now, 10, 50*time.Millisecond)
	if err != nil || len(items) != 2 {
		t.Fatalf("%+v %v", items, err)
	}
	// Redis fails once: the fallback now skips it for an hour ...
	srv.Stop()
	s.Verdicts.GetVerdicts(ctx, []string{"x"})
	srv.Restart()
	// ... yet the acks go to it.
	for _, it := range items {
		if ok, err := s.Queue.Ack(ctx, it.ID, it.Lease); !ok || err != nil {
			t.Fatalf("ack %s: %v %v", it.ID, ok, err)
		}
	}
	if n, err := primary.Queue.Len(ctx); n != 0 || err != nil {
		t.Fatalf("%d items left in Redis after their acks (%v)", n, err)
	}
}

func TestQueue(t *testing.T) {
	backends(t, func(t *testing.T, s store.Stores) {
		ctx := context.Background()
		now := time.Now().Truncate(time.Millisecond)
		for i, due := range []time.Duration{2 * time.Second, 0, time.Second} {
			it := store.Item{ID: fmt.Sprint("tx", i), Raw: []byte{byte(i)}, Method: "eth_sendRawTransaction", Enqueued: now.Add(time.Duration(i) * time.Millisecond), Due: now.Add(due)}
			if added, err := s.Queue.Add(ctx, it); err != nil || !added {
				t.Fatal(added, err)
			}
		}
		if _, err := s.Queue.Add(ctx, store.Item{ID: "tx9", Due: now}); !errors.Is(err, store.ErrQueueFull) {
			t.Fatalf("add over the bound: %v", err)
		}
		// Adding an ID already queued changes nothing: a resubmission cannot reset its attempts.
		if added, err := s.Queue.Add(ctx, store.Item{ID: "tx1", Raw: []byte{9}, Due: now.Add(time.Hour)}); added || err != nil {
			t.Fatalf("re-add: %v %v", added, err)
		}
		if n, _ := s.Queue.Len(ctx); n != 3 {
			t.Fatalf("len %d", n)
		}
		if o, _ := s.Queue.Oldest(ctx); !o.Equal(now) {
			t.Fatalf("oldest %v, want %v", o, now)
		}
		got, err := s.Queue.Claim(ctx, now.Add(time.Second), 10, 5*time.Second)
		if err != nil || len(got) != 2 || got[0].ID != "tx1" || got[1].ID != "tx2" || got[0].Raw[0] != 1 || got[0].Lease == "" {
			t.Fatalf("claim: %+v %v", got, err)
		}
		// Leased items are invisible until the lease runs out.
		if again, _ := s.Queue.Claim(ctx, now.Add(2*time.Second), 10, 5*time.Second); len(again) != 1 || again[0].ID != "tx0" {
			t.Fatalf("claim during the lease: %+v", again)
		}
		if ok, err := s.Queue.Ack(ctx, "tx1", got[0].Lease); !ok || err != nil {
			t.Fatalf("ack: %v %v", ok, err)
		}
		// After the lease, unacknowledged items come back with new leases: nothing is lost by a
		// crashed worker, and the old lease can do nothing any more.
		back, _ := s.Queue.Claim(ctx, now.Add(10*time.Second), 10, 5*time.Second)
		if len(back) != 2 || back[0].ID != "tx2" {
			t.Fatalf("after the lease: %+v", back)
		}
		stale := got[1]
		if ok, _ := s.Queue.Extend(ctx, stale.ID, stale.Lease, now.Add(time.Hour)); ok {
			t.Fatal("a lost claim was extended")
		}
		if ok, _ := s.Queue.Ack(ctx, stale.ID, stale.Lease); ok {
			t.Fatal("a lost claim acknowledged the item")
		}
		if ok, _ := s.Queue.Retry(ctx, stale.ID, stale.Lease, now, 1); ok {
			t.Fatal("a lost claim rescheduled the item")
		}
		// The live claim extends, then reschedules with its attempts.
		live := back[0]
		if ok, err := s.Queue.Extend(ctx, live.ID, live.Lease, now.Add(30*time.Second)); !ok || err != nil {
			t.Fatalf("extend: %v %v", ok, err)
		}
		if r, _ := s.Queue.Claim(ctx, now.Add(20*time.Second), 10, time.Second); len(r) != 1 || r[0].ID == live.ID {
			t.Fatalf("claim during the extended lease: %+v", r)
		}
		if ok, err := s.Queue.Retry(ctx, live.ID, live.Lease, now.Add(11*time.Second), 7); !ok || err != nil {
			t.Fatalf("retry: %v %v", ok, err)
		}
		if ok, _ := s.Queue.Ack(ctx, live.ID, live.Lease); ok {
			t.Fatal("a released claim acknowledged the item")
		}
		r, _ := s.Queue.Claim(ctx, now.Add(12*time.Second), 10, time.Second)
		if len(r) != 1 || r[0].ID != live.ID || r[0].Attempts != 7 || r[0].Raw[0] != 2 {
			t.Fatalf("rescheduled item: %+v", r)
		}
	})
}

func TestQueueBytesAreBounded(t *testing.T) {
	for name, s := range map[string]store.Stores{
		"memory": store.NewMemory(store.MemoryConfig{MaxQueueBytes: 10_000}),
		"redis": func() store.Stores {
			r, err := store.NewRedis(store.RedisConfig{URL: redistest.SharedURL(t), Prefix: fmt.Sprintf("test-bytes-%d:", time.Now().UnixNano()), MaxQueueBytes: 10_000})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			big := func(i int) store.Item {
				return store.Item{ID: fmt.Sprint("b", i), Raw: make([]byte, 3000), Enqueued: time.Now(), Due: time.Now()}
			}
			n := 0
			for i := range 10 {
				if _, err := s.Queue.Add(ctx, big(i)); err != nil {
					if !errors.Is(err, store.ErrQueueFull) {
						t.Fatal(err)
					}
					break
				}
				n++
			}
			if n == 0 || n >= 4 {
				t.Fatalf("%d items of 3 kB in a queue of 10 kB", n)
			}
			// Acknowledging frees the bytes.
			items, _ := s.Queue.Claim(ctx, time.Now(), 10, time.Minute)
			for _, it := range items {
				if ok, err := s.Queue.Ack(ctx, it.ID, it.Lease); !ok || err != nil {
					t.Fatal(ok, err)
				}
			}
			if _, err := s.Queue.Add(ctx, big(99)); err != nil {
				t.Fatalf("after the acks: %v", err)
			}
		})
	}
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

// A batch of feed entries and statuses goes in one call (one pipeline in Redis, in chunks of
// 128): every entry in order, every status readable, at any size.
func TestBatchedFeedAndStatuses(t *testing.T) {
	backends(t, func(t *testing.T, s store.Stores) {
		ctx := context.Background()
		var entries []store.FeedEntry
		var statuses []store.StatusEntry
		for i := range 300 {
			entries = append(entries, store.FeedEntry{Hash: fmt.Sprint("b", i), Raw: []byte{byte(i)}})
			statuses = append(statuses, store.StatusEntry{Hash: fmt.Sprint("0xb", i), Status: store.Status{State: "forwarded", Attempts: i}, TTL: time.Minute})
		}
		if err := s.Feed.Publish(ctx, entries...); err != nil {
			t.Fatal(err)
		}
		es, err := s.Feed.Read(ctx, "", 1000)
		// The feed keeps its last FeedSize (3; approximately in Redis) entries: the newest, in order.
		if err != nil || len(es) < 3 || es[len(es)-1].Hash != "b299" || es[len(es)-2].Hash != "b298" || es[len(es)-3].Hash != "b297" {
			t.Fatalf("feed: %d entries, last %+v, %v", len(es), es[len(es)-1], err)
		}
		if err := s.Statuses.SetStatuses(ctx, statuses); err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{0, 127, 128, 299} {
			got, ok, err := s.Statuses.GetStatus(ctx, fmt.Sprint("0xb", i))
			if !ok || err != nil || got.Attempts != i || got.State != "forwarded" {
				t.Fatalf("status %d: %+v %v %v", i, got, ok, err)
			}
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
	if _, err := s.Queue.Add(ctx, store.Item{ID: "before", Enqueued: now, Due: now}); err != nil {
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
	if _, err := s.Queue.Add(ctx, store.Item{ID: "during", Enqueued: now, Due: now}); err != nil {
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

func TestInvalidTxSet(t *testing.T) {
	backends(t, func(t *testing.T, s store.Stores) {
		ctx := context.Background()
		if err := s.Invalid.AddTxs(ctx, []string{"0xb", "0xa"}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.Invalid.AddTxs(ctx, []string{"0xc"}, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			txs, err := s.Invalid.Txs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(txs) == "[0xa 0xb]" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("set %v, want [0xa 0xb] once 0xc expired", txs)
			}
			time.Sleep(5 * time.Millisecond) // polling for expiry against a deadline
		}
	})
}

// Issue 19, item 3: a Cluster given one address was built as a single-node client, every key of
// another node's slots failed with MOVED, and nothing said why. The mode says which client is
// built; the probe refuses a Cluster addressed as a single server, with what to set.
func TestRedisClusterFromOneAddress(t *testing.T) {
	srv := redistest.StartCluster(t)
	single, err := store.NewRedis(store.RedisConfig{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()
	ctx := context.Background()
	if err := single.Probe(ctx); !errors.Is(err, store.ErrWrongMode) || !strings.Contains(err.Error(), `redis.mode = "cluster"`) {
		t.Fatalf("a Cluster addressed as a single server: probe says %v", err)
	}
	cluster, err := store.NewRedis(store.RedisConfig{Addrs: []string{srv.Addr}, Mode: store.ModeCluster, Prefix: "cluster-test:"})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	if err := cluster.Probe(ctx); err != nil {
		t.Fatalf("probe in cluster mode: %v", err)
	}
	if err := cluster.Verdicts.SetVerdicts(ctx, []store.VerdictEntry{{Key: "a", Verdict: store.Verdict{Class: 1}, TTL: time.Minute},
		{Key: "b", Verdict: store.Verdict{Class: 2, Code: -320600}, TTL: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	vs, found, err := cluster.Verdicts.GetVerdicts(ctx, []string{"a", "b", "c"})
	if err != nil || !found[0] || !found[1] || found[2] || vs[0].Class != 1 || vs[1].Code != -320600 {
		t.Fatalf("verdicts through the cluster client: %+v %v %v", vs, found, err)
	}
	if _, err := store.NewRedis(store.RedisConfig{Addrs: []string{srv.Addr}, Mode: "clustr"}); err == nil || !strings.Contains(err.Error(), "clustr") {
		t.Fatalf("a mistyped mode: %v", err)
	}
}

// Issue 19, item 4: statuses written while Redis was down lived on one replica only, and a tx
// queued before the outage and forwarded during it read "queued" everywhere afterwards (the
// older Redis entry hid the newer local one). The newer status wins on read, and what was
// written during the outage is written back to Redis when it answers again, so another replica
// reads it too.
func TestStatusesStayTrueAcrossAnOutage(t *testing.T) {
	srv := redistest.Start(t)
	replica := func() store.Stores {
		primary, err := store.NewRedis(store.RedisConfig{URL: srv.URL, Timeout: 100 * time.Millisecond, Prefix: "statuses:"})
		if err != nil {
			t.Fatal(err)
		}
		s := store.Fallback(primary, store.NewMemory(store.MemoryConfig{}), store.FallbackConfig{Cooldown: 50 * time.Millisecond})
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := replica(), replica()
	ctx := context.Background()
	t0 := time.Now()
	if err := a.Statuses.SetStatus(ctx, "q", store.Status{State: "queued", UpdatedAt: t0}, time.Hour); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	// During the outage replica A forwards the queued tx and records two more.
	for _, h := range []string{"q", "x", "y"} {
		_ = a.Statuses.SetStatus(ctx, h, store.Status{State: "forwarded", UpdatedAt: t0.Add(time.Second)}, time.Hour)
	}
	srv.Restart()
	rpctest.WaitFor(t, "replica A's outage statuses written back to Redis", 10*time.Second, func() bool {
		_, _, _ = a.Statuses.GetStatus(ctx, "q") // any operation tells the fallback Redis is back
		for _, h := range []string{"q", "x", "y"} {
			if st, ok, _ := b.Statuses.GetStatus(ctx, h); !ok || st.State != "forwarded" {
				return false
			}
		}
		return true
	})
	if st, _, _ := a.Statuses.GetStatus(ctx, "q"); st.State != "forwarded" {
		t.Fatalf("replica A reads %q for the tx it forwarded during the outage", st.State)
	}
}

// A status's reason quotes a filter's or a node's error text, which anyone may read back: it is
// stored cut to MaxReasonBytes, on a character boundary, in memory and in Redis alike.
func TestAStatusReasonIsBounded(t *testing.T) {
	srv := redistest.Start(t)
	r, err := store.NewRedis(store.RedisConfig{URL: srv.URL, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	long := strings.Repeat("é", 4096) // 2 bytes each: a cut in the middle of one would be invalid UTF-8
	ctx := context.Background()
	for name, st := range map[string]store.Statuses{"memory": store.NewMemory(store.MemoryConfig{}).Statuses, "redis": r.Statuses} {
		if err := st.SetStatus(ctx, "0xabc", store.Status{State: "dropped", Reason: long, UpdatedAt: time.Now()}, time.Minute); err != nil {
			t.Fatal(err)
		}
		got, found, err := st.GetStatus(ctx, "0xabc")
		if err != nil || !found {
			t.Fatalf("%s: %v %v", name, found, err)
		}
		if len(got.Reason) > store.MaxReasonBytes || !utf8.ValidString(got.Reason) || !strings.HasSuffix(got.Reason, "…") {
			t.Errorf("%s: reason of %d bytes (valid UTF-8: %v)", name, len(got.Reason), utf8.ValidString(got.Reason))
		}
	}
}

// The write-back of a status after an outage must never replace a newer one another replica
// wrote meanwhile. Redis's SetStatusIfNewer reads and writes in one transaction: writers racing
// with statuses of every age leave the newest, whatever the order (a GET then SET could leave
// an older one).
func TestSetStatusIfNewerKeepsTheNewest(t *testing.T) {
	srv := redistest.Start(t)
	r, err := store.NewRedis(store.RedisConfig{URL: srv.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cas, ok := r.Statuses.(interface {
		SetStatusIfNewer(context.Context, string, store.Status, time.Duration) (bool, error)
	})
	if !ok {
		t.Fatal("the Redis statuses have no SetStatusIfNewer")
	}
	ctx := context.Background()
	base := time.Now()
	at := func(i int) store.Status {
		return store.Status{State: "queued", Attempts: i, UpdatedAt: base.Add(time.Duration(i) * time.Millisecond)}
	}
	if wrote, err := cas.SetStatusIfNewer(ctx, "h", at(5), time.Minute); !wrote || err != nil {
		t.Fatalf("into nothing: %v %v", wrote, err)
	}
	if wrote, err := cas.SetStatusIfNewer(ctx, "h", at(4), time.Minute); wrote || err != nil {
		t.Fatalf("an older one: %v %v", wrote, err)
	}
	if wrote, err := cas.SetStatusIfNewer(ctx, "h", at(5), time.Minute); wrote || err != nil {
		t.Fatalf("an equal one: %v %v", wrote, err)
	}
	for round := range 5 {
		key := fmt.Sprintf("race-%d", round)
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					n := (i*16 + w*7) % 400
					for {
						_, err := cas.SetStatusIfNewer(ctx, key, at(n), time.Minute)
						if err == nil || !errors.Is(err, redis.TxFailedErr) {
							break // a transaction that lost three times in a row is tried again
						}
					}
				}
			}()
		}
		wg.Wait()
		got, _, err := r.Statuses.GetStatus(ctx, key)
		if err != nil || got.Attempts != 399 {
			t.Fatalf("round %d: the newest written was 399, Redis keeps %d (%v)", round, got.Attempts, err)
		}
	}
}
