package revalidator

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/valyala/fasthttp"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/filterapi"
	"github.com/interopgate/interopgate/internal/rpctest"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// benchRevalidator is a revalidator over upstream with no node behind it (the benchmarks fill
// its tables themselves).
func benchRevalidator(b *testing.B, upstream sc.Checker, mutate func(*Config)) *Revalidator {
	deps, _ := accesslist.NewDependencySet([]uint64{901, 902}, 0)
	cfg := DefaultConfig()
	cfg.ChainID = 902
	if mutate != nil {
		mutate(&cfg)
	}
	r, err := New(context.Background(), cfg, Deps{Upstream: upstream, Dependencies: deps, NodeURL: "http://127.0.0.1:1"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.Close)
	return r
}

// noUpstream is a pool with no filter: every check it is asked is unavailable.
func noUpstream(b *testing.B) sc.Checker {
	p, err := sc.NewPool(nil, sc.PoolConfig{})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// benchMessage is a distinct message from chain 901, a minute old.
func benchMessage(i int) accesslist.Message {
	m := accesslist.Message{BlockNumber: uint64(1000 + i), Timestamp: uint64(time.Now().Unix() - 60), LogIndex: uint32(i % 7)}
	m.ChainID.SetUint64(901)
	m.Checksum = common.Hash{accesslist.PrefixChecksum, byte(i), byte(i >> 8), byte(i >> 16)}
	return m
}

// fillPool tracks n interop txs over n/4 senders, each naming a distinct message.
func fillPool(r *Revalidator, n int) []*tracked {
	var out []*tracked
	r.txs.mu.Lock()
	defer r.txs.mu.Unlock()
	for i := range n {
		m := benchMessage(i)
		t := &tracked{hash: common.BigToHash(big.NewInt(int64(i + 1))), sender: common.BigToAddress(big.NewInt(int64(i/4 + 1))),
			nonce: uint64(i % 4), tip: 1e9 + uint64(i%1000)*1e6, feeCap: 3e9, gas: 60_000, firstSeen: time.Now()}
		t.setKeys(accesslist.EncodeMessages([]accesslist.Message{m}))
		r.txs.add(t)
		out = append(out, t)
	}
	return out
}

// BenchmarkTableHitOverHTTP: interop_checkAccessList for a known message, over loopback HTTP,
// answered from memory. Target: p99 at most 50 µs.
func BenchmarkTableHitOverHTTP(b *testing.B) {
	r := benchRevalidator(b, noUpstream(b), nil)
	m := benchMessage(1)
	r.msgs.set([]accesslist.Message{m}, []msgVerdict{{valid: true, until: time.Now().Add(time.Hour), checked: time.Now()}}, time.Now())
	srv, err := NewServer(r, filterapi.Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(context.Background()) })
	keys := accesslist.EncodeMessages([]accesslist.Message{m})
	body := []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"supervisor_checkAccessList","params":[["%s","%s"],"cross-unsafe",{"chainID":"902","timestamp":"0x%x","timeout":"0x15180"}]}`,
		keys[0].Hex(), keys[1].Hex(), time.Now().Unix()+2))
	// The floor: a fasthttp server that answers the same bytes without reading the request,
	// asked alternately with the revalidator in the same run.
	floor := rpctest.Fast(b, 0, "null", nil)
	client := &fasthttp.Client{}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.Header.SetMethod("POST")
	req.Header.SetContentType("application/json")
	ask := func(url string) time.Duration {
		req.SetRequestURI(url)
		req.SetBodyRaw(body)
		start := time.Now()
		if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var lat, base []time.Duration
	for b.Loop() {
		lat = append(lat, ask(srv.URL()))
		if string(resp.Body()) != `{"jsonrpc":"2.0","id":1,"result":null}` {
			b.Fatalf("%s", resp.Body())
		}
		base = append(base, ask(floor))
	}
	pct := func(ds []time.Duration, p int) float64 {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return float64(ds[len(ds)*p/100].Microseconds())
	}
	b.ReportMetric(pct(lat, 50), "p50-µs")
	b.ReportMetric(pct(lat, 99), "p99-µs")
	b.ReportMetric(pct(base, 50), "floor-p50-µs")
	b.ReportMetric(pct(base, 99), "floor-p99-µs")
	if r.Stats().Misses != 0 {
		b.Fatalf("%d misses", r.Stats().Misses)
	}
}

// BenchmarkPlanFromPool: the presumed next block (30M gas) from 10,000 tracked txs, as a cycle
// does it (the table's per-sender lists to batching.Plan). Target: at most 5 ms.
func BenchmarkPlanFromPool(b *testing.B) {
	r := benchRevalidator(b, noUpstream(b), nil)
	fillPool(r, 10_000)
	n := 0
	for b.Loop() {
		n = len(r.txs.plan(1e9, 30_000_000, 0))
	}
	b.ReportMetric(float64(n), "txs/block")
}

// BenchmarkRevalidateTenThousand: 10,000 tracked interop txs (distinct messages) revalidated
// against a filter that adds 5 ms per HTTP request, as one cycle (batches of 1,000, concurrent)
// and as op-reth does it (one call per tx, ten in flight); round trips and wall time of each.
// Target: at most 20 round trips and 100 ms, against ~5 s.
func BenchmarkRevalidateTenThousand(b *testing.B) {
	const n = 10_000
	var requests atomic.Int64
	url := rpctest.Fast(b, 5*time.Millisecond, "null", &requests)
	client, err := sc.NewClient(sc.ClientConfig{URL: url, MaxBatchSize: 1000, Timeout: 30 * time.Second, MaxResponseBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	r := benchRevalidator(b, client, func(c *Config) { c.MaxCycleChecks = n; c.CycleTimeout = 30 * 1e9 })
	txs := fillPool(r, n)
	h := head{Time: hexutil.Uint64(time.Now().Unix()), GasLimit: 30_000_000, BaseFee: (*hexutil.Big)(big.NewInt(1e9))}
	count := requests.Load
	var cycleWall, perTxWall time.Duration
	var cycleRT, perTxRT int64
	for b.Loop() {
		r.msgs.clear()
		before := count()
		start := time.Now()
		r.revalidate(context.Background(), h)
		cycleWall, cycleRT = time.Since(start), count()-before
		if s := r.Stats(); s.CycleChecks < n {
			b.Fatalf("the cycle checked %d messages", s.CycleChecks)
		}

		// op-reth's way: one check per tx, ten at a time.
		before = count()
		start = time.Now()
		sem := make(chan struct{}, 10)
		var wg sync.WaitGroup
		exec := r.Next()
		for _, t := range txs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				client.CheckAccessList(context.Background(), sc.Request{InboxKeys: t.keys, MinSafety: sc.SafetyCrossUnsafe, Executing: exec})
			}()
		}
		wg.Wait()
		perTxWall, perTxRT = time.Since(start), count()-before
	}
	b.ReportMetric(float64(cycleRT), "cycle-round-trips")
	b.ReportMetric(float64(cycleWall.Milliseconds()), "cycle-ms")
	b.ReportMetric(float64(perTxRT), "per-tx-round-trips")
	b.ReportMetric(float64(perTxWall.Milliseconds()), "per-tx-ms")
}
