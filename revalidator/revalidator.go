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
	// UpstreamAnswering reports whether any upstream filter answers (a FailsafeWatcher's
	// Answering): with nothing to check, the only sign of filters that went away; nil = unknown.
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
	Metrics *Metrics
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
	lastHead   head // the node's last head read
	headSeen   head                   // the last head a cycle ran for
	lastCycle  time.Time              // when the last cycle ran
	next       accesslist.ExecContext // the presumed next block's descriptor
	invalid    map[common.Hash]Invalid
	feedCursor string
	untracked  int
	pulse      *pulse                    // the failsafe answered to the node meanwhile (lever.go)
	dropped    map[common.Hash]*tracked  // interop txs the node dropped unmined, for restore
	restores   []Restoration             // the last restoreSample restorations, for Stats
	mined      map[common.Hash]*tracked  // interop txs mined lately, for restore after a reorg of the node's chain
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
		dropped: map[common.Hash]*tracked{}, mined: map[common.Hash]*tracked{}, kick: make(chan struct{}, 1), feedSent: map[common.Hash]time.Time{},
	}
	r.up = batching.New(batching.Config{MaxBatch: cfg.UpstreamBatchSize, MaxInFlight: cfg.UpstreamInFlight},
		d.Upstream.CheckAccessLists, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), cfg.CycleTimeout.D())
		})
	return r, nil
}

// Close releases the node connection.
func (r *Revalidator) Close() { r.node.close() }

// Run follows the node until ctx ends: a cycle on every new head; in between, the pool re-read
// every pool_poll and, when no head came for half of recheck, a cycle for the last head (so
// every tracked message is rechecked within recheck, heads or not); failsafe transitions
// applied as soon as they are seen.
func (r *Revalidator) Run(ctx context.Context) {
	heads := time.NewTicker(r.cfg.HeadPoll.D())
	defer heads.Stop()
	pool := time.NewTicker(r.cfg.PoolPoll.D())
	defer pool.Stop()
	for _, s := range r.d.Sources {
		go r.watchSource(ctx, s)
	}
	for {
		r.watchFailsafe()
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
			r.mu.Lock()
			h := r.headSeen
			r.mu.Unlock()
			if h.Hash != (common.Hash{}) {
				r.cycle(ctx, h)
			}
		case <-pool.C:
			if h, ok := r.recheckDue(); ok {
				r.cycle(ctx, h)
				continue
			}
			if err := r.refresh(ctx); err != nil {
				r.log.Debug("reading the node's pool", zap.Error(err))
			}
			// What the node refused while its gate was still on goes back now, not at the next
			// cycle: its verdicts are known, so this costs no upstream call.
			r.restore(ctx, r.Next(), r.now())
		case <-heads.C:
			hctx, cancel := context.WithTimeout(ctx, r.cfg.HeadPoll.D()+time.Second)
			h, err := r.node.head(hctx)
			cancel()
			if err != nil {
				r.log.Debug("reading the node's head", zap.Error(err))
				continue
			}
			r.mu.Lock()
			last := r.lastHead
			fresh := h.Hash != last.Hash
			r.lastHead = h
			r.mu.Unlock()
			if fresh && last.Hash != (common.Hash{}) && (h.Number <= last.Number || h.Number == last.Number+1 && h.Parent != last.Hash) {
				r.nodeReorged(last, h)
			}
			if fresh {
				r.cycle(ctx, h)
			}
		}
	}
}

// recheckDue returns the last head when no cycle ran for half of recheck.
func (r *Revalidator) recheckDue() (head, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastCycle.IsZero() || r.now().Sub(r.lastCycle) < r.cfg.Recheck.D()/2 {
		return head{}, false
	}
	return r.headSeen, true
}

// watchFailsafe mirrors the upstream failsafe; a transition voids every message verdict. It also
// logs the upstream filters going silent, or answering again.
func (r *Revalidator) watchFailsafe() {
	if answering := r.d.UpstreamAnswering(); r.upstreamSilent.Swap(!answering) != !answering {
		if answering {
			r.log.Info("the upstream filters answer again")
		} else {
			r.log.Warn("the upstream filters do not answer: not ready")
		}
		r.metrics.setReady(r.cycleReady())
	}
	on := r.d.Failsafe()
	if r.failsafeOn.Swap(on) != on {
		r.msgs.clear()
		r.metrics.setFailsafe(on)
		r.log.Warn("upstream failsafe changed: message verdicts dropped", zap.Bool("enabled", on))
		r.kickCycle() // verdicts again at once, and what the node dropped restored
	}
}

