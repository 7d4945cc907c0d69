package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/filterapi"
	"github.com/interopgate/interopgate/internal/config"
	"github.com/interopgate/interopgate/supervisorclient/light"
)

// filterConfig is the file of `interopgate filter --config F`.
type filterConfig struct {
	RPC struct {
		Addr string `toml:"addr" comment:"listen address of the JSON-RPC API (--rpc.addr)"`
		Port int    `toml:"port" comment:"listen port; 0 picks a free one (--rpc.port)"`
	} `toml:"rpc"`
	Filter struct {
		DependencySet         string           `toml:"dependency_set" comment:"path of the dependency-set JSON (relative: to the working directory); empty: every chain below, with expiry_window"`
		ExpiryWindow          uint64           `toml:"expiry_window" comment:"message expiry window in seconds when no dependency_set file is given; 0 = 7 days"`
		CrossUnsafeHead       string           `toml:"cross_unsafe_head" comment:"head a cross-unsafe message's block must be at or below: safe, finalized or latest"`
		MaxConcurrentPerChain int              `toml:"max_concurrent_per_chain" comment:"in-flight HTTP requests to each chain's RPC"`
		LogCacheRecords       int              `toml:"log_cache_records" comment:"bound of the block-log cache, in log records"`
		UpstreamTimeout       config.Duration  `toml:"upstream_timeout" comment:"timeout of each request to a chain's RPC"`
		CallsInFlight         int              `toml:"calls_in_flight" comment:"proofs in flight at once; checks arriving meanwhile are proved together in the next one (0 = every request alone)"`
		MaxBatch              int              `toml:"max_batch" comment:"most checks proved together"`
		MaxBatchCalls         int              `toml:"max_batch_calls" comment:"calls per JSON-RPC batch to a chain's RPC (geth refuses more than 1,000); larger needs are split"`
		WatchInterval         config.Duration  `toml:"watch_interval" comment:"how often every chain's head is read: until each was read once, checks answer -320400"`
		HeadRefreshInterval   config.Duration  `toml:"head_refresh_interval" comment:"after an on-demand read of a chain's latest block (for a message newer than the slowest chain) that found no new block, the next waits this long"`
		FailsafeAfter         config.Duration  `toml:"failsafe_after" comment:"failsafe goes on while a chain cannot be read for longer than this, as the reference on ingestion errors; 0 = never"`
		Chains                []light.ChainRPC `toml:"chains" comment:"every chain of the dependency set and its RPC URL"`
	} `toml:"filter"`
	API struct {
		MaxBodyBytes     int             `toml:"max_body_bytes" comment:"request body"`
		MaxBodyBytesHeld int             `toml:"max_body_bytes_held" comment:"request bodies being read or answered, in all; past it -32005/503"`
		MaxBatchSize     int             `toml:"max_batch_size" comment:"calls in one JSON-RPC batch"`
		MaxInboxEntries  int             `toml:"max_inbox_entries" comment:"inbox entries of one check"`
		CheckTimeout     config.Duration `toml:"check_timeout" comment:"bound of the checks of one request"`
		AllowSetFailsafe bool            `toml:"allow_set_failsafe" comment:"serve admin_setFailsafeEnabled (never expose this publicly)"`
	} `toml:"api"`
}

func defaultFilterConfig() *filterConfig {
	var c filterConfig
	c.RPC.Addr = "127.0.0.1"
	c.RPC.Port = 8560
	c.Filter.CrossUnsafeHead = string(light.HeadLatest)
	c.Filter.MaxBatchCalls = light.DefaultMaxBatchCalls
	c.Filter.WatchInterval = config.Duration(time.Second)
	c.Filter.FailsafeAfter = config.Duration(30 * time.Second)
	c.Filter.HeadRefreshInterval = config.Duration(light.DefaultHeadRefreshInterval)
	c.Filter.MaxConcurrentPerChain = light.DefaultMaxConcurrentPerChain
	c.Filter.LogCacheRecords = light.DefaultLogCacheRecords
	c.Filter.UpstreamTimeout = config.Duration(light.DefaultTimeout)
	c.Filter.CallsInFlight = 8
	c.Filter.MaxBatch = 256
	c.API.MaxBodyBytes = 5 << 20
	c.API.MaxBodyBytesHeld = 64 << 20
	c.API.MaxBatchSize = 1000
	c.API.MaxInboxEntries = 1024
	c.API.CheckTimeout = config.Duration(10 * time.Second)
	return &c
}

