package light_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/devnet"
	sc "github.com/interopgate/interopgate/supervisorclient"
	"github.com/interopgate/interopgate/supervisorclient/light"
)

// benchNet is a devnet with n messages on chain 901, each in its own block.
func benchNet(b *testing.B, n int) (*devnet.Devnet, []devnet.Emitted) {
	b.Helper()
	net, err := devnet.Start(devnet.Config{}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { net.Close() })
	msgs := make([]devnet.Emitted, n)
	for i := range msgs {
		if msgs[i], err = net.Chain(901).Emit(context.Background(), net.Accounts[i%len(net.Accounts)], common.Hash{byte(i)}, []byte("bench")); err != nil {
			b.Fatal(err)
		}
	}
	return net, msgs
}

func benchChecker(b *testing.B, net *devnet.Devnet, cacheRecords int) *light.Checker {
	c, err := light.New(light.Config{Chains: chainsOf(net), Dependencies: net.DependencySet(), CrossUnsafeHead: light.HeadLatest, LogCacheRecords: cacheRecords})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

func reportUpstream(b *testing.B, c *light.Checker, checks int64) {
	s := c.Stats()
	b.ReportMetric(float64(s.HTTPRequests)/float64(checks), "http/check")
	b.ReportMetric(float64(s.Calls)/float64(checks), "calls/check")
	b.ReportMetric(float64(checks)/b.Elapsed().Seconds(), "checks/s")
}

// BenchmarkLightFilter measures single checks, 8 at a time, against a real devnet chain:
// "distinct" never hits the log cache (each message in its own block, cache of one record),
// "repeated" checks one message over and over. "batch100" checks 100 distinct messages as one
// CheckAccessLists call.
func BenchmarkLightFilter(b *testing.B) {
	net, msgs := benchNet(b, 64)
	lastTS := msgs[len(msgs)-1].ID.Timestamp
	ctx := context.Background()
	b.Run("distinct", func(b *testing.B) {
		c := benchChecker(b, net, 1)
		var next, checks atomic.Int64
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				e := msgs[next.Add(1)%int64(len(msgs))]
				if v := c.CheckAccessList(ctx, request(e.Keys(), 902, lastTS+1)); !v.Valid() {
					b.Error(v)
				}
				checks.Add(1)
			}
		})
		reportUpstream(b, c, checks.Load())
	})
	b.Run("repeated", func(b *testing.B) {
		c := benchChecker(b, net, 0)
		var checks atomic.Int64
		r := request(msgs[0].Keys(), 902, lastTS+1)
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if v := c.CheckAccessList(ctx, r); !v.Valid() {
					b.Error(v)
				}
				checks.Add(1)
			}
		})
		reportUpstream(b, c, checks.Load())
	})
	b.Run("batch64-distinct", func(b *testing.B) {
		c := benchChecker(b, net, 1)
		reqs := make([]sc.Request, len(msgs))
		for i, e := range msgs {
			reqs[i] = request(e.Keys(), 902, lastTS+1)
		}
		for b.Loop() {
			for _, v := range c.CheckAccessLists(ctx, reqs) {
				if !v.Valid() {
					b.Fatal(v)
				}
			}
		}
		reportUpstream(b, c, int64(b.N*len(reqs)))
	})
}