// FailsafeEnabled is the upstream failsafe as last seen.
func (r *Revalidator) FailsafeEnabled() bool {
	r.watchFailsafe()
	return r.failsafeOn.Load()
}

// refresh re-reads the node's pending pool and the gateway's feed.
func (r *Revalidator) refresh(ctx context.Context) error {
	now := r.now()
	if r.d.Feed != nil {
		r.readFeed(ctx, now)
	}
	pctx, cancel := context.WithTimeout(ctx, r.cfg.CycleTimeout.D())
	defer cancel()
	pending, err := r.node.pending(pctx, now)
	if err != nil {
		return err
	}
	r.holdDropped(r.txs.sync(pending, now, r.cfg.FeedGrace.D()), now)
	r.endPulse(now)
	txs, interop := r.txs.len()
	r.metrics.sizes(txs, interop, r.msgs.len())
	full := r.txs.untracked()
	r.mu.Lock()
	r.metrics.setUntracked(full, &r.untracked)
	r.mu.Unlock()
	return nil
}

func (r *Revalidator) readFeed(ctx context.Context, now time.Time) {
	r.mu.Lock()
	cursor := r.feedCursor
	r.mu.Unlock()
	entries, err := r.d.Feed.Read(ctx, cursor, 1000)
	if err != nil {
		r.log.Debug("reading the gateway feed", zap.Error(err))
		return
	}
	var ts []*tracked
	for _, e := range entries {
		cursor = e.ID
		if t, err := fromRaw(e.Raw, r.cfg.ChainID, now); err == nil {
			ts = append(ts, t)
		}
	}
	r.txs.addFeed(ts)
	r.mu.Lock()
	r.feedCursor = cursor
	r.mu.Unlock()
}

// cycle revalidates for the block after h: it re-reads the pool, plans the presumed next
// block(s), and checks in one upstream round the messages of their interop txs, then those not
// checked for recheck, up to max_cycle_checks; then it re-evaluates every tracked interop tx and
// publishes the invalid ones.
func (r *Revalidator) cycle(ctx context.Context, h head) {
	if err := r.refresh(ctx); err != nil {
		r.log.Warn("reading the node's pool", zap.Error(err))
	}
	r.revalidate(ctx, h)
}

// revalidate is a cycle's work after the pool is read.
func (r *Revalidator) revalidate(ctx context.Context, h head) {
	start := r.now()
	exec := accesslist.ExecContext{ChainID: r.chainID, Timestamp: uint64(h.Time) + uint64(r.cfg.BlockTime.D()/time.Second)}
	r.mu.Lock()
	r.next, r.headSeen, r.lastCycle = exec, h, start
	r.mu.Unlock()
	r.stats.cycles.Add(1)
	if r.FailsafeEnabled() {
		r.metrics.cycle("failsafe", r.now().Sub(start), 0)
		return
	}
	baseFee := uint64(0)
	if h.BaseFee != nil {
		baseFee = clampWei(h.BaseFee.ToInt())
	}
	planned := r.txs.plan(baseFee, uint64(h.GasLimit)*uint64(r.cfg.PlanBlocks), 0)
	msgs := r.pickMessages(planned, exec, start)
	if len(msgs) > 0 {
		reqs := make([]sc.Request, len(msgs))
		for i := range msgs {
			reqs[i] = sc.Request{InboxKeys: accesslist.EncodeMessages(msgs[i : i+1]), MinSafety: r.safety, Executing: exec}
		}
		cctx, cancel := context.WithTimeout(ctx, r.cfg.CycleTimeout.D())
		verdicts := r.d.Upstream.CheckAccessLists(cctx, reqs)
		cancel()
		r.stats.checks.Add(int64(len(reqs)))
		r.stats.rounds.Add(1)
		r.noteUpstream(verdicts)
		r.record(msgs, verdicts, r.now())
	}
	evict, fresh := r.evaluate(exec, start)
	r.evict(ctx, evict, r.now()) // first: the next block may be close
	r.publish(fresh)
	r.restore(ctx, exec, r.now())
	r.metrics.cycle("ok", r.now().Sub(start), len(msgs))
	r.metrics.setReady(r.cycleReady())
	txs, interop := r.txs.len()
	r.metrics.sizes(txs, interop, r.msgs.len())
}

