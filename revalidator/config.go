package revalidator

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/interopgate/interopgate/internal/config"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// Config configures a Revalidator. Durations are config.Duration so the struct is the TOML
// section as it is.
type Config struct {
	ChainID   uint64          `toml:"chain_id" comment:"the chain whose mempool is revalidated"`
	BlockTime config.Duration `toml:"block_time" comment:"the chain's block time: the next block's timestamp is the head's plus this"`

	HeadPoll       config.Duration `toml:"head_poll" comment:"how often the node's head is read; each new head starts a cycle"`
	SourcePoll     config.Duration `toml:"source_poll" comment:"how often each source chain's head is read (with sources set): a reorg there starts a cycle at once"`
	PoolPoll       config.Duration `toml:"pool_poll" comment:"how often the node's pending pool is read between heads"`
	PlanBlocks     int             `toml:"plan_blocks" comment:"blocks planned ahead each cycle (their interop txs are checked first)"`
	Recheck        config.Duration `toml:"recheck" comment:"every tracked message is rechecked at least this often"`
	MaxCycleChecks int             `toml:"max_cycle_checks" comment:"messages checked in one cycle, the presumed blocks' first"`
	CycleTimeout   config.Duration `toml:"cycle_timeout" comment:"bound of one cycle's upstream round"`

	MaxTxs      int `toml:"max_txs" comment:"pending txs tracked; beyond it new txs are not tracked (their checks go upstream) and counted"`
	MaxTxBytes  int `toml:"max_tx_bytes" comment:"bytes of tracked interop txs' access lists; same policy"`
	MaxMessages int `toml:"max_messages" comment:"message verdicts kept"`

	ValidTTL   config.Duration `toml:"valid_ttl" comment:"how long a message proven valid is answered from memory without a recheck"`
	InvalidTTL config.Duration `toml:"invalid_ttl" comment:"how long a message proven invalid is"`
	FeedGrace  config.Duration `toml:"feed_grace" comment:"how long a tx from the gateway's feed is tracked before it reaches the node's pool"`

	MinSafety         string `toml:"min_safety" comment:"safety level asked of the filters: unsafe or cross-unsafe"`
	UpstreamInFlight  int    `toml:"upstream_calls_in_flight" comment:"serve-path misses: upstream calls in flight; others wait and go together"`
	UpstreamBatchSize int    `toml:"upstream_batch_size" comment:"serve-path misses: most checks in one coalesced upstream call"`
	MaxInvalid        int    `toml:"max_invalid" comment:"invalid txs remembered for interopgate_invalidTransactions"`

	// What the node's pool does with what the revalidator finds (docs/revalidator.md, "op-reth").
	ExecutionClient  string          `toml:"execution_client" comment:"the sequencer's execution client: op-reth or op-geth; sets the defaults of eviction"`
	Eviction         string          `toml:"eviction" comment:"how a tx found invalid leaves the node's pool: failsafe-pulse (answer admin_getFailsafeEnabled true until the node evicted it: op-reth drops every interop tx at its next block, restore brings the valid ones back), clear-txpool (admin_clearTxpool at once, then every other tx sent back: needs the node's admin namespace; a pulse when the call fails) or none (op-geth drops it at its own re-check); empty = by execution_client"`
	PulseMax         config.Duration `toml:"pulse_max" comment:"longest failsafe pulse, whether or not the node evicted the tx; the lever acts on one tx at most once in it"`
	ClearMinInterval config.Duration `toml:"clear_min_interval" comment:"with clear-txpool: admin_clearTxpool at most once in this (a pulse in between)"`
	ClearMaxTxs      int             `toml:"clear_max_txs" comment:"with clear-txpool: a pool of more pending txs than this gets a pulse instead (a clear sends the whole pool back)"`
	Restore          bool            `toml:"restore" comment:"send back to the node the interop txs it dropped without mining them (a failsafe episode, a reorg of its chain, a pulse) while they are still valid and their nonce unused"`
	RestorePerCycle  int             `toml:"restore_per_cycle" comment:"txs sent back per cycle, at most"`
	RestoreMax       int             `toml:"restore_max" comment:"dropped txs held for restoring; beyond it new ones are not held"`
	RestoreMaxBytes  int             `toml:"restore_max_bytes" comment:"bytes of signed txs held for restoring (dropped; and mined lately, for a reorg of the node's chain: each up to this)"`
	RestoreTTL       config.Duration `toml:"restore_ttl" comment:"how long a dropped tx is held for restoring"`
	StatusTTL        config.Duration `toml:"status_ttl" comment:"how long the tx statuses it records (invalid, restored) are kept, with Redis or a gateway in the same process; as the gateway's status_ttl"`
}

