package light

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/interopgate/interopgate/accesslist"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// HeadRule names the source-chain head a cross-unsafe message's block must be at or below.
type HeadRule string

// Head rules for cross-unsafe (see the package documentation).
const (
	HeadLatest    HeadRule = "latest"
	HeadSafe      HeadRule = "safe"
	HeadFinalized HeadRule = "finalized"
)

// ChainRPC is the JSON-RPC endpoint of one source chain.
type ChainRPC struct {
	ChainID uint64 `toml:"chain_id" json:"chainID" comment:"a chain of the dependency set"`
	RPC     string `toml:"rpc" json:"rpc" comment:"its JSON-RPC URL (eth namespace)"`
}

// Config configures a Checker.
type Config struct {
	// Chains maps every chain of the dependency set to its RPC (required).
	Chains []ChainRPC
	// Dependencies is the dependency set (required).
	Dependencies *accesslist.DependencySet
	// CrossUnsafeHead is the head rule for cross-unsafe checks (default safe).
	CrossUnsafeHead HeadRule
	// MaxConcurrentPerChain bounds in-flight HTTP requests to each chain (default 16).
	MaxConcurrentPerChain int
	// LogCacheRecords bounds the log cache, in log records (default 1,000,000, ~100 MB).
	LogCacheRecords int
	// Timeout of each upstream HTTP request (default 5 s).
	Timeout time.Duration
	// MaxBatchCalls bounds the calls of one JSON-RPC batch to a chain (default 500; geth refuses
	// more than 1,000 by default). Larger needs are split and sent concurrently.
	MaxBatchCalls int
	// HeadRefreshInterval bounds the on-demand reads of a chain's latest block, made when a
	// check names a message newer than what was last read of the slowest chain: after a read
	// that found no new block, the next waits this long (default 100 ms). It bounds what a
	// flood of messages from the future costs the chains.
	HeadRefreshInterval time.Duration
}

// Defaults of Config.
const (
	DefaultMaxConcurrentPerChain = 16
	DefaultLogCacheRecords       = 1_000_000
	DefaultTimeout               = 5 * time.Second
	DefaultMaxBatchCalls         = 500
	DefaultHeadRefreshInterval   = 100 * time.Millisecond
)

// Check validates the config and names every bad field at once (errors.Join).
func (c *Config) Check() error {
	var errs []error
	bad := func(err error) { errs = append(errs, err) }
	if c.Dependencies == nil {
		return errors.New("dependency set is required")
	}
	switch c.CrossUnsafeHead {
	case "", HeadLatest, HeadSafe, HeadFinalized:
	default:
		bad(fmt.Errorf("cross_unsafe_head %q: want latest, safe or finalized", c.CrossUnsafeHead))
	}
	seen := map[uint64]bool{}
	for _, ch := range c.Chains {
		if seen[ch.ChainID] {
			bad(fmt.Errorf("chains: chain %d listed twice", ch.ChainID))
		}
		seen[ch.ChainID] = true
		if !c.Dependencies.Contains(*uint256.NewInt(ch.ChainID)) {
			bad(fmt.Errorf("chains: chain %d is not in the dependency set", ch.ChainID))
		}
		if u, err := url.Parse(ch.RPC); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(fmt.Errorf("chains: chain %d rpc %q: want an http:// or https:// URL", ch.ChainID, ch.RPC))
		}
	}
	for _, id := range c.Dependencies.ChainIDs() {
		if !id.IsUint64() || !seen[id.Uint64()] {
			bad(fmt.Errorf("chains: chain %s of the dependency set has no rpc", id.Dec()))
		}
	}
	if c.MaxConcurrentPerChain < 0 || c.LogCacheRecords < 0 || c.Timeout < 0 || c.MaxBatchCalls < 0 || c.HeadRefreshInterval < 0 {
		bad(errors.New("max_concurrent_per_chain, log_cache_records, timeout, max_batch_calls and head_refresh_interval must not be negative"))
	}
	return errors.Join(errs...)
}

// Checker proves executing messages from the source chains' RPC. Safe for concurrent use.
type Checker struct {
	cfg     Config
	chains  map[uint256.Int]*upstream
	cache   *logCache
	stats   Stats
	metrics *Metrics
	watch   watchState
}

// Option configures a Checker.
type Option func(*Checker)

// WithMetrics records the checker's metrics in m.
func WithMetrics(m *Metrics) Option { return func(c *Checker) { c.metrics = m } }

