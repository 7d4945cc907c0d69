package ingress_test

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/interopgate/interopgate/internal/rpctest"

	"github.com/valyala/fasthttp"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/ingress"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// fastSentry is a minimal fasthttp JSON-RPC backend, so that pass-through figures measure the
// gateway and not a slow fake.
func fastSentry(b *testing.B) string {
	return fastServer(b, 0, `"0x10"`)
}

// fastServer is a minimal loopback peer answering result after delay (rpctest.Fast).
func fastServer(b *testing.B, delay time.Duration, result string) string {
	return rpctest.Fast(b, delay, result, nil)
}

func p50(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// BenchmarkPassThrough: an allowed read (eth_blockNumber) straight to a loopback backend and
// through the gateway to the same backend, alternating; reports both medians and the added
// latency. Target: added p50 at most 100 µs.
func BenchmarkPassThrough(b *testing.B) {
	backend := fastSentry(b)
	f := newFakes(b, 0, nil)
	// Point a second gateway at the fast backend.
	gw := f.gatewayTo(b, backend)
	client := &fasthttp.Client{MaxConnsPerHost: 4}
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`)
	do := func(url string) time.Duration {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(url)
		req.Header.SetMethod("POST")
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
		start := time.Now()
		if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
			b.Fatalf("%v %d", err, resp.StatusCode())
		}
		return time.Since(start)
	}
	var direct, via []time.Duration
	for b.Loop() {
		direct = append(direct, do(backend))
		via = append(via, do(gw.URL()))
	}
	dp, vp := p50(direct), p50(via)
	b.ReportMetric(float64(dp.Microseconds()), "direct-p50-µs")
	b.ReportMetric(float64(vp.Microseconds()), "gateway-p50-µs")
	b.ReportMetric(float64((vp - dp).Microseconds()), "added-p50-µs")
}

// gatewayTo starts another gateway whose sentry is url (the fakes' filter and chain setup).
func (f *fakes) gatewayTo(b *testing.B, url string) *ingress.Gateway {
	return gatewayWith(b, f.filter.URL, url)
}

// gatewayWith starts a gateway for chain 902 with one filter and one sentry.
func gatewayWith(b *testing.B, filterURL, sentryURL string, configure ...func(*ingress.Config)) *ingress.Gateway {
	client, _ := sc.NewClient(sc.ClientConfig{URL: filterURL, Name: "fake"})
	pool, _ := sc.NewPool([]sc.Endpoint{{Name: "fake", Checker: client}}, sc.PoolConfig{})
	deps, _ := accesslist.NewDependencySet([]uint64{901, 902}, 0)
	group, err := ingress.NewGroup(ingress.GroupConfig{Backends: []ingress.BackendConfig{{Name: "fast", URL: sentryURL}}}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg := ingress.DefaultConfig()
	cfg.ChainID = 902
	cfg.SenderRateLimit = 0
	for _, c := range configure {
		c(&cfg)
	}
	gw, err := ingress.New(cfg, ingress.Deps{Checker: pool, Dependencies: deps, Backends: group})
	if err != nil {
		b.Fatal(err)
	}
	if err := gw.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { gw.Shutdown(b.Context()) })
	return gw
}

// BenchmarkInvalidFlood sends 10,000 identical invalid interop txs, 50 at a time, and reports
// filter calls per tx. Target: at most 0.01.
func BenchmarkInvalidFlood(b *testing.B) {
	const total, workers = 10_000, 50
	for b.Loop() {
		f := newFakes(b, sc.CodeConflict, nil)
		f.filter.SetLatency(5 * time.Millisecond)
		body := sendRawBody(1, interopTx(b, 1, 0, 902, keysOf(message(3))))
		var sent atomic.Int64
		var wg sync.WaitGroup
		client := &fasthttp.Client{MaxConnsPerHost: workers}
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				for sent.Add(1) <= total {
					req.SetRequestURI(f.gw.URL())
					req.Header.SetMethod("POST")
					req.SetBodyString(body)
					if err := client.Do(req, resp); err != nil || resp.StatusCode() != 409 {
						b.Errorf("%v %d", err, resp.StatusCode())
						return
					}
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(f.filter.Calls())/total, "filter-calls/tx")
	}
}

// BenchmarkBatchOfHundred: one JSON-RPC batch of 100 distinct interop txs versus one single
// interop tx, against a filter that adds 5 ms. Target: the batch at most 2x the single check.
// The filter and the sentry are minimal fasthttp peers, so the two cores go to the gateway.
func BenchmarkBatchOfHundred(b *testing.B) {
	var filterHTTP atomic.Int64
	filterURL := fastServer(b, 5*time.Millisecond, "null")
	gw := gatewayWith(b, countingProxy(b, filterURL, &filterHTTP), fastServer(b, 0, `"0x`+strings.Repeat("ab", 32)+`"`))
	var single, many []time.Duration
	i := 0
	for b.Loop() {
		// Fresh access lists each round, so the verdict cache cannot help; signed before timing.
		b.StopTimer()
		one := sendRawBody(1, interopTx(b, 5, 0, 902, keysOf(message(5000+i))))
		batch := freshBatch(b, 100, 10_000+i*100)
		b.StartTimer()
		start := time.Now()
		st, _ := post2(b, gw.URL(), one)
		single = append(single, time.Since(start))
		start = time.Now()
		st2, _ := post2(b, gw.URL(), batch)
		many = append(many, time.Since(start))
		if st != 200 || st2 != 200 {
			b.Fatalf("status %d %d", st, st2)
		}
		i++
	}
	s, m := p50(single), p50(many)
	b.ReportMetric(float64(s.Microseconds()), "single-p50-µs")
	b.ReportMetric(float64(m.Microseconds()), "batch100-p50-µs")
	b.ReportMetric(float64(m)/float64(s), "batch/single")
	b.ReportMetric(float64(filterHTTP.Load())/float64(2*i), "filter-http/request")
}

func freshBatch(b *testing.B, n, base int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = sendRawBody(i, interopTx(b, 1+i%4, uint64(i), 902, keysOf(message(base+i))))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func post2(b *testing.B, url, body string) (int, []byte) { return rpctest.Post(b, url, body) }

func countingProxy(b *testing.B, target string, n *atomic.Int64) string {
	return rpctest.CountingProxy(b, target, n)
}

// BenchmarkConcurrentSingles: 1,000 single-tx requests with distinct access lists from 50
// concurrent clients, filter +5 ms; reports filter HTTP requests per tx (the coalescer sends
// the checks that arrive while filter calls are in flight together).
func BenchmarkConcurrentSingles(b *testing.B) {
	const total, workers = 1000, 50
	for r := 0; b.Loop(); r++ {
		b.StopTimer()
		var filterHTTP atomic.Int64
		gw := gatewayWith(b, countingProxy(b, fastServer(b, 5*time.Millisecond, "null"), &filterHTTP), fastServer(b, 0, `"0x`+strings.Repeat("ab", 32)+`"`))
		bodies := make([]string, total)
		for i := range bodies {
			bodies[i] = sendRawBody(i, interopTx(b, 1+i%8, uint64(i), 902, keysOf(message(100_000*(r+1)+i))))
		}
		b.StartTimer()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1) - 1; i < total; i = next.Add(1) - 1 {
					if st, body := post2(b, gw.URL(), bodies[i]); st != 200 {
						b.Errorf("%d %s", st, body)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(filterHTTP.Load())/total, "filter-http/tx")
	}
}
