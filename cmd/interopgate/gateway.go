package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/ingress"
	"github.com/interopgate/interopgate/internal/config"
	"github.com/interopgate/interopgate/store"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// gatewayConfig is the file of `interopgate gateway --config F`.
type gatewayConfig struct {
	RPC struct {
		Addr string `toml:"addr" comment:"listen address (--rpc.addr)"`
		Port int    `toml:"port" comment:"listen port; 0 picks a free one (--rpc.port)"`
	} `toml:"rpc"`
	Gateway  ingress.Config `toml:"gateway"`
	Sentries struct {
		Timeout        config.Duration         `toml:"timeout" comment:"timeout of each request to a sentry"`
		HealthInterval config.Duration         `toml:"health_interval" comment:"how often each sentry is probed (eth_blockNumber: its health and its head)"`
		HealthFailures int                     `toml:"health_failures" comment:"consecutive failures that mark a sentry unhealthy"`
		MaxConns       int                     `toml:"max_conns" comment:"connections per sentry"`
		MaxBlockLag    uint64                  `toml:"max_block_lag" comment:"a sentry more than this many blocks behind the best one gets no reads and no sends until it catches up; 0 = no bound"`
		MaxHeadAge     config.Duration         `toml:"max_head_age" comment:"a sentry whose head has not moved for this long while another's did gets no reads and no sends; 0 = no bound"`
		Backends       []ingress.BackendConfig `toml:"backends" comment:"the sentry nodes valid txs and reads go to"`
	} `toml:"sentries"`
	Filters filtersConfig `toml:"filters"`
	Interop interopConfig `toml:"interop"`
	Redis   redisConfig   `toml:"redis"`
	State   struct {
		MaxQueue      int `toml:"max_queue" comment:"transactions in the delay queue (Redis and memory)"`
		MaxQueueBytes int `toml:"max_queue_bytes" comment:"bytes of raw transactions in the delay queue (Redis and memory)"`
		FeedSize      int `toml:"feed_size" comment:"accepted interop txs kept on the feed for the revalidator (approximate in Redis)"`
		MaxVerdicts   int `toml:"max_verdicts" comment:"cached verdicts in memory"`
		MaxKeys       int `toml:"max_rate_keys" comment:"rate-limited client IPs tracked in memory, and as many senders (separate tables)"`
		MaxStatuses   int `toml:"max_statuses" comment:"transaction statuses kept in memory"`
	} `toml:"state"`
}

func defaultGatewayConfig() *gatewayConfig {
	var c gatewayConfig
	c.RPC.Addr, c.RPC.Port = "0.0.0.0", 8545
	c.Gateway = ingress.DefaultConfig()
	c.Sentries.Timeout = config.Duration(5 * time.Second)
	c.Sentries.HealthInterval = config.Duration(2 * time.Second)
	c.Sentries.HealthFailures = 2
	c.Sentries.MaxConns = 512
	c.Sentries.MaxBlockLag = 8
	c.Sentries.MaxHeadAge = config.Duration(time.Minute)
	c.Filters = defaultFiltersConfig()
	c.Redis = defaultRedisConfig()
	c.Redis.SlowOps = 5
	c.State.MaxQueue, c.State.FeedSize, c.State.MaxQueueBytes = 10_000, 10_000, 256<<20
	c.State.MaxVerdicts, c.State.MaxKeys, c.State.MaxStatuses = 100_000, 100_000, 100_000
	return &c
}

func (c *gatewayConfig) dependencySet() (*accesslist.DependencySet, error) {
	return c.Interop.dependencySet()
}

func gatewayCommand(st *appState) *cli.Command {
	return &cli.Command{
		Name:  "gateway",
		Usage: "run the ingress gateway in front of the sentry nodes",
		Description: "A JSON-RPC proxy that admits interop transactions only once the interop filters prove their " +
			"executing messages, and forwards allowed reads untouched. Every config key can also be set with " +
			"INTEROPGATE_GATEWAY_<SECTION>_<KEY> (for example INTEROPGATE_GATEWAY_GATEWAY_CHAIN_ID=902).",
		Flags: serviceFlags("INTEROPGATE_GATEWAY", defaultGatewayConfig().RPC.Addr, defaultGatewayConfig().RPC.Port),
		Action: func(c *cli.Context) error {
			cfg := defaultGatewayConfig()
			done, err := loadServiceConfig(c, st, cfg, &cfg.RPC.Addr, &cfg.RPC.Port, "INTEROPGATE_GATEWAY")
			if done || err != nil {
				return err
			}
			return runGateway(c, st, cfg)
		},
	}
}

// gatewayParts is a built gateway and what must be closed after it.
type gatewayParts struct {
	gw      *ingress.Gateway
	stores  store.Stores
	watcher *sc.FailsafeWatcher
}

