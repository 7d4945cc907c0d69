package store

import (
	"context"
	"errors"
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

// slowVerdicts is a primary whose reads take delay(i) for the i-th call (a Redis that answers,
// but slowly); it counts the calls that reached it.
type slowVerdicts struct {
	Verdicts
	calls atomic.Int64
	delay func(i int64) time.Duration
}

func (s *slowVerdicts) GetVerdicts(ctx context.Context, keys []string) ([]Verdict, []bool, error) {
	i := s.calls.Add(1)
	time.Sleep(s.delay(i)) // the latency of this stand-in for a slow server, not a wait for an event
	return s.Verdicts.GetVerdicts(ctx, keys)
}

// Issue 19 (left by its review): a Redis that answers every operation just under its timeout
// never failed, so its latency added up per request. SlowOps slow operations in a row count as a
// failure; a fast one in between resets the count.
func TestASlowPrimaryIsSkippedLikeAFailedOne(t *testing.T) {
	for _, tc := range []struct {
		name      string
		slow      func(i int64) bool
		wantCalls int64
		wantDown  bool
	}{
		{"every operation slow", func(int64) bool { return true }, 3, true},
		{"a fast one every third", func(i int64) bool { return i%3 != 0 }, 6, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := NewMemory(MemoryConfig{})
			sv := &slowVerdicts{Verdicts: mem.Verdicts, delay: func(i int64) time.Duration {
				if tc.slow(i) {
					return 30 * time.Millisecond
				}
				return 0
			}}
			primary := mem
			primary.Verdicts = sv
			var errs []error
			var down atomic.Bool
			s := Fallback(primary, NewMemory(MemoryConfig{}), FallbackConfig{Cooldown: time.Hour, SlowOp: 20 * time.Millisecond, SlowOps: 3,
				OnError: func(_ string, err error) { errs = append(errs, err) }, OnState: func(up bool) { down.Store(!up) }})
			for range 6 {
				if _, _, err := s.Verdicts.GetVerdicts(context.Background(), []string{"k"}); err != nil {
					t.Fatal(err)
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
