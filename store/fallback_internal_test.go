package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
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

// slowVerdicts is a primary whose reads take delay(i) for the i-th call on a test clock (a
// Redis that answers, but slowly); it counts the calls that reached it.
type slowVerdicts struct {
	Verdicts
	calls atomic.Int64
	delay func(i int64) time.Duration
	clock *testClock
}

func (s *slowVerdicts) GetVerdicts(ctx context.Context, keys []string) ([]Verdict, []bool, error) {
	s.clock.advance(s.delay(s.calls.Add(1)))
	return s.Verdicts.GetVerdicts(ctx, keys)
}

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Issue 19 (left by its review): a Redis that answers every operation just under its timeout
// never failed, so its latency added up per request. SlowOps slow operations within a window
// (the cooldown) count as a failure, whatever fast ones come between (a second review: the
// background queue polls reset a count of slow operations in a row, and a Redis stalling 200 ms
// at a time was never skipped); slow ones spread wider do not.
func TestASlowPrimaryIsSkippedLikeAFailedOne(t *testing.T) {
	for _, tc := range []struct {
		name      string
		slow      func(i int64) bool
		between   time.Duration // clock advance between operations
		wantCalls int64
		wantDown  bool
	}{
		{"every operation slow", func(int64) bool { return true }, 0, 3, true},
		{"fast ones between slow ones", func(i int64) bool { return i%3 != 0 }, 0, 4, true},
		{"slow ones spread wider than the window", func(int64) bool { return true }, 2 * time.Second, 6, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &testClock{now: time.Unix(1000, 0)}
			mem := NewMemory(MemoryConfig{})
			sv := &slowVerdicts{Verdicts: mem.Verdicts, clock: clock, delay: func(i int64) time.Duration {
				if tc.slow(i) {
					return 30 * time.Millisecond
				}
				return time.Millisecond
			}}
			primary := mem
			primary.Verdicts = sv
			var errs []error
			var down atomic.Bool
			s := Fallback(primary, NewMemory(MemoryConfig{}), FallbackConfig{Cooldown: time.Second, SlowOp: 20 * time.Millisecond, SlowOps: 3,
				OnError: func(_ string, err error) { errs = append(errs, err) }, OnState: func(up bool) { down.Store(!up) }})
			f := s.Verdicts.(*fallback)
			f.now = clock.Now
			for range 6 {
				if _, _, err := s.Verdicts.GetVerdicts(context.Background(), []string{"k"}); err != nil {
					t.Fatal(err)
				}
				clock.advance(tc.between)
				if tc.between > 0 {
					f.downUntil.Store(0) // the real cooldown is the wall clock's: over, as the test clock says
				}
			}
			if got := sv.calls.Load(); got != tc.wantCalls || down.Load() != tc.wantDown {
				t.Fatalf("%d operations reached the primary (want %d); down %v (want %v); errors %v", got, tc.wantCalls, down.Load(), tc.wantDown, errs)
			}
			if tc.wantDown && (len(errs) != 1 || !errors.Is(errs[0], ErrSlow)) {
				t.Fatalf("errors %v, want one ErrSlow", errs)
			}
		})
	}
}

// A third review found Redis reported back (redis_up 1, "redis is back") many times a second
// while it was being skipped: an operation begun before the skip and ending during it cleared
// the down state. Only an operation of the primary in use says it is back.
func TestAnOperationEndingDuringTheSkipDoesNotEndIt(t *testing.T) {
	var ups, downs atomic.Int32
	f := Fallback(NewMemory(MemoryConfig{}), NewMemory(MemoryConfig{}), FallbackConfig{Cooldown: time.Hour, OnState: func(up bool) {
		if up {
			ups.Add(1)
		} else {
			downs.Add(1)
		}
	}}).Verdicts.(*fallback)
	begun := f.now()
	f.failed("get_verdict", errors.New("timeout")) // another operation failed: skipped for an hour
	f.ok(begun)                                    // one begun before it ends now, successfully
	if downs.Load() != 1 || ups.Load() != 0 || f.usePrimary() {
		t.Fatalf("downs %d, ups %d, primary in use %v: want it still skipped", downs.Load(), ups.Load(), f.usePrimary())
	}
}