// buildGateway assembles a gateway from its config: filters, failsafe watcher, sentries,
// state. Shared by `gateway` and `devnet`.
func buildGateway(cfg *gatewayConfig, log *zap.Logger, reg prometheus.Registerer) (*gatewayParts, error) {
	// The parts that need no connection are checked together: one run names every error.
	var errs configErrors
	errs.add("gateway", cfg.Gateway.Check())
	deps, err := cfg.dependencySet()
	errs.add("", err)
	if deps != nil && cfg.Gateway.ChainID != 0 {
		errs.add("gateway", cfg.Gateway.CheckDependencies(deps))
	}
	errs.add("", cfg.Redis.check())
	pool, watcher, err := cfg.Filters.build(log, sc.NewMetrics(reg))
	errs.add("", err)
	groupCfg := ingress.GroupConfig{
		Backends: cfg.Sentries.Backends, Timeout: cfg.Sentries.Timeout.D(), HealthInterval: cfg.Sentries.HealthInterval.D(),
		HealthFailures: cfg.Sentries.HealthFailures, MaxConns: cfg.Sentries.MaxConns,
		MaxBlockLag: cfg.Sentries.MaxBlockLag, MaxHeadAge: cfg.Sentries.MaxHeadAge.D(),
	}
	errs.add("sentries", groupCfg.Check())
	keys, err := ingress.LoadAPIKeys(cfg.Gateway.APIKeysFile, os.Getenv("INTEROPGATE_API_KEYS"))
	errs.add("", err)
	if err := errs.err(); err != nil {
		return nil, err
	}
	cfg.Interop.noteUnused(log)
	if len(cfg.Gateway.Methods) == 0 {
		log.Warn("gateway.methods is empty: every read is refused (-32601); only sends are admitted")
	}
	metrics := ingress.NewMetrics(reg)
	group, err := ingress.NewGroup(groupCfg, log, metrics)
	if err != nil {
		return nil, fmt.Errorf("sentries: %w", err)
	}
	stores := store.NewMemory(store.MemoryConfig{MaxQueue: cfg.State.MaxQueue, MaxQueueBytes: cfg.State.MaxQueueBytes, FeedSize: cfg.State.FeedSize,
		MaxVerdicts: cfg.State.MaxVerdicts, MaxKeys: cfg.State.MaxKeys, MaxStatuses: cfg.State.MaxStatuses})
	if cfg.Redis.enabled() {
		r, err := cfg.Redis.stores(cfg.State.MaxQueue, cfg.State.MaxQueueBytes, cfg.State.FeedSize, metrics.RedisOp)
		if err != nil {
			return nil, err
		}
		if err := cfg.Redis.probe(r, log); err != nil {
			_ = r.Close()
			return nil, err
		}
		errs := newErrorLog(log, "redis operation failed: running on local state", 10*time.Second)
		redis.SetLogger(goRedisLog{errs}) // go-redis's own lines, in this log and rate-limited
		stores = store.Fallback(r, stores, store.FallbackConfig{
			SlowOp: cfg.Redis.slowOp(), SlowOps: cfg.Redis.SlowOps,
			OnError: func(op string, err error) {
				metrics.RedisError(op, err)
				errs.note(op, err)
			},
			OnState: func(up bool) {
				metrics.RedisUp(up)
				if up {
					log.Info("redis is back: sharing state again")
				} else {
					log.Warn("redis unavailable: running on local state")
				}
			},
		})
	}
	if len(keys) > 0 {
		log.Info("API keys loaded", zap.Int("keys", len(keys)), zap.String("header", cfg.Gateway.APIKeyHeader))
	}
	gw, err := ingress.New(cfg.Gateway, ingress.Deps{Checker: pool, CheckerID: cfg.Filters.checkerID(), Failsafe: watcher.Enabled, Filters: watcher.Reachability, Dependencies: deps,
		Backends: group, Stores: &stores, Log: log, Metrics: metrics, APIKeys: keys})
	if err != nil {
		stores.Close()
		return nil, err
	}
	return &gatewayParts{gw: gw, stores: stores, watcher: watcher}, nil
}

func runGateway(c *cli.Context, st *appState, cfg *gatewayConfig) error {
	reg := newRegistry()
	cfg.Redis.checkOnly = c.Bool("check-config")
	parts, err := buildGateway(cfg, st.log, reg)
	if err != nil {
		return configExit(err, cfg, "INTEROPGATE_GATEWAY")
	}
	defer parts.stores.Close()
	if done, err := configOK(c, st); done {
		return err
	}
	ctx, cancel := signalContext(c.Context)
	defer cancel()
	go parts.watcher.Run(ctx)
	stopMetrics, err := startMetrics(c, reg, st.log)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	defer stopMetrics()
	if err := parts.gw.Start(net.JoinHostPort(cfg.RPC.Addr, strconv.Itoa(cfg.RPC.Port))); err != nil {
		return cli.Exit(err.Error(), 2)
	}
	fmt.Fprintf(st.stdout, "gateway listening on %s\n", parts.gw.URL())
	<-ctx.Done()
	st.log.Info("shutting down the gateway")
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	return parts.gw.Shutdown(sctx)
}
