package ingress_test

// Issue 19: gateway replicas under load on a Redis whose master is killed -9 (Cluster 3+3,
// Sentinel with one replica and three sentinels) or stopped (one server): no request fails, no
// request waits on Redis past redis.timeout, the replicas are back on Redis within 3 s of the
// promotion, and every queued tx ends forwarded on every replica.

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"go.uber.org/zap/zaptest"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/ingress"
	"github.com/interopgate/interopgate/internal/redistest"
	"github.com/interopgate/interopgate/internal/rpctest"
	"github.com/interopgate/interopgate/store"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

func TestRedisClusterFailoverUnderLoad(t *testing.T) {
	c := redistest.StartClusterWithReplicas(t, 3)
	redisFailoverUnderLoad(t, store.RedisConfig{Addrs: c.Addrs(), Mode: store.ModeCluster}, c.KillMaster)
}

func TestRedisSentinelFailoverUnderLoad(t *testing.T) {
	s := redistest.StartSentinel(t)
	redisFailoverUnderLoad(t, store.RedisConfig{Addrs: s.Addrs(), MasterName: s.Name, Mode: store.ModeSentinel}, s.KillMaster)
}

func TestRedisStopUnderLoad(t *testing.T) {
	s := redistest.Start(t)
	redisFailoverUnderLoad(t, store.RedisConfig{URL: s.URL}, func() func() bool {
		s.Stop()
		stopped := time.Now()
		return func() bool { // back after a 2 s outage: the "promotion" of a single server
			if time.Since(stopped) < 2*time.Second {
				return false
			}
			s.Restart()
			return true
		}
	})
}

// borderlineFirst is a filter that answers each distinct check "not yet" (future data) the
// first time and valid after: every tx is queued, then forwarded by a queue worker.
func borderlineFirst() rpctest.Handler {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(method string, params json.RawMessage) (any, *rpctest.Error) {
		if method == "admin_getFailsafeEnabled" {
			return false, nil
		}
		// Keyed by the inbox entries (the first param): the executing timestamp moves.
		var ps []json.RawMessage
		_ = json.Unmarshal(params, &ps)
		key := string(params)
		if len(ps) > 0 {
			key = string(ps[0])
		}
		mu.Lock()
		defer mu.Unlock()
		if !seen[key] {
			seen[key] = true
			return nil, &rpctest.Error{Code: sc.CodeFuture, Message: "future data"}
		}
		return nil, nil
	}
}

// redisReplica is one gateway on the deployment, with what its Redis client saw.
type redisReplica struct {
	gw       *ingress.Gateway
	lastFail atomic.Int64 // unix nanos of its last failed Redis operation
	lastErr  atomic.Value // its error text
	maxOp    atomic.Int64 // the longest Redis operation, ns
}

