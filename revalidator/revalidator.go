package revalidator

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
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

// Deps are the revalidator's collaborators, built by the caller.
type Deps struct {
	// Upstream is the filter pool checks go to (required).
	Upstream sc.Checker
	// Failsafe reports the upstream filters' failsafe (a FailsafeWatcher's Enabled); nil = never.
	Failsafe func() bool
	// UpstreamAnswering reports whether enough upstream filters answer for the pool's strategy (a
	// FailsafeWatcher's QuorumAnswers): with nothing to check, the only sign of filters that went
	// away; nil = unknown.
	UpstreamAnswering func() bool
	// Dependencies is the interop dependency set (required).
	Dependencies *accesslist.DependencySet
	// NodeURL is the local execution client's JSON-RPC (eth and txpool namespaces; required).
	NodeURL string
	// Sources are chains of the dependency set whose heads are watched for reorgs (optional).
	Sources []Source
	// Feed is the gateway's feed of accepted interop txs (optional).
	Feed store.Feed
	// Invalid is where the invalid txs found are published besides the RPC method (optional;
	// the Redis set when Redis is configured).
	Invalid store.TxSet
	// Statuses are the gateways' tx statuses (interopgate_getTransactionStatus), where a tx
	// found invalid in the node's pool and one sent back to it are recorded (optional; Redis's
	// when Redis is configured).
	Statuses store.Statuses
	Log      *zap.Logger
	Metrics  *Metrics
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Tx states the revalidator records in Deps.Statuses, beside the gateway's (queued, forwarded,
// dropped).
const (
	// StateInvalid: found invalid while in the sequencer's pool (code and reason say why); the
	// eviction lever makes the node drop it.
	StateInvalid = "invalid"
	// StateRestored: the node dropped it unmined (a failsafe episode, a reorg of its chain, an
	// eviction) or never took it, and the revalidator sent it back, still valid; attempts
	// counts the times.
	StateRestored = "restored"
)

// statusWriteTimeout bounds the status writes of one cycle.
const statusWriteTimeout = time.Second

// invalidSetTTL is how long a published invalid tx stays in the shared set.
const invalidSetTTL = 10 * time.Minute

// Invalid is a pool tx a cycle found invalid.
type Invalid struct {
	Hash    common.Hash `json:"hash"`
	Code    int         `json:"code"`
	Message string      `json:"message"`
	FoundAt time.Time   `json:"foundAt"`
}

// Stats counts what the revalidator did (for tests and the devnet banner).
type Stats struct {
	Cycles         int64 // cycles run (a new head each)
	CycleChecks    int64 // message checks sent upstream by cycles
	UpstreamRounds int64 // upstream CheckAccessLists calls by cycles
	Hits, Misses   int64 // checks served from memory / sent upstream
	Restored       int64 // dropped interop txs sent back to the node and taken
	SourceHeads    int64 // source chain heads read
	PoolClears     int64 // admin_clearTxpool calls that evicted invalid txs (eviction clear-txpool)
	ClearResent    int64 // txs sent back and taken after those clears
	// Restorations are the last restoreSample restorations of txs the node dropped: how long
	// (and how many of its blocks) after the drop the node took each back. With clear-txpool,
	// one per clear: from the clear to the last tx taken back.
	Restorations []Restoration
}

// Restoration is how long a tx the node dropped was out of its pool.
type Restoration struct {
	Delay  time.Duration
	Blocks uint64 // the node's heads from the drop to the tx taken back
}

// restoreSample bounds Stats.Restorations.
const restoreSample = 1024

// Revalidator mirrors a mempool and keeps its interop verdicts ready. It implements
// supervisorclient.Checker (cache-first); serve it with NewServer. Safe for concurrent use.
type Revalidator struct {
	cfg     Config
	d       Deps
	chainID uint256.Int
	safety  sc.SafetyLevel
	node    *node
	txs     *txTable
	msgs    *messageTable
	up      *batching.Coalescer[sc.Request, sc.Verdict]
	log     *zap.Logger
	metrics *Metrics
	now     func() time.Time

	failsafeOn atomic.Bool
	// upstreamDown: the last upstream round got no answer at all (every check unavailable).
	upstreamDown atomic.Bool
	// upstreamSilent: no upstream filter answered the failsafe watcher's last poll.
	upstreamSilent atomic.Bool
	stats          struct{ cycles, checks, rounds, hits, misses, restored, sourceHeads, clears, clearResent atomic.Int64 }

	mu         sync.Mutex
	lastHead   head                   // the node's last head read
	headSeen   head                   // the last head a cycle ran for
	lastCycle  time.Time              // when the last cycle ran
	next       accesslist.ExecContext // the presumed next block's descriptor
	invalid    map[common.Hash]Invalid
	feedCursor string
	untracked  int
	pulse      *pulse                    // the failsafe answered to the node meanwhile (lever.go)
	dropped    *heldTxs                  // interop txs the node dropped unmined, for restore
	restores   []Restoration             // the last restoreSample restorations, for Stats
	mined      *heldTxs                  // interop txs mined lately, for restore after a reorg of the node's chain
	levered    map[common.Hash]time.Time // invalid txs the lever acted on, and when (not again within pulse_max)
	lastClear  time.Time                 // the last admin_clearTxpool
	kick       chan struct{}             // a source chain reorged: cycle now
	feedSent   map[common.Hash]time.Time // when a feed tx missing from the node's pool was last sent there
}

// New validates cfg and dials the node.
func New(ctx context.Context, cfg Config, d Deps) (*Revalidator, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("revalidator: %w", err)
	}
	if d.Upstream == nil || d.Dependencies == nil || d.NodeURL == "" {
		return nil, errors.New("revalidator: upstream checker, dependency set and node URL are required")
	}
	if !d.Dependencies.Contains(*uint256.NewInt(cfg.ChainID)) {
		return nil, fmt.Errorf("revalidator: chain_id %d is not in the dependency set", cfg.ChainID)
	}
	if d.Failsafe == nil {
		d.Failsafe = func() bool { return false }
	}
	if d.UpstreamAnswering == nil {
		d.UpstreamAnswering = func() bool { return true }
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	n, err := dialNode(ctx, d.NodeURL)
	if err != nil {
		return nil, fmt.Errorf("revalidator: %w", err)
	}
	r := &Revalidator{
		cfg: cfg, d: d, chainID: *uint256.NewInt(cfg.ChainID), safety: sc.SafetyLevel(cfg.MinSafety), node: n,
		txs: newTxTable(cfg.MaxTxs, cfg.MaxTxBytes), msgs: newMessageTable(cfg.MaxMessages, d.Dependencies),
		log: d.Log, metrics: d.Metrics, now: d.Now, invalid: map[common.Hash]Invalid{},
		dropped: newHeldTxs(cfg.RestoreMax, cfg.RestoreMaxBytes), mined: newHeldTxs(cfg.RestoreMax, cfg.RestoreMaxBytes), levered: map[common.Hash]time.Time{}, kick: make(chan struct{}, 1), feedSent: map[common.Hash]time.Time{},
	}
	r.up = batching.New(batching.Config{MaxBatch: cfg.UpstreamBatchSize, MaxInFlight: cfg.UpstreamInFlight},
		d.Upstream.CheckAccessLists, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), cfg.CycleTimeout.D())
		})
	return r, nil
}

