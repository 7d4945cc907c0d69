package batching

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPlanOrdersLikeABuilder(t *testing.T) {
	const base = 10
	senders := [][]PlanTx{
		// a: tips 5 then 50: its second tx waits for its first.
		{{ID: 1, Nonce: 0, GasTipCap: 5, GasFeeCap: 100, Gas: 21000}, {ID: 2, Nonce: 1, GasTipCap: 50, GasFeeCap: 100, Gas: 21000}},
		// b: tip 20, capped by the fee cap: effective min(30, 40-10) = 30.
		{{ID: 3, Nonce: 0, GasTipCap: 30, GasFeeCap: 40, Gas: 21000}},
		// c: cannot pay the base fee.
		{{ID: 4, Nonce: 0, GasTipCap: 90, GasFeeCap: 9, Gas: 21000}},
		// d: tip 10, but too big for what is left after three txs.
		{{ID: 5, Nonce: 0, GasTipCap: 10, GasFeeCap: 100, Gas: 50000}, {ID: 6, Nonce: 1, GasTipCap: 99, GasFeeCap: 200, Gas: 21000}},
	}
	got := Plan(senders, base, 3*21000, 0)
	if want := []int{3, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("plan %v, want %v", got, want)
	}
	if got := Plan(senders, base, 1e9, 0); !slices.Equal(got, []int{3, 5, 6, 1, 2}) {
		t.Fatalf("unbounded plan %v", got)
	}
	if got := Plan(senders, base, 1e9, 2); !slices.Equal(got, []int{3, 5}) {
		t.Fatalf("plan of 2 txs %v", got)
	}
}

// poolOf makes a pool of n txs over n/4 senders, nonces in order, random fees.
func poolOf(n int) [][]PlanTx {
	r := rand.New(rand.NewPCG(1, 2))
	senders := make([][]PlanTx, n/4)
	id := 0
	for i := range senders {
		for nonce := range 4 {
			fee := 1e9 + r.Uint64N(1e9)
			senders[i] = append(senders[i], PlanTx{ID: id, Nonce: uint64(nonce), GasFeeCap: fee, GasTipCap: r.Uint64N(fee), Gas: 21000 + r.Uint64N(200000)})
			id++
		}
	}
	return senders
}

// BenchmarkPlanTenThousand: the presumed next block (30M gas) from a pool of 10,000 txs.
// Target: at most 5 ms.
func BenchmarkPlanTenThousand(b *testing.B) {
	senders := poolOf(10_000)
	n := 0
	for b.Loop() {
		n = len(Plan(senders, 1e9, 30_000_000, 0))
	}
	b.ReportMetric(float64(n), "txs/block")
}
