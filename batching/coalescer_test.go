package batching

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// upstream doubles each request and records the size of each batch it receives.
type upstream struct {
	mu      sync.Mutex
	sizes   []int
	release chan struct{} // when set, each call waits for a value
}

func (u *upstream) call(ctx context.Context, reqs []int) []int {
	if u.release != nil {
		select { // an HTTP upstream ends its call with its context
		case <-u.release:
		case <-ctx.Done():
			return nil
		}
	}
	u.mu.Lock()
	u.sizes = append(u.sizes, len(reqs))
	u.mu.Unlock()
	out := make([]int, len(reqs))
	for i, r := range reqs {
		out[i] = 2 * r
	}
	return out
}

func TestIdleCallGoesAtOnce(t *testing.T) {
	u := &upstream{}
	c := New(Config{}, u.call, nil)
	got, err := c.Do(context.Background(), []int{1, 2, 3})
	if err != nil || len(got) != 3 || got[0] != 2 || got[2] != 6 {
		t.Fatalf("%v %v", got, err)
	}
	if s := c.Stats(); s.Batches != 1 || s.Requests != 3 {
		t.Fatalf("%+v", s)
	}
}

func TestCallsArrivingDuringAFlightLeaveTogether(t *testing.T) {
	u := &upstream{release: make(chan struct{})}
	c := New(Config{MaxInFlight: 1, MaxBatch: 100}, u.call, nil)
	var wg sync.WaitGroup
	results := make([][]int, 21)
	do := func(i int) {
		defer wg.Done()
		r, err := c.Do(context.Background(), []int{i})
		if err != nil {
			t.Error(err)
		}
		results[i] = r
	}
	wg.Add(1)
	go do(0) // takes the only slot and blocks in the upstream
	waitUntil(t, func() bool { return c.Stats().Batches == 1 })
	for i := 1; i <= 20; i++ {
		wg.Add(1)
		go do(i)
	}
	waitUntil(t, func() bool { return c.Stats().Calls == 21 })
	close(u.release) // let every call through
	wg.Wait()
	for i, r := range results {
		if len(r) != 1 || r[0] != 2*i {
			t.Fatalf("caller %d got %v", i, r)
		}
	}
	if len(u.sizes) != 2 || u.sizes[0] != 1 || u.sizes[1] != 20 {
		t.Fatalf("batch sizes %v, want [1 20]", u.sizes)
	}
}

func TestMaxBatchSplits(t *testing.T) {
	u := &upstream{release: make(chan struct{})}
	c := New(Config{MaxInFlight: 1, MaxBatch: 5}, u.call, nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.Do(context.Background(), []int{0}) }()
	waitUntil(t, func() bool { return c.Stats().Batches == 1 })
	for i := range 12 {
		wg.Add(1)
		go func() { defer wg.Done(); c.Do(context.Background(), []int{i}) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); c.Do(context.Background(), make([]int, 9)) }() // larger than a batch: goes alone
	waitUntil(t, func() bool { return c.Stats().Calls == 14 })
	close(u.release)
	wg.Wait()
	total := 0
	for _, s := range u.sizes {
		if s > 5 && s != 9 {
			t.Fatalf("batch of %d over the limit of 5 (%v)", s, u.sizes)
		}
		total += s
	}
	if total != 1+12+9 {
		t.Fatalf("sizes %v", u.sizes)
	}
}

func TestCallerContextEnds(t *testing.T) {
	u := &upstream{release: make(chan struct{})}
	c := New(Config{MaxInFlight: 1}, u.call, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.Do(ctx, []int{1}); done <- err }()
	waitUntil(t, func() bool { return c.Stats().Batches == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	close(u.release) // the batch still completes; nothing leaks or blocks
	if got, err := c.Do(context.Background(), []int{4}); err != nil || got[0] != 8 {
		t.Fatalf("after: %v %v", got, err)
	}
}

func TestConcurrentLoadUsesFewBatches(t *testing.T) {
	var calls atomic.Int64
	slow := func(_ context.Context, reqs []int) []int {
		calls.Add(1)
		time.Sleep(2 * time.Millisecond) // the upstream's latency
		return make([]int, len(reqs))
	}
	c := New(Config{MaxInFlight: 2, MaxBatch: 100}, slow, nil)
	var wg sync.WaitGroup
	for range 500 {
		wg.Add(1)
		go func() { defer wg.Done(); c.Do(context.Background(), []int{1}) }()
	}
	wg.Wait()
	if n := calls.Load(); n >= 500/2 {
		t.Fatalf("500 concurrent calls took %d upstream batches", n)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(time.Millisecond) // polling against a deadline
	}
}

// An upstream that answers fewer results than requests must not crash the caller: the missing
// ones are the zero value (for verdicts: unavailable).
func TestShortAnswerIsPaddedNotAPanic(t *testing.T) {
	c := New(Config{}, func(_ context.Context, reqs []int) []int { return []int{7} }, nil)
	got, err := c.Do(context.Background(), []int{1, 2, 3})
	if err != nil || len(got) != 3 || got[0] != 7 || got[1] != 0 || got[2] != 0 {
		t.Fatalf("%v %v", got, err)
	}
}

// A caller that gave up before its requests were sent is not sent.
func TestAbandonedCallIsNotSent(t *testing.T) {
	u := &upstream{release: make(chan struct{})}
	c := New(Config{MaxInFlight: 1}, u.call, nil)
	first := make(chan struct{})
	go func() {
		c.Do(context.Background(), []int{1})
		close(first)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Batches == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first call was never sent")
		}
		time.Sleep(time.Millisecond) // polling the counter against a deadline
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Do(ctx, []int{2, 3}); !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned call: %v", err)
	}
	u.release <- struct{}{}
	<-first
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.sizes) != 1 {
		t.Fatalf("upstream batches %v: the abandoned requests were sent", u.sizes)
	}
}

// Callers beyond MaxPending requests are refused at once rather than queued without bound.
func TestPendingIsBounded(t *testing.T) {
	u := &upstream{release: make(chan struct{})}
	c := New(Config{MaxInFlight: 1, MaxPending: 2}, u.call, nil)
	go c.Do(context.Background(), []int{1})
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Batches == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first call was never sent")
		}
		time.Sleep(time.Millisecond) // polling the counter against a deadline
	}
	go c.Do(context.Background(), []int{2, 3})
	for c.Stats().Calls < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the second call never arrived")
		}
		time.Sleep(time.Millisecond) // polling the counter against a deadline
	}
	if _, err := c.Do(context.Background(), []int{4}); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("third call over MaxPending: %v", err)
	}
	close(u.release)
}

// A caller with less time than a call may take is not called on its own goroutine: it leaves
// at its deadline even when the upstream ignores its context (found by a review: it outlived
// its request's deadline by the call's).
func TestACallerWithLessTimeThanACallLeavesAtItsDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	deaf := func(_ context.Context, reqs []int) []int { <-release; return reqs }
	c := New(Config{MaxInFlight: 1, CallTimeout: time.Hour}, deaf, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Do(ctx, []int{1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the caller's deadline", err)
	}
}