// Close releases the node connection.
func (r *Revalidator) Close() { r.node.close() }

// InvalidTransactions lists the invalid txs the cycles found, oldest first.
func (r *Revalidator) InvalidTransactions() []Invalid {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Invalid, 0, len(r.invalid))
	for _, inv := range r.invalid {
		out = append(out, inv)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FoundAt.Before(out[j].FoundAt) })
	return out
}

// Next is the presumed next block's executing descriptor (zero before the first cycle).
func (r *Revalidator) Next() accesslist.ExecContext {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next
}

// Stats returns the counters.
func (r *Revalidator) Stats() Stats {
	return Stats{Cycles: r.stats.cycles.Load(), CycleChecks: r.stats.checks.Load(), UpstreamRounds: r.stats.rounds.Load(),
		Hits: r.stats.hits.Load(), Misses: r.stats.misses.Load(), Restored: r.stats.restored.Load(),
		SourceHeads: r.stats.sourceHeads.Load(), PoolClears: r.stats.clears.Load(), ClearResent: r.stats.clearResent.Load(),
		Restorations: r.restorations()}
}

// Tracked reports whether the tx is in the mirrored pool.
func (r *Revalidator) Tracked(h common.Hash) bool { return r.txs.get(h) != nil }

// Ready is nil while the revalidator can do its job: the node answers, a cycle has run, the
// upstream filters answered the last round, and their failsafe is off. An orchestrator can act
// on it (for example move sequencer leadership away from a sequencer whose revalidator is not
// ready); the metric interopgate_revalidator_ready mirrors it.
func (r *Revalidator) Ready(ctx context.Context) error {
	err := r.readiness(ctx)
	r.metrics.setReady(err == nil)
	return err
}

func (r *Revalidator) readiness(ctx context.Context) error {
	if _, err := r.node.head(ctx); err != nil {
		return fmt.Errorf("node: %w", err)
	}
	if r.stats.cycles.Load() == 0 {
		return errors.New("no revalidation cycle yet")
	}
	if r.FailsafeEnabled() {
		return errors.New("the upstream filters' failsafe is on")
	}
	if r.upstreamDown.Load() {
		return errors.New("the upstream filters did not answer the last round")
	}
	if !r.d.UpstreamAnswering() {
		return errors.New("the upstream filters do not answer: fewer than the strategy needs")
	}
	return nil
}
