package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/interopgate/interopgate/internal/rpctest"
)

// BenchmarkUnreadClientsResidentMemory runs the gateway binary at its defaults in a child process
// and attacks it as issue 19 did: 1,000 connections from four addresses, each sending one batch
// of 100 eth_getBlockByNumber calls and never reading the answer. It reports how much the
// child's resident memory grew: at its peak (VmHWM, the burst of 1,000 requests at once) and
// 5 s later, with every connection still open (VmRSS). The answer size is
// INTEROPGATE_BENCH_RESULT_BYTES per call (default 1,700: a ≈178 KB batch); GOMEMLIMIT, when
// set, reaches the child as it would a deployed gateway.
//
//	go test -run '^$' -bench UnreadClients -benchtime 1x ./cmd/interopgate
func BenchmarkUnreadClientsResidentMemory(b *testing.B) {
	const conns, calls = 1000, 100
	size := 1700
	if v, err := strconv.Atoi(os.Getenv("INTEROPGATE_BENCH_RESULT_BYTES")); err == nil {
		size = v
	}
	answer := rpctest.BlockBatchAnswer(calls, size)
	var batches atomic.Int64 // the attack's requests that reached the sentry (health checks are single calls)
	sentry := rpctest.NewRaw(b, func(body []byte) []byte {
		if bytes.HasPrefix(body, []byte("[")) {
			batches.Add(1)
		}
		return answer
	})
	sentry.KeepBodies(false)
	filter := rpctest.New(b, func(string, json.RawMessage) (any, *rpctest.Error) { return false, nil })
	cfg := writeFile(b, "gateway.toml", fmt.Sprintf(`
[rpc]
addr = "127.0.0.1"
port = 0
[gateway]
chain_id = 902
[[sentries.backends]]
name = "s"
url = %q
[[filters.endpoints]]
name = "f"
url = %q
[interop]
chains = [901, 902]
`, sentry.URL, filter.URL))
	req := []byte(rpctest.BlockBatchRequest(calls))

	for b.Loop() {
		gw := startChild(b, gatewayListening, "gateway", "--metrics.enabled=false", "--log.level", "warn", "--config", cfg)
		addr := strings.TrimPrefix(gw.url, "http://")
		pid := gw.cmd.Process.Pid
		before := procStatus(b, pid, "VmRSS")
		tcpBefore := tcpMemory(b)
		sentBefore := batches.Load()
		held := make([]net.Conn, conns)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < conns; i += 8 {
					d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(10+i%4))}, Timeout: 5 * time.Second}
					c, err := d.Dial("tcp", addr)
					if err == nil {
						_, err = c.Write(req)
					}
					if err != nil {
						b.Error(err)
						return
					}
					held[i] = c
				}
			})
		}
		wg.Wait()
		// Settled: the sentry has had no new request for a while (or every request reached it).
		last, lastChange := sentBefore, time.Now()
		rpctest.WaitFor(b, "the attack to settle", 2*time.Minute, func() bool {
			if n := batches.Load(); n != last {
				last, lastChange = n, time.Now()
			}
			return last-sentBefore >= conns || time.Since(lastChange) > 3*time.Second
		})
		peak := procStatus(b, pid, "VmHWM")
		// What stays while the connections stay open: the resident memory 5 s after the burst
		// (the runtime gives freed pages back in the background), sampled, not waited for.
		var rss int64
		for range 20 {
			time.Sleep(250 * time.Millisecond)
			rss = procStatus(b, pid, "VmRSS")
		}
		b.ReportMetric(float64(tcpMemory(b)-tcpBefore)/(1<<20), "kernel-tcp-MiB")
		b.ReportMetric(float64(peak-before)/(1<<20), "peak-growth-MiB")
		b.ReportMetric(float64(rss-before)/(1<<20), "held-growth-MiB")
		b.ReportMetric(float64(last-sentBefore), "sentry-batches")
		b.ReportMetric(float64(before)/(1<<20), "before-MiB")
		for _, c := range held {
			if c != nil {
				c.Close()
			}
		}
		gw.kill(b)
	}
}

var procLine = regexp.MustCompile(`(?m)^(\w+):\s+(\d+) kB`)

// procStatus reads a field of /proc/pid/status in bytes (Linux).
func procStatus(b *testing.B, pid int, field string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Skip("no /proc: ", err)
	}
	for _, m := range procLine.FindAllStringSubmatch(string(raw), -1) {
		if m[1] == field {
			kb, _ := strconv.ParseInt(m[2], 10, 64)
			return kb << 10
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// tcpMemory is the kernel's TCP buffer memory of the whole machine (/proc/net/sockstat "mem", in
// pages), in bytes: socket buffers are charged to a container's memory too. The attack dominates
// it on a test machine.
func tcpMemory(b *testing.B) int64 {
	raw, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		b.Skip("no /proc/net/sockstat: ", err)
	}
	m := regexp.MustCompile(`TCP:.* mem (\d+)`).FindStringSubmatch(string(raw))
	if m == nil {
		return 0
	}
	pages, _ := strconv.ParseInt(m[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