// Execution clients and eviction levers.
const (
	ClientOpReth = "op-reth"
	ClientOpGeth = "op-geth"

	EvictFailsafePulse = "failsafe-pulse"
	EvictClearTxpool   = "clear-txpool"
	EvictNone          = "none"
)

// eviction is the lever in use: Eviction, or the execution client's default.
func (c *Config) eviction() string {
	if c.Eviction != "" {
		return c.Eviction
	}
	if c.ExecutionClient == ClientOpGeth {
		return EvictNone
	}
	return EvictFailsafePulse
}

// DefaultConfig is the revalidator's defaults; ChainID must still be set.
func DefaultConfig() Config {
	d := func(v time.Duration) config.Duration { return config.Duration(v) }
	return Config{
		BlockTime: d(2 * time.Second), HeadPoll: d(100 * time.Millisecond), SourcePoll: d(250 * time.Millisecond), PoolPoll: d(time.Second), PlanBlocks: 1,
		Recheck: d(12 * time.Second), MaxCycleChecks: 5000, CycleTimeout: d(5 * time.Second),
		MaxTxs: 100_000, MaxTxBytes: 256 << 20, MaxMessages: 1_000_000,
		ValidTTL: d(30 * time.Second), InvalidTTL: d(12 * time.Second), FeedGrace: d(30 * time.Second),
		MinSafety: string(sc.SafetyCrossUnsafe), UpstreamInFlight: 8, UpstreamBatchSize: 100, MaxInvalid: 10_000,
		ExecutionClient: ClientOpReth, PulseMax: d(10 * time.Second), ClearMinInterval: d(2 * time.Second), ClearMaxTxs: 10_000, Restore: true, RestorePerCycle: 256,
		RestoreMax: 10_000, RestoreMaxBytes: 32 << 20, RestoreTTL: d(10 * time.Minute), StatusTTL: d(time.Hour),
	}
}

// Check validates the config and names every bad field at once (errors.Join), in a stable order.
func (c *Config) Check() error {
	var errs []error
	bad := func(err error) { errs = append(errs, err) }
	if c.ChainID == 0 {
		bad(errors.New("chain_id is required"))
	}
	if _, err := sc.ParseCheckSafety(c.MinSafety); err != nil {
		bad(fmt.Errorf("min_safety: %w", err))
	}
	positive := map[string]int64{
		"block_time": int64(c.BlockTime), "head_poll": int64(c.HeadPoll), "source_poll": int64(c.SourcePoll), "pool_poll": int64(c.PoolPoll),
		"plan_blocks": int64(c.PlanBlocks), "recheck": int64(c.Recheck), "max_cycle_checks": int64(c.MaxCycleChecks),
		"cycle_timeout": int64(c.CycleTimeout), "max_txs": int64(c.MaxTxs), "max_tx_bytes": int64(c.MaxTxBytes),
		"max_messages": int64(c.MaxMessages), "valid_ttl": int64(c.ValidTTL), "invalid_ttl": int64(c.InvalidTTL),
		"upstream_calls_in_flight": int64(c.UpstreamInFlight), "upstream_batch_size": int64(c.UpstreamBatchSize),
		"max_invalid": int64(c.MaxInvalid), "status_ttl": int64(c.StatusTTL),
	}
	for _, name := range slices.Sorted(maps.Keys(positive)) {
		if positive[name] <= 0 {
			bad(fmt.Errorf("%s must be positive", name))
		}
	}
	if c.FeedGrace < 0 {
		bad(errors.New("feed_grace must not be negative"))
	}
	switch c.ExecutionClient {
	case ClientOpReth, ClientOpGeth:
	default:
		bad(fmt.Errorf("execution_client %q: want %s or %s", c.ExecutionClient, ClientOpReth, ClientOpGeth))
	}
	switch c.Eviction {
	case "", EvictFailsafePulse, EvictClearTxpool, EvictNone:
	default:
		bad(fmt.Errorf("eviction %q: want %s, %s or %s (or empty: by execution_client)", c.Eviction, EvictFailsafePulse, EvictClearTxpool, EvictNone))
	}
	if e := c.eviction(); (e == EvictFailsafePulse || e == EvictClearTxpool) && c.PulseMax <= 0 {
		bad(errors.New("pulse_max must be positive with eviction failsafe-pulse or clear-txpool (its fallback)"))
	}
	if c.eviction() == EvictClearTxpool && (c.ClearMinInterval < 0 || c.ClearMaxTxs <= 0) {
		bad(errors.New("clear_min_interval must not be negative and clear_max_txs must be positive with eviction clear-txpool"))
	}
	if c.Restore && (c.RestorePerCycle <= 0 || c.RestoreMax <= 0 || c.RestoreMaxBytes <= 0 || c.RestoreTTL <= 0) {
		bad(errors.New("restore_per_cycle, restore_max, restore_max_bytes and restore_ttl must be positive with restore on"))
	}
	return errors.Join(errs...)
}