// New validates cfg and builds a checker. It does not contact the chains; see Ready.
func New(cfg Config, opts ...Option) (*Checker, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("light filter: %w", err)
	}
	if cfg.CrossUnsafeHead == "" {
		cfg.CrossUnsafeHead = HeadLatest
	}
	if cfg.MaxBatchCalls == 0 {
		cfg.MaxBatchCalls = DefaultMaxBatchCalls
	}
	if cfg.MaxConcurrentPerChain == 0 {
		cfg.MaxConcurrentPerChain = DefaultMaxConcurrentPerChain
	}
	if cfg.LogCacheRecords == 0 {
		cfg.LogCacheRecords = DefaultLogCacheRecords
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.HeadRefreshInterval == 0 {
		cfg.HeadRefreshInterval = DefaultHeadRefreshInterval
	}
	c := &Checker{cfg: cfg, chains: make(map[uint256.Int]*upstream, len(cfg.Chains)), cache: newLogCache(cfg.LogCacheRecords)}
	for _, o := range opts {
		o(c)
	}
	for _, ch := range cfg.Chains {
		up, err := newUpstream(ch.ChainID, ch.RPC, cfg.MaxConcurrentPerChain, cfg.MaxBatchCalls, cfg.Timeout, &c.stats, c.metrics)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("light filter: %w", err)
		}
		c.chains[*uint256.NewInt(ch.ChainID)] = up
	}
	return c, nil
}

// Close releases the chains' RPC clients.
func (c *Checker) Close() {
	for _, up := range c.chains {
		up.client.Close()
	}
}

// Stats returns the upstream counters.
func (c *Checker) Stats() StatsSnapshot { return c.stats.Snapshot() }

// Ready checks that every chain answers eth_chainId with its configured chain ID.
func (c *Checker) Ready(ctx context.Context) error {
	var errs []error
	for _, up := range c.chains {
		id, err := up.chainIDOf(ctx)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("chain %d: %w", up.chainID, err))
		case id != up.chainID:
			errs = append(errs, fmt.Errorf("chain %d: rpc %s serves chain %d", up.chainID, up.url, id))
		}
	}
	return errors.Join(errs...)
}

// CheckAccessList proves one access list.
func (c *Checker) CheckAccessList(ctx context.Context, req sc.Request) sc.Verdict {
	return c.CheckAccessLists(ctx, []sc.Request{req})[0]
}

// item is one message of one request that needs remote proof.
type item struct {
	req      int
	msg      accesslist.Message
	needRule bool // cross-unsafe with a head rule other than latest
}

// chainWork is what one source chain must answer for a batch of checks.
type chainWork struct {
	up       *upstream
	numbers  map[uint64]struct{}
	needRule bool
	// answers, filled by resolve
	heads      heads
	logs       map[common.Hash]blockLogs
	logsFailed map[common.Hash]error // blocks whose logs could not be read completely
	err        error
}

// CheckAccessLists proves a batch of access lists. Messages of all requests are grouped by
// source chain, and each chain is asked at most twice, concurrently with the other chains: one
// JSON-RPC batch for the headers, one for the logs not in the cache.
func (c *Checker) CheckAccessLists(ctx context.Context, reqs []sc.Request) []sc.Verdict {
	start := time.Now()
	defer func() { c.metrics.batchDone(time.Since(start)) }()
	c.stats.checks.Add(int64(len(reqs)))

	out := make([]sc.Verdict, len(reqs))
	done := make([]bool, len(reqs))
	parsed := make([][]accesslist.Message, len(reqs))
	var need uint64 // the newest message timestamp named
	ready := c.initialized()
	for i := range reqs {
		if !ready {
			out[i], done[i] = verdict(sc.ClassRetryLater, sc.CodeUninitialized, "uninitialized: not every chain of the set has been read yet"), true
			continue
		}
		msgs, v, ok := c.parse(&reqs[i])
		if !ok {
			out[i], done[i] = v, true
			continue
		}
		parsed[i] = msgs
		for _, m := range msgs {
			need = max(need, m.Timestamp)
		}
	}
	var slowest uint64
	var slowestErr error
	if need > 0 {
		slowest, slowestErr = c.ingested(ctx, need)
	}

	var items []item
	work := map[uint256.Int]*chainWork{}
	for i := range reqs {
		if done[i] {
			continue
		}
		if slowestErr != nil {
			c.metrics.check(sc.ClassUnavailable.String(), reasonUpstreamFailed)
			out[i], done[i] = sc.Unavailable("light", slowestErr), true
			continue
		}
		if v, ok := c.rules(&reqs[i], parsed[i], slowest); !ok {
			out[i], done[i] = v, true
			continue
		}
		needRule := reqs[i].MinSafety == sc.SafetyCrossUnsafe && c.cfg.CrossUnsafeHead != HeadLatest
		for _, m := range parsed[i] {
			items = append(items, item{req: i, msg: m, needRule: needRule})
			w := work[m.ChainID]
			if w == nil {
				w = &chainWork{up: c.chains[m.ChainID], numbers: map[uint64]struct{}{}}
				work[m.ChainID] = w
			}
			w.numbers[m.BlockNumber] = struct{}{}
			w.needRule = w.needRule || needRule
		}
	}

	var wg sync.WaitGroup
	for _, w := range work {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.resolve(ctx, w)
		}()
	}
	wg.Wait()

	// Per request: the first invalid message decides; else the first unavailable; else the
	// first retry-later; else valid.
	worst := make([]sc.Verdict, len(reqs))
	reasons := make([]string, len(reqs))
	seen := make([]bool, len(reqs))
	for _, it := range items {
		v, reason := c.prove(work[it.msg.ChainID], it)
		if !seen[it.req] || rank(v.Class) > rank(worst[it.req].Class) {
			worst[it.req], reasons[it.req], seen[it.req] = v, reason, true
		}
	}
	for i := range reqs {
		if !done[i] {
			c.metrics.check(worst[i].Class.String(), reasons[i])
			out[i] = worst[i]
		}
	}
	return out
}

