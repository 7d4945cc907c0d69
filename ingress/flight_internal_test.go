package ingress

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/internal/config"
	"github.com/interopgate/interopgate/internal/rpctest"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// A review found that the copies of a tx joining a check in flight (single flight) took the
// leader's end as their verdict: a leader whose deadline came first made them all "filters
// unavailable", however much time they had. The flight's call has its own deadline: the leader
// leaves at its own, the follower gets the filter's answer.
func TestAFollowerDoesNotInheritItsLeadersDeadline(t *testing.T) {
	release := make(chan struct{})
	var asked atomic.Int64
	filter := rpctest.New(t, func(method string, _ json.RawMessage) (any, *rpctest.Error) {
		if method == "admin_getFailsafeEnabled" {
			return false, nil
		}
		asked.Add(1)
		<-release
		return nil, nil // valid
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	client, err := sc.NewClient(sc.ClientConfig{URL: filter.URL, Name: "f", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := sc.NewPool([]sc.Endpoint{{Name: "f", Checker: client}}, sc.PoolConfig{})
	deps, _ := accesslist.NewDependencySet([]uint64{901, 902}, 0)
	group, _ := NewGroup(GroupConfig{Backends: []BackendConfig{{Name: "s", URL: "http://127.0.0.1:1"}}}, nil, nil)
	cfg := DefaultConfig()
	cfg.ChainID, cfg.SenderStateCheck, cfg.FilterTimeout = 902, false, config.Duration(10*time.Second)
	g, err := New(cfg, Deps{Checker: pool, Dependencies: deps, Backends: group})
	if err != nil {
		t.Fatal(err)
	}

	raw := rawInteropTx(1)
	leader, follower := g.judge.prepare(raw), g.judge.prepare(raw)
	if leader.decided || follower.decided || leader.key != follower.key {
		t.Fatalf("prepare: %+v %+v", leader.err, follower.err)
	}

	// The leader has less time than a filter call; the follower has plenty.
	lctx, lcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer lcancel()
	leaderDone := make(chan struct{})
	go func() { g.judge.decide(lctx, []*txItem{leader}); close(leaderDone) }()
	rpctest.WaitFor(t, "the leader's check to reach the filter", 10*time.Second, func() bool { return asked.Load() == 1 })
	followerDone := make(chan struct{})
	go func() { g.judge.decide(context.Background(), []*txItem{follower}); close(followerDone) }()
	rpctest.WaitFor(t, "the follower to join the flight", 10*time.Second, func() bool {
		g.judge.flights.mu.Lock()
		defer g.judge.flights.mu.Unlock()
		f := g.judge.flights.m[leader.key]
		return f != nil && f.joined == 1
	})
	<-leaderDone // at its deadline
	if leader.verdict.Class != sc.ClassUnavailable {
		t.Fatalf("the leader got %v, want unavailable at its deadline", leader.verdict)
	}
	close(release)
	<-followerDone
	if follower.verdict.Class != sc.ClassValid {
		t.Fatalf("the follower got %v, want the filter's valid (it had time for it)", follower.verdict)
	}
	if asked.Load() != 1 {
		t.Fatalf("the filter was asked %d times, want once", asked.Load())
	}
}
