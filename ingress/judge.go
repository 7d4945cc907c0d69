package ingress

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/batching"
	"github.com/interopgate/interopgate/store"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// senderReader reads senders' balances and next nonces (from a sentry, in one batch); senders
// it cannot answer for are left out.
type senderReader interface {
	readSenderStates(ctx context.Context, senders []common.Address, now time.Time) map[common.Address]senderState
}

// judge decides about transactions: raw txs in, decisions out (pipeline steps 2–8). It speaks
// no HTTP and forwards nothing; it asks the filter pool, the shared stores and, for the
// sender's balance and nonce only, a senderReader.
type judge struct {
	cfg       Config
	checker   sc.Checker
	failsafe  func() bool
	deps      *accesslist.DependencySet
	st        store.Stores
	log       *zap.Logger
	metrics   *Metrics
	now       func() time.Time
	chainID   uint256.Int
	safety    sc.SafetyLevel
	states    senderReader
	retesting atomic.Int64 // txs holding a re-test slot (max_retests_in_flight)
	senders   senderStates // balances and nonces read from the sentries (sender_state_check)
	inflight  chan struct{}
	flights   flights
	cache     *verdictCache
	filter    *batching.Coalescer[sc.Request, sc.Verdict]
}

// newJudge builds the judging part of a gateway; d is complete (New filled its defaults).
func newJudge(cfg Config, d Deps, states senderReader) *judge {
	j := &judge{
		cfg: cfg, checker: d.Checker, failsafe: d.Failsafe, deps: d.Dependencies, st: *d.Stores,
		log: d.Log, metrics: d.Metrics, now: d.Now, chainID: *uint256.NewInt(cfg.ChainID),
		safety: sc.SafetyLevel(cfg.MinSafety), states: states,
		inflight: make(chan struct{}, cfg.MaxInFlightChecks), flights: flights{m: map[string]*flight{}},
	}
	j.cache = newVerdictCache(j, d.CheckerID)
	j.filter = batching.New(batching.Config{MaxBatch: cfg.FilterBatchSize, MaxInFlight: cfg.FilterCallsInFlight, MaxPending: cfg.MaxInFlightChecks,
		CallTimeout: cfg.FilterTimeout.D()},
		j.checker.CheckAccessLists,
		func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), cfg.FilterTimeout.D())
		})
	return j
}