// rank orders classes by how decisive they are for a request.
func rank(c sc.Class) int {
	switch c {
	case sc.ClassInvalid:
		return 4
	case sc.ClassUnavailable:
		return 3
	case sc.ClassRetryLater:
		return 2
	case sc.ClassValid:
		return 1
	}
	return 0
}

func verdict(class sc.Class, code int, format string, args ...any) sc.Verdict {
	return sc.Verdict{Class: class, Code: code, Message: fmt.Sprintf(format, args...), Endpoint: "light"}
}

// parse reads a request's messages, after the checks op-interop-filter makes before it looks
// at any entry (safety level, executing chain). ok is false when v is the final verdict (an
// empty list is valid: the reference loops over the entries, and none is nothing to refuse).
func (c *Checker) parse(req *sc.Request) (msgs []accesslist.Message, v sc.Verdict, ok bool) {
	switch req.MinSafety {
	case sc.SafetyUnsafe, sc.SafetyCrossUnsafe:
	default:
		return nil, c.final(reasonBadParams, verdict(sc.ClassInvalid, sc.CodeInvalidParams, "unsupported safety level %q: this filter accepts unsafe and cross-unsafe", req.MinSafety)), false
	}
	if !c.cfg.Dependencies.Contains(req.Executing.ChainID) {
		return nil, c.final(reasonUnknownChain, verdict(sc.ClassInvalid, sc.CodeUnknownChain, "%v: executing chain %s", accesslist.ErrUnknownChain, req.Executing.ChainID.Dec())), false
	}
	if len(req.InboxKeys) == 0 {
		return nil, c.final(reasonValid, sc.Verdict{Class: sc.ClassValid, Endpoint: "light"}), false
	}
	msgs, err := accesslist.ParseMessages(req.InboxKeys)
	if err != nil {
		return nil, c.final(reasonBadParams, verdict(sc.ClassInvalid, sc.CodeInvalidParams, "failed to parse access list: %v", err)), false
	}
	return accesslist.Dedup(msgs), sc.Verdict{}, true
}

// rules applies, message by message in order, every rule that needs no remote call: first
// op-interop-filter's lockstep rule (nothing newer than the slowest chain of the set, slowest,
// is judged yet: -321100), then the dependency set's chains, activation and timing. ok is
// false when v is the final verdict.
func (c *Checker) rules(req *sc.Request, msgs []accesslist.Message, slowest uint64) (v sc.Verdict, ok bool) {
	for _, m := range msgs {
		if m.Timestamp > slowest {
			return c.final(reasonNotIngested, verdict(sc.ClassRetryLater, sc.CodeOutOfScope, "out of scope: timestamp %d not yet ingested (min ingested: %d)", m.Timestamp, slowest)), false
		}
		err := c.cfg.Dependencies.CheckMessage(req.Executing, m)
		switch {
		case err == nil:
		case errors.Is(err, accesslist.ErrUnknownChain):
			return c.final(reasonUnknownChain, verdict(sc.ClassInvalid, sc.CodeUnknownChain, "%v", err)), false
		case errors.Is(err, accesslist.ErrTiming):
			return c.final(reasonTiming, verdict(sc.ClassInvalid, sc.CodeConflict, "%v (message at %d, executing at %d, timeout %d, window %d)",
				err, m.Timestamp, req.Executing.Timestamp, req.Executing.Timeout, c.cfg.Dependencies.ExpiryWindow())), false
		default:
			return c.final(reasonNotActivated, verdict(sc.ClassInvalid, sc.CodeConflict, "%v", err)), false
		}
	}
	return sc.Verdict{}, true
}