// pickMessages chooses the cycle's checks: every message of the planned interop txs that passes
// the local rules for exec, then any tracked message not checked within recheck.
func (r *Revalidator) pickMessages(planned []*tracked, exec accesslist.ExecContext, now time.Time) []accesslist.Message {
	seen := map[accesslist.Message]bool{}
	var out []accesslist.Message
	add := func(t *tracked, stale bool) bool {
		for _, m := range t.msgs {
			if len(out) >= r.cfg.MaxCycleChecks {
				return false
			}
			if seen[m] || r.d.Dependencies.CheckMessage(exec, m) != nil {
				continue
			}
			if stale && now.Sub(r.msgs.lastChecked(m)) < r.cfg.Recheck.D() {
				continue
			}
			seen[m] = true
			out = append(out, m)
		}
		return true
	}
	for _, t := range planned {
		if !add(t, false) {
			return out
		}
	}
	rest := r.txs.interopTxs()
	sort.Slice(rest, func(i, j int) bool { return rest[i].seq < rest[j].seq })
	rest = append(rest, r.droppedTxs()...) // restore needs their verdicts too
	for _, t := range rest {
		if !add(t, true) {
			break
		}
	}
	return out
}

// record stores upstream verdicts on single messages. Valid and unambiguous invalid verdicts
// are kept; "not yet" and ambiguous ones make the message unknown; an unavailable upstream
// changes nothing (what was known expires by its own TTL).
func (r *Revalidator) record(msgs []accesslist.Message, verdicts []sc.Verdict, now time.Time) {
	var keep []accesslist.Message
	var vs []msgVerdict
	var forget []accesslist.Message
	for i, v := range verdicts {
		switch {
		case v.Class == sc.ClassValid:
			keep = append(keep, msgs[i])
			vs = append(vs, msgVerdict{valid: true, until: now.Add(r.cfg.ValidTTL.D()), checked: now})
		case v.Class == sc.ClassInvalid && !v.Ambiguous:
			keep = append(keep, msgs[i])
			vs = append(vs, msgVerdict{code: v.Code, message: v.Message, until: now.Add(r.cfg.InvalidTTL.D()), checked: now})
		case v.Class == sc.ClassFailsafe:
			r.failsafeOn.Store(true)
			r.msgs.clear()
			return
		case v.Class == sc.ClassUnavailable:
		default:
			forget = append(forget, msgs[i])
		}
	}
	r.msgs.forget(forget)
	r.msgs.set(keep, vs, now)
}

// evaluate decides every tracked interop tx for exec from the table, and publishes the invalid
// ones; a tx found valid again leaves the invalid set. It returns the newly invalid ones in the
// node's pool, to evict, and every newly invalid one, to publish.
func (r *Revalidator) evaluate(exec accesslist.ExecContext, now time.Time) (inPool []common.Hash, fresh []Invalid) {
	if r.failsafeOn.Load() {
		// A failsafe is not a verdict on any tx: it has its own gauge and alert, and the builder's
		// checks answer it. The list keeps what it had.
		return nil, nil
	}
	found := map[common.Hash]Invalid{}
	for _, t := range r.txs.interopTxs() {
		if t.fromFeed {
			continue // not (yet) in the node's pool: maybe never, maybe mined already
		}
		v, err := r.msgs.decide(len(t.keys), t.msgs, t.badKeys, exec, now)
		if err != nil {
			continue // not known: neither valid nor invalid
		}
		if v.Class != sc.ClassValid {
			found[t.hash] = Invalid{Hash: t.hash, Code: v.Code, Message: v.Message, FoundAt: now}
		}
	}
	r.mu.Lock()
	for h, inv := range found {
		if old, ok := r.invalid[h]; ok {
			inv.FoundAt = old.FoundAt
		} else {
			fresh = append(fresh, inv)
			if t := r.txs.get(h); t != nil && !t.fromFeed {
				inPool = append(inPool, h)
			}
		}
		found[h] = inv
	}
	// What is no longer tracked (mined, replaced, evicted) stays listed until the bound.
	for h, inv := range r.invalid {
		if _, ok := found[h]; !ok && r.txs.get(h) == nil && len(found) < r.cfg.MaxInvalid {
			found[h] = inv
		}
	}
	r.invalid = found
	r.mu.Unlock()
	return inPool, fresh
}

