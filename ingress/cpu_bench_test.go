package ingress_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCPUPerRequest (issue 16): the CPU one request costs, a proxied read against a unique
// interop tx (its own access list: no cache can help), filter and sentry answering at once.
// The fakes and the client run in this process too, so both figures include a loopback peer's
// share; the ratio is the figure to watch (target: at most 3×).
func BenchmarkCPUPerRequest(b *testing.B) {
	const n = 2000
	gw := gatewayWith(b, fastServer(b, 0, "null"), fastServer(b, 0, `"0x`+"ab"+`"`))
	client := &fasthttp.Client{MaxConnsPerHost: 4}
	do := func(body []byte) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(gw.URL())
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
		if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
			b.Fatalf("%v %d %s", err, resp.StatusCode(), resp.Body())
		}
	}
	read := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`)
	round := 0
	for b.Loop() {
		b.StopTimer()
		txs := make([][]byte, n)
		for i := range txs {
			txs[i] = []byte(sendRawBody(i, interopTx(b, 1+i%8, uint64(i), 902, keysOf(message(1_000_000*(round+1)+i)))))
		}
		round++
		b.StartTimer()
		c0 := cpuTime(b)
		for range n {
			do(read)
		}
		c1 := cpuTime(b)
		for i := range n {
			do(txs[i])
		}
		c2 := cpuTime(b)
		readCPU, txCPU := (c1-c0)/n, (c2-c1)/n
		b.ReportMetric(float64(readCPU.Microseconds()), "read-cpu-µs")
		b.ReportMetric(float64(txCPU.Microseconds()), "interop-tx-cpu-µs")
		b.ReportMetric(float64(txCPU)/float64(readCPU), "tx/read")
	}
}