// dependencySet reads the file or, without one, builds the set of the configured chains.
func (c *filterConfig) dependencySet() (*accesslist.DependencySet, error) {
	ids := make([]uint64, len(c.Filter.Chains))
	for i, ch := range c.Filter.Chains {
		ids[i] = ch.ChainID
	}
	return loadDependencySet("filter", c.Filter.DependencySet, ids, c.Filter.ExpiryWindow)
}

func filterCommand(st *appState) *cli.Command {
	return &cli.Command{
		Name:  "filter",
		Usage: "run the light interop filter (eth_getLogs) as a service",
		Description: "Serves interop_checkAccessList, supervisor_checkAccessList and admin_getFailsafeEnabled, " +
			"proving each executing message from the source chains' RPC. Every config key can also be set " +
			"with INTEROPGATE_FILTER_<SECTION>_<KEY> (for example INTEROPGATE_FILTER_RPC_PORT).",
		Flags: serviceFlags("INTEROPGATE_FILTER", defaultFilterConfig().RPC.Addr, defaultFilterConfig().RPC.Port),
		Action: func(c *cli.Context) error {
			cfg := defaultFilterConfig()
			done, err := loadServiceConfig(c, st, cfg, &cfg.RPC.Addr, &cfg.RPC.Port, "INTEROPGATE_FILTER")
			if done || err != nil {
				return err
			}
			return runFilter(c, st, cfg)
		},
	}
}

func runFilter(c *cli.Context, st *appState, cfg *filterConfig) error {
	// Everything that needs no connection is checked together: one run names every error.
	var errs configErrors
	deps, err := cfg.dependencySet()
	errs.add("", err)
	lightCfg := light.Config{
		Chains: cfg.Filter.Chains, Dependencies: deps,
		CrossUnsafeHead:       light.HeadRule(cfg.Filter.CrossUnsafeHead),
		MaxConcurrentPerChain: cfg.Filter.MaxConcurrentPerChain,
		LogCacheRecords:       cfg.Filter.LogCacheRecords,
		Timeout:               cfg.Filter.UpstreamTimeout.D(),
		MaxBatchCalls:         cfg.Filter.MaxBatchCalls,
		HeadRefreshInterval:   cfg.Filter.HeadRefreshInterval.D(),
	}
	if deps != nil {
		errs.add("filter", lightCfg.Check())
	}
	apiCfg := filterapi.Config{
		MaxBodyBytes: cfg.API.MaxBodyBytes, MaxBodyBytesHeld: cfg.API.MaxBodyBytesHeld, MaxBatchSize: cfg.API.MaxBatchSize, MaxInboxEntries: cfg.API.MaxInboxEntries,
		CheckTimeout: cfg.API.CheckTimeout.D(), AllowSetFailsafe: cfg.API.AllowSetFailsafe,
	}
	errs.add("api", apiCfg.Check())
	if err := errs.err(); err != nil {
		return configExit(err, cfg, "INTEROPGATE_FILTER")
	}
	reg := newRegistry()
	checker, err := light.New(lightCfg, light.WithMetrics(light.NewMetrics(reg)))
	if err != nil {
		return configExit(err, cfg, "INTEROPGATE_FILTER")
	}
	defer checker.Close()
	api, err := filterapi.New(coalesce(checker, cfg.Filter.CallsInFlight, cfg.Filter.MaxBatch), apiCfg, filterapi.WithLogger(st.log), filterapi.WithMetrics(filterapi.NewMetrics(reg)), filterapi.WithReadiness(checker.Ready),
		filterapi.WithFailsafeSource(checker.Failsafe), filterapi.WithBlockHashes(checker.BlockHash))
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	if done, err := configOK(c, st); done {
		return err
	}
	ctx, cancel := signalContext(c.Context)
	defer cancel()
	checker.StartWatch(ctx, cfg.Filter.WatchInterval.D(), cfg.Filter.FailsafeAfter.D())
	stopMetrics, err := startMetrics(c, reg, st.log)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	defer stopMetrics()
	if err := api.Start(net.JoinHostPort(cfg.RPC.Addr, strconv.Itoa(cfg.RPC.Port))); err != nil {
		return cli.Exit(err.Error(), 2)
	}
	st.log.Info("light filter listening", zap.String("url", api.URL()), zap.Int("chains", len(cfg.Filter.Chains)),
		zap.Uint64("expiry_window", deps.ExpiryWindow()), zap.String("cross_unsafe_head", cfg.Filter.CrossUnsafeHead))
	fmt.Fprintf(st.stdout, "light filter listening on %s\n", api.URL())
	if err := checker.Ready(ctx); err != nil {
		st.log.Warn("not every chain answers yet; /readyz stays 503 until they do", zap.Error(err))
	}
	<-ctx.Done()
	st.log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	return api.Shutdown(sctx)
}
