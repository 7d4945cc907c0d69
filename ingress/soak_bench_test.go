package ingress_test

import (
	"bytes"
	"math/big"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/valyala/fasthttp"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/ingress"
)

// BenchmarkSoak (issue 19): unique interop txs, each from a new sender and with its own access
// list, through a gateway at its default bounds until every bounded cache is full and beyond
// (verdicts, forwarded hashes, statuses and sender states: 100,000 each; the feed: 10,000), with
// the heap after a collection and the resident memory every 25,000 txs: where memory levels
// off. Filter and sentry are in-process fakes that keep nothing.
//
//	go test -run '^$' -bench Soak -benchtime 1x -v ./ingress   (SOAK_TXS=n to change the count)
func BenchmarkSoak(b *testing.B) {
	total := 250_000
	if n, err := strconv.Atoi(os.Getenv("SOAK_TXS")); err == nil && n > 0 {
		total = n
	}
	const step = 25_000
	gw := gatewayWith(b, fastServer(b, 0, "null"), fundedSentry(b), func(c *ingress.Config) { c.IPRateLimit = 0 })
	signer := types.LatestSignerForChainID(big.NewInt(902))
	to := accesslist.CrossL2InboxAddress
	for b.Loop() {
		var sent, failed atomic.Int64
		var wg sync.WaitGroup
		next := make(chan int)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &fasthttp.Client{}
				for i := range next {
					key, _ := crypto.GenerateKey()
					tx, err := types.SignNewTx(key, signer, &types.DynamicFeeTx{ChainID: big.NewInt(902), Nonce: 0, GasTipCap: big.NewInt(1),
						GasFeeCap: big.NewInt(1e9), Gas: 100_000, To: &to,
						AccessList: types.AccessList{{Address: to, StorageKeys: keysOf(message(2_000_000 + i))}}})
					if err != nil {
						failed.Add(1)
						continue
					}
					req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
					req.SetRequestURI(gw.URL())
					req.Header.SetMethod(fasthttp.MethodPost)
					req.Header.SetContentType("application/json")
					req.SetBodyString(sendRawBody(1, tx))
					if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 || bytes.Contains(resp.Body(), []byte(`"error"`)) {
						failed.Add(1)
					}
					fasthttp.ReleaseRequest(req)
					fasthttp.ReleaseResponse(resp)
					sent.Add(1)
				}
			}()
		}
		b.Logf("%9s %10s %10s", "txs", "heap MiB", "RSS MiB")
		sample := func(n int) (heap, rss float64) {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			heap, rss = float64(ms.HeapInuse)/(1<<20), residentMiB(b)
			b.Logf("%9d %10.1f %10.1f", n, heap, rss)
			return heap, rss
		}
		sample(0)
		var heapAtFull, heap, rss float64
		for i := range total {
			next <- i
			if n := i + 1; n%step == 0 {
				heap, rss = sample(n)
				if n == 100_000 {
					heapAtFull = heap
				}
			}
		}
		close(next)
		wg.Wait()
		if f := failed.Load(); f > 0 {
			b.Fatalf("%d of %d txs not accepted", f, sent.Load())
		}
		b.ReportMetric(heapAtFull, "heap-MiB-at-100k")
		b.ReportMetric(heap, "heap-MiB-at-end")
		b.ReportMetric(rss, "rss-MiB-at-end")
	}
}

// residentMiB is the process's resident memory (VmRSS), in MiB.
func residentMiB(b *testing.B) float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
