package ingress_test

// Hostile suite (issue 19, item 1): clients that send a request with a large answer and never
// read it. Written before the fix: on the code of the time the default gateway held every
// answer (and copies of it) for write_timeout, growing by hundreds of MiB.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/interopgate/interopgate/ingress"
	"github.com/interopgate/interopgate/internal/rpctest"
)

// liveBytes is the memory the Go runtime holds for live objects and goroutine stacks, after a
// collection: what a held answer, buffer or connection costs, without the garbage.
func liveBytes() int64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64() + s[1].Value.Uint64())
}

// dial opens a TCP connection to addr from the loopback address local (127.0.0.0/8 gives a
// test many client IPs).
func dial(local, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return d.Dial("tcp", addr)
}

func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	c, err := dial(local, addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// 19.1. 1,000 connections from a few addresses, each sending one 100-call batch and never
// reading the answer: the gateway's memory grows by at most its documented bound for them (the
// answer budget plus each connection's fixed cost), and a client that reads is served meanwhile,
// from another address. The answer (≈178 KB) fits in the kernel's buffers of a
// connection, so the gateway holds none of it; answers of ≈2 MB do not, and the budget bounds
// them.
func TestClientsThatNeverReadCannotGrowMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 connections")
	}
	for _, c := range []struct {
		name       string
		resultSize int
	}{{"178KB answers", 1700}, {"2MB answers", 20000}} {
		t.Run(c.name, func(t *testing.T) { neverRead(t, c.resultSize) })
	}
}

