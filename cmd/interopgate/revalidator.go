package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/holiman/uint256"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/filterapi"
	"github.com/interopgate/interopgate/internal/config"
	"github.com/interopgate/interopgate/revalidator"
	"github.com/interopgate/interopgate/store"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// revalidatorConfig is the file of `interopgate revalidator --config F`.
type revalidatorConfig struct {
	RPC struct {
		Addr string `toml:"addr" comment:"listen address of the check API the execution client asks (--rpc.addr)"`
		Port int    `toml:"port" comment:"listen port; 0 picks a free one (--rpc.port)"`
	} `toml:"rpc"`
	Revalidator revalidator.Config `toml:"revalidator"`
	Node        struct {
		URL string `toml:"url" comment:"the sequencer's execution client JSON-RPC (eth and txpool namespaces)"`
	} `toml:"node"`
	// Sources are the other chains of the dependency set, whose heads are watched for reorgs.
	Sources []sourceConfig `toml:"sources" comment:"the other chains of the dependency set ([[sources]] chain_id, url): a reorg of one re-checks its messages at once"`
	Filters filtersConfig  `toml:"filters"`
	Interop interopConfig  `toml:"interop"`
	Redis   redisConfig    `toml:"redis" comment:"optional: read the gateway's feed of accepted txs, and publish the invalid txs found (the set <prefix>invalid)"`
	API     struct {
		MaxBodyBytes     int             `toml:"max_body_bytes" comment:"request body"`
		MaxBodyBytesHeld int             `toml:"max_body_bytes_held" comment:"request bodies being read or answered, in all; past it -32005/503"`
		MaxBatchSize     int             `toml:"max_batch_size" comment:"calls in one JSON-RPC batch"`
		MaxInboxEntries  int             `toml:"max_inbox_entries" comment:"inbox entries of one check"`
		CheckTimeout     config.Duration `toml:"check_timeout" comment:"bound of the checks of one request"`
	} `toml:"api"`
}

// sourceConfig is one source chain whose head the revalidator watches.
type sourceConfig struct {
	ChainID uint64 `toml:"chain_id" comment:"a chain of the dependency set; a reorg of it re-checks its messages at once, not at the sequencer's next head"`
	URL     string `toml:"url" comment:"its JSON-RPC (eth_getBlockByNumber)"`
}

func defaultRevalidatorConfig() *revalidatorConfig {
	var c revalidatorConfig
	c.RPC.Addr, c.RPC.Port = "127.0.0.1", 8561
	c.Revalidator = revalidator.DefaultConfig()
	c.Filters = defaultFiltersConfig()
	c.Redis = defaultRedisConfig()
	c.API.MaxBodyBytes = 5 << 20
	c.API.MaxBodyBytesHeld = 64 << 20
	c.API.MaxBatchSize = 1000
	c.API.MaxInboxEntries = 1024
	c.API.CheckTimeout = config.Duration(10 * time.Second)
	return &c
}

func revalidatorCommand(st *appState) *cli.Command {
	return &cli.Command{
		Name:  "revalidator",
		Usage: "run the mempool revalidator beside the sequencer's execution client",
		Description: "Mirrors the execution client's pending pool, checks the presumed next block's interop txs in " +
			"one batched call per head, and serves interop_/supervisor_checkAccessList from memory, so op-geth " +
			"(--rollup.interoprpc) and op-reth (--rollup.interop-http) point at it unchanged. Every config key can " +
			"also be set with INTEROPGATE_REVALIDATOR_<SECTION>_<KEY>.",
		Flags: serviceFlags("INTEROPGATE_REVALIDATOR", defaultRevalidatorConfig().RPC.Addr, defaultRevalidatorConfig().RPC.Port),
		Action: func(c *cli.Context) error {
			cfg := defaultRevalidatorConfig()
			done, err := loadServiceConfig(c, st, cfg, &cfg.RPC.Addr, &cfg.RPC.Port, "INTEROPGATE_REVALIDATOR")
			if done || err != nil {
				return err
			}
			return runRevalidator(c, st, cfg)
		},
	}
}

// revalidatorParts is a built revalidator, its server, and what runs or closes with them.
type revalidatorParts struct {
	r       *revalidator.Revalidator
	srv     *filterapi.Server
	watcher *sc.FailsafeWatcher
	stores  *store.Stores
}

func (p *revalidatorParts) close() {
	if p.r != nil {
		p.r.Close()
	}
	if p.stores != nil {
		_ = p.stores.Close()
	}
}