// final counts a verdict given without a remote proof and returns it.
func (c *Checker) final(reason string, v sc.Verdict) sc.Verdict {
	c.metrics.check(v.Class.String(), reason)
	return v
}

// resolve fetches what the checks need from one chain: headers, then the logs of the blocks
// that exist and are not cached.
func (c *Checker) resolve(ctx context.Context, w *chainWork) {
	numbers := make([]uint64, 0, len(w.numbers))
	for n := range w.numbers {
		numbers = append(numbers, n)
	}
	sort.Slice(numbers, func(i, j int) bool { return numbers[i] < numbers[j] })
	ruleTag := ""
	if w.needRule {
		ruleTag = string(c.cfg.CrossUnsafeHead)
	}
	w.heads, w.err = w.up.fetchHeaders(ctx, numbers, ruleTag)
	if w.err != nil {
		return
	}
	w.logs = make(map[common.Hash]blockLogs, len(numbers))
	var missing []*header
	for _, n := range numbers {
		h := w.heads.byNumber[n]
		if h == nil {
			continue
		}
		if logs, ok := c.cache.get(h.Hash); ok {
			c.stats.cacheHits.Add(1)
			c.metrics.cacheLookup(true)
			w.logs[h.Hash] = logs
			continue
		}
		c.stats.cacheMisses.Add(1)
		c.metrics.cacheLookup(false)
		missing = append(missing, h)
	}
	if len(missing) == 0 {
		return
	}
	fetched, failed, err := w.up.fetchLogs(ctx, missing)
	if err != nil {
		w.err = err
		return
	}
	w.logsFailed = failed
	for h, logs := range fetched {
		c.cache.add(h, logs)
		w.logs[h] = logs
	}
}

// prove judges one message from its chain's answers; the string is the metric reason.
func (c *Checker) prove(w *chainWork, it item) (sc.Verdict, string) {
	m := it.msg
	if w.err != nil {
		return sc.Unavailable("light", w.err), reasonUpstreamFailed
	}
	if err := w.heads.failed[m.BlockNumber]; err != nil {
		return sc.Unavailable("light", err), reasonUpstreamFailed
	}
	h := w.heads.byNumber[m.BlockNumber]
	if h == nil {
		if uint64(w.heads.latest.Time) >= m.Timestamp {
			return verdict(sc.ClassInvalid, sc.CodeConflict, "conflict: chain %s has no block %d yet, but its head (block %d) is already at timestamp %d >= the claimed %d",
				m.ChainID.Dec(), m.BlockNumber, w.heads.latest.Number, w.heads.latest.Time, m.Timestamp), reasonNoBlock
		}
		// As op-interop-filter: data beyond what is ingested is out of scope (not yet).
		return verdict(sc.ClassRetryLater, sc.CodeOutOfScope, "out of scope: chain %s is at block %d, message is in block %d",
			m.ChainID.Dec(), w.heads.latest.Number, m.BlockNumber), reasonFuture
	}
	if err := w.logsFailed[h.Hash]; err != nil {
		return sc.Unavailable("light", err), reasonUpstreamFailed
	}
	if uint64(h.Time) != m.Timestamp {
		return verdict(sc.ClassInvalid, sc.CodeConflict, "conflict: block %d of chain %s has timestamp %d, message claims %d",
			m.BlockNumber, m.ChainID.Dec(), h.Time, m.Timestamp), reasonTimestamp
	}
	if it.needRule && uint64(w.heads.rule.Number) < m.BlockNumber {
		return verdict(sc.ClassRetryLater, sc.CodeOutOfScope, "out of scope: block %d of chain %s is above its %s head %d, not yet cross-unsafe for this filter",
			m.BlockNumber, m.ChainID.Dec(), c.cfg.CrossUnsafeHead, w.heads.rule.Number), reasonNotSafeYet
	}
	lg, ok := w.logs[h.Hash].find(m.LogIndex)
	if !ok {
		return verdict(sc.ClassInvalid, sc.CodeConflict, "conflict: block %d of chain %s has no log %d",
			m.BlockNumber, m.ChainID.Dec(), m.LogIndex), reasonMissingLog
	}
	if !accesslist.VerifyChecksum(m, lg.origin, lg.payloadHash) {
		return verdict(sc.ClassInvalid, sc.CodeConflict, "conflict: checksum does not match log %d of block %d on chain %s",
			m.LogIndex, m.BlockNumber, m.ChainID.Dec()), reasonChecksum
	}
	return sc.Verdict{Class: sc.ClassValid, Endpoint: "light"}, reasonValid
}