func neverRead(t *testing.T, resultSize int) {
	const conns, calls = 1000, 100
	answer := rpctest.BlockBatchAnswer(calls, resultSize)
	sentry := rpctest.NewRaw(t, func([]byte) []byte { return answer })
	sentry.KeepBodies(false)
	reg := prometheus.NewRegistry()
	r := newRig(t, rigOptions{sentry: sentry, metrics: reg})
	cfg := ingress.DefaultConfig()
	addr := strings.TrimPrefix(r.gw.URL(), "http://")
	req := []byte(rpctest.BlockBatchRequest(calls))

	// The baseline includes what the first request warms up (pools, the sentry's connections).
	if st, out := post(t, r.gw.URL(), strings.SplitN(string(req), "\r\n\r\n", 2)[1]); st != 200 || len(out) < len(answer)/2 {
		t.Fatalf("warm-up batch: %d, %d bytes", st, len(out))
	}
	base := liveBytes()

	attackers := []string{"127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13"}
	held := make([]net.Conn, conns)
	defer func() {
		for _, c := range held {
			if c != nil {
				c.Close()
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < conns; i += 8 {
				c, err := dial(attackers[i%len(attackers)], addr)
				if err == nil {
					_, err = c.Write(req)
				}
				if err != nil {
					t.Error(err)
					return
				}
				held[i] = c
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Every attack request has been answered (forwarded, or refused) by the gateway's handler.
	answered := func() float64 {
		calls := func(labels map[string]string) float64 {
			return counter(t, reg, "interopgate_gateway_calls_total", labels)
		}
		return calls(map[string]string{"method": "eth_getBlockByNumber", "outcome": "forwarded"})/100 - 1 +
			calls(map[string]string{"outcome": "unread_answers"}) + calls(map[string]string{"outcome": "busy"})
	}
	rpctest.WaitFor(t, "every attack request answered", time.Minute, func() bool { return answered() >= conns })

	// Work still in flight when the last request was answered (sentry connections closing,
	// this process's own sentry) settles within moments; what the gateway holds for clients
	// that never read stays for write_timeout (30 s), past this deadline.
	var grown, answers int64
	bound := int64(cfg.MaxUnreadAnswerBytes) + conns*ingress.ConnOverheadBytes
	deadline := time.Now().Add(10 * time.Second)
	for {
		grown = liveBytes() - base
		answers = int64(counter(t, reg, "interopgate_gateway_unread_answer_bytes", nil))
		if grown <= bound || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling the gateway's memory, bounded by the deadline
	}
	t.Logf("%d connections that never read: live memory grew %.1f MiB, of which answers %.1f MiB, %.1f KiB a connection besides (bound %.1f MiB: answers %d MiB + %d connections × %d KiB)",
		conns, float64(grown)/(1<<20), float64(answers)/(1<<20), float64(grown-answers)/conns/1024,
		float64(bound)/(1<<20), cfg.MaxUnreadAnswerBytes>>20, conns, ingress.ConnOverheadBytes>>10)
	if answers > int64(cfg.MaxUnreadAnswerBytes) {
		t.Fatalf("the gateway holds %d bytes of answers, over its bound of %d", answers, cfg.MaxUnreadAnswerBytes)
	}
	if grown > bound {
		t.Fatalf("memory grew %d bytes for clients that never read, over the documented bound of %d", grown, bound)
	}

	// A client that reads, from another address, is served in full meanwhile.
	c := dialFrom(t, "127.0.0.2", addr)
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	status, body := readResponse(t, c)
	var parts []json.RawMessage
	if status != 200 || json.Unmarshal(body, &parts) != nil || len(parts) != calls {
		t.Fatalf("a reading client during the attack: HTTP %d, %d answers, %.200s", status, len(parts), body)
	}

	// Once the attackers go, so does what they held.
	for i, c := range held {
		c.Close()
		held[i] = nil
	}
	rpctest.WaitFor(t, "memory back near the baseline after the attackers closed", time.Minute, func() bool {
		l := liveBytes()
		return l-base < 4<<20 && counter(t, reg, "interopgate_gateway_unread_answer_bytes", nil) == 0
	})
}

// readResponse reads one HTTP response from c.
func readResponse(t *testing.T, c net.Conn) (int, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// 19.1 (cont.). A connection that sends requests ahead without reading the answers (HTTP
// pipelining) is served max_pipelined_requests of them, then refused and closed: the read flood
// a client that never reads could drive through one connection. A client that waits for each
// answer, on one keep-alive connection, is never cut off.
func TestPipelinedRequestsAreBounded(t *testing.T) {
	const max = 8
	r := newRig(t, rigOptions{mutate: func(c *ingress.Config) { c.MaxPipelinedRequests = max }})
	addr := strings.TrimPrefix(r.gw.URL(), "http://")
	body := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`
	one := fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)

	c := dialFrom(t, "127.0.0.1", addr)
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	before := r.sentry.MethodCalls("eth_chainId")
	if _, err := c.Write([]byte(strings.Repeat(one, 200))); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var statuses []int
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break // the gateway closed the connection
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	// Requests that came in one read with the one before count: with all 200 in one write, the
	// first read holds dozens of them, so the connection ends after max+1 served (a little more
	// if the kernel split the write).
	if len(statuses) < max+2 || len(statuses) > 4*(max+1) || statuses[len(statuses)-1] != http.StatusTooManyRequests {
		t.Fatalf("200 pipelined requests: answers %v, want about %d served then one 429", statuses, max+1)
	}
	if n := r.sentry.MethodCalls("eth_chainId") - before; n >= 200 || n != len(statuses)-1 {
		t.Fatalf("the sentry got %d of the pipelined requests (%d answered)", n, len(statuses)-1)
	}

	// One request at a time on one connection: all served.
	c2 := dialFrom(t, "127.0.0.1", addr)
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(20 * time.Second))
	br2 := bufio.NewReader(c2)
	for i := range 100 {
		if _, err := c2.Write([]byte(one)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br2, nil)
		if err != nil {
			t.Fatalf("request %d on a keep-alive connection: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d on a keep-alive connection: HTTP %d", i, resp.StatusCode)
		}
	}
}

// 19.1 (cont., found by a reviewer acting as an attacker): a client that stops reading kept its
// answer's budget for write_timeout (30 s), so a few addresses could keep large reads refused for
// everyone. It is now cut off once it takes no 32 KiB of its answer for write_stall_timeout.
func TestAClientThatStopsReadingIsCutOff(t *testing.T) {
	answer := rpctest.BlockBatchAnswer(100, 20000) // ≈2 MB: far more than the kernel buffers
	sentry := rpctest.NewRaw(t, func([]byte) []byte { return answer })
	sentry.KeepBodies(false)
	reg := prometheus.NewRegistry()
	r := newRig(t, rigOptions{sentry: sentry, metrics: reg, mutate: func(c *ingress.Config) {
		c.WriteStallTimeout = d(300 * time.Millisecond)
	}})
	c := dialFrom(t, "127.0.0.20", strings.TrimPrefix(r.gw.URL(), "http://"))
	defer c.Close()
	if _, err := c.Write([]byte(rpctest.BlockBatchRequest(100))); err != nil {
		t.Fatal(err)
	}
	held := func() float64 { return counter(t, reg, "interopgate_gateway_unread_answer_bytes", nil) }
	rpctest.WaitFor(t, "the answer held for the client", 10*time.Second, func() bool { return held() > 0 })
	rpctest.WaitFor(t, "the stalled client cut off and its budget given back", 5*time.Second, func() bool { return held() == 0 })
}