// buildRevalidator assembles a revalidator from its config. Shared by `revalidator` and `devnet`
// (which hands it its gateway's in-memory stores, gw; otherwise the feed and the tx statuses are
// Redis's, when configured).
func buildRevalidator(ctx context.Context, cfg *revalidatorConfig, log *zap.Logger, reg prometheus.Registerer, gw *store.Stores) (*revalidatorParts, error) {
	// The parts that need no connection are checked together: one run names every error.
	var errs configErrors
	if u, err := url.Parse(cfg.Node.URL); cfg.Node.URL == "" {
		errs.add("", errors.New("node.url is required: the sequencer's execution client"))
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		errs.add("", fmt.Errorf("node.url %q: want an http://, https://, ws:// or wss:// URL of the sequencer's execution client", cfg.Node.URL))
	}
	errs.add("revalidator", cfg.Revalidator.Check())
	if cfg.Redis.SlowOps != 0 || cfg.Redis.SlowOp != 0 {
		errs.add("redis", errors.New("slow_op and slow_ops are the gateway's (its fallback to local state): the revalidator has none"))
	}
	deps, err := cfg.Interop.dependencySet()
	errs.add("", err)
	if deps != nil && cfg.Revalidator.ChainID != 0 && !deps.Contains(*uint256.NewInt(cfg.Revalidator.ChainID)) {
		errs.add("revalidator", fmt.Errorf("chain_id %d is not in the dependency set", cfg.Revalidator.ChainID))
	}
	errs.add("", cfg.Redis.check())
	pool, watcher, err := cfg.Filters.build(log, sc.NewMetrics(reg))
	errs.add("", err)
	var sources []revalidator.Source
	seenSources := map[uint64]int{}
	for i, s := range cfg.Sources {
		where := fmt.Sprintf("sources[%d]", i)
		if j, dup := seenSources[s.ChainID]; dup && s.ChainID != 0 {
			errs.add(where, fmt.Errorf("chain %d is sources[%d]'s too", s.ChainID, j))
		}
		seenSources[s.ChainID] = i
		switch u, err := url.Parse(s.URL); {
		case s.ChainID == 0 || s.URL == "":
			errs.add(where, errors.New("chain_id and url are required"))
		case err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "":
			errs.add(where, fmt.Errorf("url %q: want an http://, https://, ws:// or wss:// URL of the source chain's node", s.URL))
		case s.ChainID == cfg.Revalidator.ChainID:
			errs.add(where, fmt.Errorf("chain %d is the revalidator's own chain: sources are the chains its messages come from", s.ChainID))
		case deps != nil && !deps.Contains(*uint256.NewInt(s.ChainID)):
			errs.add(where, fmt.Errorf("chain %d is not in the dependency set", s.ChainID))
		}
		sources = append(sources, revalidator.Source{ChainID: s.ChainID, URL: s.URL})
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	cfg.Interop.noteUnused(log)
	parts := &revalidatorParts{watcher: watcher}
	if cfg.Redis.checkOnly {
		return parts, nil // --check-config: no connection (a ws:// node would be dialled; found by a review)
	}
	d := revalidator.Deps{Upstream: pool, Failsafe: watcher.Enabled, UpstreamAnswering: watcher.QuorumAnswers, Dependencies: deps, NodeURL: cfg.Node.URL,
		Log: log, Metrics: revalidator.NewMetrics(reg), Sources: sources}
	if gw != nil { // a gateway in the same process (the devnet's): its feed and statuses
		d.Feed, d.Statuses = gw.Feed, gw.Statuses
	} else if cfg.Redis.enabled() {
		st, err := cfg.Redis.stores(0, 0, 0, nil)
		if err != nil {
			return nil, err
		}
		if err := cfg.Redis.probe(st, log); err != nil {
			_ = st.Close()
			return nil, err
		}
		parts.stores, d.Feed, d.Invalid, d.Statuses = &st, st.Feed, st.Invalid, st.Statuses
	}
	if parts.r, err = revalidator.New(ctx, cfg.Revalidator, d); err != nil {
		if parts.stores != nil {
			_ = parts.stores.Close()
		}
		return nil, err
	}
	parts.srv, err = revalidator.NewServer(parts.r, filterapi.Config{
		MaxBodyBytes: cfg.API.MaxBodyBytes, MaxBodyBytesHeld: cfg.API.MaxBodyBytesHeld, MaxBatchSize: cfg.API.MaxBatchSize, MaxInboxEntries: cfg.API.MaxInboxEntries,
		CheckTimeout: cfg.API.CheckTimeout.D(),
	}, filterapi.WithLogger(log), filterapi.WithMetrics(filterapi.NewMetrics(reg)))
	if err != nil {
		parts.close()
		return nil, err
	}
	return parts, nil
}

func runRevalidator(c *cli.Context, st *appState, cfg *revalidatorConfig) error {
	ctx, cancel := signalContext(c.Context)
	defer cancel()
	reg := newRegistry()
	cfg.Redis.checkOnly = c.Bool("check-config")
	parts, err := buildRevalidator(ctx, cfg, st.log, reg, nil)
	if err != nil {
		return configExit(err, cfg, "INTEROPGATE_REVALIDATOR")
	}
	defer parts.close()
	if done, err := configOK(c, st); done {
		return err
	}
	stopMetrics, err := startMetrics(c, reg, st.log)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	defer stopMetrics()
	go parts.watcher.Run(ctx)
	if err := parts.srv.Start(net.JoinHostPort(cfg.RPC.Addr, strconv.Itoa(cfg.RPC.Port))); err != nil {
		return cli.Exit(err.Error(), 2)
	}
	st.log.Info("revalidator listening", zap.String("url", parts.srv.URL()), zap.String("node", cfg.Node.URL),
		zap.Uint64("chain_id", cfg.Revalidator.ChainID))
	fmt.Fprintf(st.stdout, "revalidator listening on %s\n", parts.srv.URL())
	parts.r.Run(ctx)
	st.log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	return parts.srv.Shutdown(sctx)
}
