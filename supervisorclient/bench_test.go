package supervisorclient

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/interopgate/interopgate/internal/rpctest"
)

// benchChecks compares 100 checks sent as one JSON-RPC batch with 100 single calls, one after
// another and 10 at a time (op-reth's revalidation shape), against a loopback filter that adds
// 2 ms to every HTTP response. It reports HTTP round trips per 100 checks.
func BenchmarkHundredChecks(b *testing.B) {
	const n = 100
	reqs := make([]Request, n)
	for i := range reqs {
		reqs[i] = vectorE()
		reqs[i].Executing.Timestamp += uint64(i)
	}
	run := func(b *testing.B, send func(c *Client)) {
		srv := rpctest.New(b, okHandler)
		srv.KeepBodies(false)
		srv.SetLatency(2 * time.Millisecond)
		c := newClient(b, srv.URL, nil)
		b.ReportAllocs()
		for b.Loop() {
			send(c)
		}
		b.ReportMetric(float64(srv.Requests())/float64(b.N), "roundtrips/op")
	}
	ctx := context.Background()
	b.Run("batch", func(b *testing.B) {
		run(b, func(c *Client) {
			for _, v := range c.CheckAccessLists(ctx, reqs) {
				if !v.Valid() {
					b.Fatal(v)
				}
			}
		})
	})
	b.Run("single-sequential", func(b *testing.B) {
		run(b, func(c *Client) {
			for i := range reqs {
				if v := c.CheckAccessList(ctx, reqs[i]); !v.Valid() {
					b.Fatal(v)
				}
			}
		})
	})
	b.Run("single-10-concurrent", func(b *testing.B) {
		run(b, func(c *Client) {
			var wg sync.WaitGroup
			for w := 0; w < 10; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < n; i += 10 {
						if v := c.CheckAccessList(ctx, reqs[i]); !v.Valid() {
							b.Error(v)
						}
					}
				}()
			}
			wg.Wait()
		})
	})
}

// BenchmarkEncodeCheckCall measures building one request body.
func BenchmarkEncodeCheckCall(b *testing.B) {
	req := vectorE()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendCheckCall(buf[:0], 1, NamespaceInterop, &req)
	}
}

// BenchmarkPoolAgreement measures the pool's overhead with two fast loopback filters.
func BenchmarkPoolAgreement(b *testing.B) {
	var eps []Endpoint
	for _, name := range []string{"a", "b"} {
		srv := rpctest.New(b, okHandler)
		srv.KeepBodies(false)
		c := newClient(b, srv.URL, func(c *ClientConfig) { c.Name = name })
		eps = append(eps, Endpoint{Name: name, Checker: c})
	}
	p, err := NewPool(eps, PoolConfig{})
	if err != nil {
		b.Fatal(err)
	}
	req := vectorE()
	b.ReportAllocs()
	for b.Loop() {
		if v := p.CheckAccessList(context.Background(), req); !v.Valid() {
			b.Fatal(v)
		}
	}
}
