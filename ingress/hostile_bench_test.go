package ingress_test

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/interopgate/interopgate/ingress"
)

// BenchmarkBatchBomb: a ~10 MiB body of `[{},{},…]` (3.5 million elements) posted to a gateway
// whose body limit lets it in; reports the memory allocated and the time taken to refuse it.
func BenchmarkBatchBomb(b *testing.B) {
	f := newFakes(b, 0, func(c *ingress.Config) { c.MaxBodyBytes = 11 << 20 })
	var sb strings.Builder
	sb.WriteByte('[')
	for sb.Len() < 10<<20-8 {
		sb.WriteString("{},")
	}
	sb.WriteString("{}]")
	body := []byte(sb.String())
	client := &fasthttp.Client{}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n := 0
	var total time.Duration
	for b.Loop() {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(f.gw.URL())
		req.Header.SetMethod("POST")
		req.SetBodyRaw(body)
		start := time.Now()
		if err := client.DoTimeout(req, resp, time.Minute); err != nil || resp.StatusCode() != 413 {
			b.Fatalf("%v %d", err, resp.StatusCode())
		}
		total += time.Since(start)
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
		n++
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n)/(1<<20), "MiB-alloc/bomb")
	b.ReportMetric(float64(total.Milliseconds())/float64(n), "ms/bomb")
}

// BenchmarkDuplicateFlood: 50 clients send one valid interop tx over and over, against the same
// clients sending an allowed read (eth_blockNumber) through the same gateway to the same fast
// sentry, in one run; reports both rates and their ratio. A repeat of a forwarded tx needs no
// filter call and no sentry round trip, so it should beat plain pass-through.
func BenchmarkDuplicateFlood(b *testing.B) {
	const total, workers = 5000, 50
	hash := `"0x` + strings.Repeat("ab", 32) + `"`
	gw := gatewayWith(b, fastServer(b, 0, "null"), fastServer(b, 0, hash))
	dup := sendRawBody(1, interopTx(b, 1, 0, 902, keysOf(message(7))))
	read := `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`
	flood := func(body string) float64 {
		client := &fasthttp.Client{MaxConnsPerHost: workers}
		var sent atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				for sent.Add(1) <= total {
					req.SetRequestURI(gw.URL())
					req.Header.SetMethod("POST")
					req.SetBodyString(body)
					if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
						b.Errorf("%v %d %s", err, resp.StatusCode(), resp.Body())
						return
					}
				}
			}()
		}
		wg.Wait()
		return total / time.Since(start).Seconds()
	}
	var dups, reads []float64
	for b.Loop() {
		reads = append(reads, flood(read))
		dups = append(dups, flood(dup))
	}
	r, d := median(reads), median(dups)
	b.ReportMetric(r, "passthrough-req/s")
	b.ReportMetric(d, "duplicate-req/s")
	b.ReportMetric(d/r, "duplicate/passthrough")
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}