// publish logs, counts and publishes txs newly found invalid.
func (r *Revalidator) publish(fresh []Invalid) {
	hashes := make([]string, len(fresh))
	for i, inv := range fresh {
		hashes[i] = inv.Hash.Hex()
		r.log.Warn("invalid interop tx in the pool", zap.String("tx", inv.Hash.Hex()), zap.Int("code", inv.Code), zap.String("reason", inv.Message))
	}
	r.metrics.found(len(fresh))
	if r.d.Statuses != nil && len(fresh) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), statusWriteTimeout)
		for _, inv := range fresh {
			st := store.Status{State: StateInvalid, Code: inv.Code, Reason: inv.Message, UpdatedAt: inv.FoundAt}
			if err := r.d.Statuses.SetStatus(ctx, inv.Hash.Hex(), st, r.cfg.StatusTTL.D()); err != nil {
				r.log.Debug("recording an invalid tx's status", zap.Error(err))
				break
			}
		}
		cancel()
	}
	if r.d.Invalid != nil && len(hashes) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := r.d.Invalid.AddTxs(ctx, hashes, invalidSetTTL); err != nil {
			r.log.Warn("publishing invalid txs", zap.Error(err))
		}
		cancel()
	}
}

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

// cycleReady is readiness as a cycle sees it (the node just answered).
func (r *Revalidator) cycleReady() bool {
	return !r.failsafeOn.Load() && !r.upstreamDown.Load() && !r.upstreamSilent.Load() && r.stats.cycles.Load() > 0
}

// noteUpstream records whether the filters answered a round: any answer at all (valid,
// invalid, not yet, failsafe) means the quorum is reachable.
func (r *Revalidator) noteUpstream(vs []sc.Verdict) {
	for _, v := range vs {
		if v.Class != sc.ClassUnavailable {
			r.upstreamDown.Store(false)
			return
		}
	}
	if len(vs) > 0 {
		r.upstreamDown.Store(true)
	}
}

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
		return errors.New("the upstream filters do not answer")
	}
	return nil
}

// CheckAccessList answers one check cache-first (see CheckAccessLists).
func (r *Revalidator) CheckAccessList(ctx context.Context, req sc.Request) sc.Verdict {
	return r.CheckAccessLists(ctx, []sc.Request{req})[0]
}

// CheckAccessLists answers each check from the message table when every message of it is
// known; the others go upstream together (coalesced with other callers' misses), and a valid
// answer fills the table.
func (r *Revalidator) CheckAccessLists(ctx context.Context, reqs []sc.Request) []sc.Verdict {
	out := make([]sc.Verdict, len(reqs))
	parsed := make([][]accesslist.Message, len(reqs)) // once per request: kept for a valid upstream answer
	now := r.now()
	var missIdx []int
	for i, q := range reqs {
		msgs, perr := accesslist.ParseMessages(q.InboxKeys)
		parsed[i] = msgs
		if q.MinSafety == sc.SafetyUnsafe || q.MinSafety == sc.SafetyCrossUnsafe {
			if v, err := r.msgs.decide(len(q.InboxKeys), msgs, perr, q.Executing, now); err == nil {
				out[i] = v
				r.stats.hits.Add(1)
				r.metrics.lookup(true)
				continue
			}
		}
		missIdx = append(missIdx, i)
		r.stats.misses.Add(1)
		r.metrics.lookup(false)
	}
	if len(missIdx) == 0 {
		return out
	}
	miss := make([]sc.Request, len(missIdx))
	for j, i := range missIdx {
		miss[j] = reqs[i]
	}
	vs, err := r.up.Do(ctx, miss)
	if err == nil {
		r.noteUpstream(vs)
	}
	for j, i := range missIdx {
		if err != nil {
			out[i] = sc.Unavailable("", err)
			continue
		}
		out[i] = vs[j]
		if msgs := parsed[i]; vs[j].Class == sc.ClassValid && len(msgs) > 0 {
			vv := make([]msgVerdict, len(msgs))
			for k := range vv {
				vv[k] = msgVerdict{valid: true, until: now.Add(r.cfg.ValidTTL.D()), checked: now}
			}
			r.msgs.set(msgs, vv, now)
		}
	}
	return out
}
