package main

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/devnet"
	sc "github.com/interopgate/interopgate/supervisorclient"
	"github.com/interopgate/interopgate/supervisorclient/light"
)

// BenchmarkLightFilterSingles: concurrent single checks of distinct messages (op-reth's and
// op-geth's shape) against the light filter on a devnet chain, alone and coalesced; reports
// upstream HTTP requests per check and checks per second.
func BenchmarkLightFilterSingles(b *testing.B) {
	net, err := devnet.Start(devnet.Config{}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer net.Close()
	msgs := make([]devnet.Emitted, 64)
	for i := range msgs {
		if msgs[i], err = net.Chain(901).Emit(context.Background(), net.Accounts[i%4], common.Hash{byte(i)}, nil); err != nil {
			b.Fatal(err)
		}
	}
	ts := msgs[len(msgs)-1].ID.Timestamp + 1
	for _, inFlight := range []int{0, 8} {
		name := "alone"
		if inFlight > 0 {
			name = "coalesced"
		}
		b.Run(name, func(b *testing.B) {
			lc, err := light.New(light.Config{Chains: []light.ChainRPC{{ChainID: 901, RPC: net.Chain(901).RPCURL()}, {ChainID: 902, RPC: net.Chain(902).RPCURL()}},
				Dependencies: net.DependencySet(), CrossUnsafeHead: light.HeadLatest, LogCacheRecords: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer lc.Close()
			checker := coalesce(lc, inFlight, 256)
			var next, checks atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := 0; w < 32; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						e := msgs[next.Load()%int64(len(msgs))]
						req := sc.Request{InboxKeys: e.Keys(), MinSafety: sc.SafetyCrossUnsafe,
							Executing: sc.ExecutingDescriptor{ChainID: *uint256.NewInt(902), Timestamp: ts}}
						if v := checker.CheckAccessList(context.Background(), req); !v.Valid() {
							b.Error(v)
							return
						}
						checks.Add(1)
					}
				}()
			}
			wg.Wait()
			s := lc.Stats()
			b.ReportMetric(float64(s.HTTPRequests)/float64(checks.Load()), "http/check")
			b.ReportMetric(float64(checks.Load())/b.Elapsed().Seconds(), "checks/s")
		})
	}
}