func redisFailoverUnderLoad(t *testing.T, rc store.RedisConfig, kill func() (promoted func() bool)) {
	const timeout = 250 * time.Millisecond
	sentry := rpctest.New(t, sentryHandler)
	filter := rpctest.New(t, borderlineFirst())
	sentry.KeepBodies(false)
	filter.KeepBodies(false)
	deps, _ := accesslist.NewDependencySet([]uint64{901, 902}, 0)
	replicas := make([]*redisReplica, 2)
	for i := range replicas {
		r := &redisReplica{}
		cfg := rc
		cfg.Timeout = timeout
		cfg.OnOp = func(d time.Duration, err error) {
			for { // the maximum so far
				m := r.maxOp.Load()
				if int64(d) <= m || r.maxOp.CompareAndSwap(m, int64(d)) {
					break
				}
			}
			if err != nil {
				r.lastFail.Store(time.Now().UnixNano())
				r.lastErr.Store(err.Error())
			}
		}
		primary, err := store.NewRedis(cfg)
		if err != nil {
			t.Fatal(err)
		}
		st := store.Fallback(primary, store.NewMemory(store.MemoryConfig{}), store.FallbackConfig{})
		client, _ := sc.NewClient(sc.ClientConfig{URL: filter.URL, Name: "fake"})
		pool, _ := sc.NewPool([]sc.Endpoint{{Name: "fake", Checker: client}}, sc.PoolConfig{})
		group, err := ingress.NewGroup(ingress.GroupConfig{Backends: []ingress.BackendConfig{{Name: "s", URL: sentry.URL}}, Timeout: time.Second}, zaptest.NewLogger(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		gc := ingress.DefaultConfig()
		gc.ChainID = 902
		gc.SenderRateLimit = 0
		gc.AsyncRetry = true
		gc.RetryDelay = d(200 * time.Millisecond)
		gc.QueuePoll = d(20 * time.Millisecond)
		gc.QueueLease = d(3 * time.Second)
		gc.FilterTimeout = d(time.Second)
		gc.IPRateLimit = 0
		r.gw, err = ingress.New(gc, ingress.Deps{Checker: pool, Dependencies: deps, Backends: group, Stores: &st, Log: zaptest.NewLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.gw.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.gw.Shutdown(context.Background()) })
		replicas[i] = r
	}

	// Load: 100 requests a second across the replicas, half reads, half unique interop txs.
	var (
		mu       sync.Mutex
		failures []string
		hashes   []common.Hash
		n        atomic.Int64
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(40 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				i := int(n.Add(1))
				gw := replicas[i%2].gw
				body := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`
				var tx common.Hash
				if i%4 >= 2 {
					signed := interopTx(t, 1+w, uint64(i), 902, keysOf(message(50_000+i)))
					tx, body = signed.Hash(), sendRawBody(1, signed)
				}
				status, answer := postTB(gw.URL(), body)
				var r rpcReply
				if err := json.Unmarshal(answer, &r); status != 200 || err != nil || r.Error != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%d %s", status, answer))
					mu.Unlock()
					continue
				}
				if tx != (common.Hash{}) {
					mu.Lock()
					hashes = append(hashes, tx)
					mu.Unlock()
				}
			}
		}()
	}
	rpctest.WaitFor(t, "load under way", 10*time.Second, func() bool { return n.Load() >= 100 })
	killed := time.Now()
	promoted := kill()
	rpctest.WaitFor(t, "the promotion", 60*time.Second, promoted)
	promotedAt := time.Now()
	rpctest.WaitFor(t, "4 s of load after the promotion", 10*time.Second, func() bool { return time.Since(promotedAt) > 4*time.Second })
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d requests (%d txs); promotion %s after the kill", n.Load(), len(hashes), promotedAt.Sub(killed).Round(time.Millisecond))
	for i, r := range replicas {
		last := time.Unix(0, r.lastFail.Load())
		t.Logf("replica %d: longest Redis operation %s; last failed one %s after the promotion (%v)", i,
			time.Duration(r.maxOp.Load()).Round(time.Millisecond), last.Sub(promotedAt).Round(time.Millisecond), r.lastErr.Load())
		if r.lastFail.Load() == 0 {
			t.Errorf("replica %d never saw Redis fail: the test did not exercise the failover", i)
		}
		if last.Sub(promotedAt) > 3*time.Second {
			t.Errorf("replica %d still failing on Redis %s after the promotion", i, last.Sub(promotedAt))
		}
		// The deadline is exact; the margin is the scheduler's under the race detector.
		if op := time.Duration(r.maxOp.Load()); op > timeout+150*time.Millisecond {
			t.Errorf("replica %d waited %s on one Redis operation (redis.timeout %s)", i, op, timeout)
		}
	}
	if len(failures) > 0 {
		t.Errorf("%d requests failed, first: %s", len(failures), failures[0])
	}
	// Every tx ends forwarded, read through each replica.
	deadline := time.Now().Add(30 * time.Second)
	for _, h := range hashes {
		for i, r := range replicas {
			for {
				st := readStatusTB(r.gw.URL(), h)
				if st.State == ingress.StateForwarded {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("tx %s is %+v as replica %d reads it, want forwarded", h.Hex(), st, i)
				}
				time.Sleep(20 * time.Millisecond) // polling the status against a deadline
			}
		}
	}
}

// postTB posts body from any goroutine: a transport failure is status 0 with its text.
func postTB(url, body string) (int, []byte) {
	status, answer, err := rpctest.PostErr(url, body, nil)
	if err != nil {
		return 0, []byte(err.Error())
	}
	return status, answer
}

// readStatusTB reads a tx's status through url (zero on any failure).
func readStatusTB(url string, h common.Hash) store.Status {
	_, body := postTB(url, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"interopgate_getTransactionStatus","params":["%s"]}`, h.Hex()))
	var r struct{ Result store.Status }
	_ = json.Unmarshal(body, &r)
	return r.Result
}
