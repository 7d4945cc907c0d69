package ingress_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/interopgate/interopgate/ingress"
	"github.com/interopgate/interopgate/internal/rpctest"
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
// interop tx (its own access list: no cache can help), filter and sentry answering at once, with
// sender_state_check on (the default: one ecrecover per tx) and off. The fakes and the client run
// in this process too, so both figures include a loopback peer's share; the ratio is the figure
// to watch (target: at most 3×).
func BenchmarkCPUPerRequest(b *testing.B) {
	for _, check := range []bool{true, false} {
		b.Run(fmt.Sprintf("sender_state_check=%v", check), func(b *testing.B) { cpuPerRequest(b, check) })
	}
}

func cpuPerRequest(b *testing.B, senderCheck bool) {
	const n = 2000
	gw := gatewayWith(b, fastServer(b, 0, "null"), fundedSentry(b), func(c *ingress.Config) { c.SenderStateCheck = senderCheck })
	client := &fasthttp.Client{MaxConnsPerHost: 4}
	do := func(body []byte) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(gw.URL())
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
		if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 || bytes.Contains(resp.Body(), []byte(`"error"`)) {
			b.Fatalf("not the accepted path: %v %d %s", err, resp.StatusCode(), resp.Body())
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

// fundedSentry is a fast sentry that answers as a funded sender's node would: the default
// sender_state_check reads a balance and a nonce for each new sender, and every tx must pass it
// to reach the filter.
func fundedSentry(b *testing.B) string {
	return rpctest.FastBy(b, 0, func(method string) string {
		switch method {
		case "eth_getBalance":
			return `"0xffffffffffffffffffffffff"`
		case "eth_getTransactionCount":
			return `"0x0"`
		}
		return `"0xab"`
	}, nil)
}

// BenchmarkSenderCheck (issue 17): what reading the sender's balance and nonce adds to a unique
// interop tx: CPU with the check off and on (sentry answering batches, in one run), and the
// latency of a tx whose sender is new (cold: one batched state read) against one whose sender
// was read within sender_state_ttl (warm).
func BenchmarkSenderCheck(b *testing.B) {
	const n = 1000
	sentry := rpctest.New(b, func(method string, _ json.RawMessage) (any, *rpctest.Error) {
		switch method {
		case "eth_getBalance":
			return "0xde0b6b3a7640000", nil
		case "eth_getTransactionCount":
			return "0x0", nil
		}
		return "0x" + strings.Repeat("ab", 32), nil
	})
	sentry.KeepBodies(false)
	filter := fastServer(b, 0, "null")
	gateway := func(check bool) *ingress.Gateway {
		// The per-sender limit on (as by default) but never reached: both pay its ecrecover,
		// which the sender check shares.
		return gatewayWith(b, filter, sentry.URL, func(c *ingress.Config) {
			c.SenderRateLimit, c.SenderStateCheck = 1_000_000_000, check
		})
	}
	off, on := gateway(false), gateway(true)
	round := 0
	for b.Loop() {
		b.StopTimer()
		mk := func(base int, fresh bool) [][]byte {
			txs := make([][]byte, n)
			for i := range txs {
				acct := 1 + i%8
				if fresh {
					acct = 100 + base + i // a new sender each time: the cache is cold
				}
				txs[i] = []byte(sendRawBody(i, interopTx(b, acct, uint64(i), 902, keysOf(message(base+i)))))
			}
			return txs
		}
		base := 3_000_000 * (round + 1)
		round++
		offTxs, onTxs, cold := mk(base, false), mk(base+n, false), mk(base+2*n, true)
		b.StartTimer()
		cpu := func(gw *ingress.Gateway, txs [][]byte) (time.Duration, time.Duration) {
			var lat []time.Duration
			c0 := cpuTime(b)
			for _, tx := range txs {
				start := time.Now()
				if st, body := post2(b, gw.URL(), string(tx)); st != 200 || strings.Contains(string(body), "error") {
					b.Fatalf("%d %s", st, body)
				}
				lat = append(lat, time.Since(start))
			}
			return (cpuTime(b) - c0) / time.Duration(len(txs)), p50(lat)
		}
		offCPU, offLat := cpu(off, offTxs)
		onCPU, warmLat := cpu(on, onTxs)
		_, coldLat := cpu(on, cold)
		b.ReportMetric(float64(offCPU.Microseconds()), "off-cpu-µs")
		b.ReportMetric(float64(onCPU.Microseconds()), "on-cpu-µs")
		b.ReportMetric(float64(offLat.Microseconds()), "off-p50-µs")
		b.ReportMetric(float64(warmLat.Microseconds()), "warm-p50-µs")
		b.ReportMetric(float64(coldLat.Microseconds()), "cold-p50-µs")
	}
}
