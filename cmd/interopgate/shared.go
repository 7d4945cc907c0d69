package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/internal/config"
	"github.com/interopgate/interopgate/internal/ratelog"
	"github.com/interopgate/interopgate/store"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// filtersConfig is the [filters] section of the gateway and the revalidator: the interop
// filters asked, and how their answers combine.
type filtersConfig struct {
	Namespace         string           `toml:"namespace" comment:"interop (op-interop-filter) or supervisor (op-supervisor)"`
	Strategy          string           `toml:"strategy" comment:"first, failover, any or agreement"`
	MinResponses      int              `toml:"min_responses" comment:"agreement quorum of valid answers; 0 = every endpoint"`
	Cooldown          config.Duration  `toml:"cooldown" comment:"failover: how long a failing endpoint is skipped"`
	Timeout           config.Duration  `toml:"timeout" comment:"timeout of each filter HTTP call"`
	MaxBatchSize      int              `toml:"max_batch_size" comment:"checks per JSON-RPC batch to a filter"`
	OutOfScopeInvalid bool             `toml:"out_of_scope_invalid" comment:"treat -321100 as invalid (op-reth) instead of retry-later"`
	FailsafeInterval  config.Duration  `toml:"failsafe_interval" comment:"how often admin_getFailsafeEnabled is polled"`
	Endpoints         []filterEndpoint `toml:"endpoints" comment:"op-interop-filter, op-supervisor or interopgate filter instances"`
}

// filterEndpoint is one interop filter.
type filterEndpoint struct {
	Name string `toml:"name" comment:"labels the filter in verdicts, metrics and logs"`
	URL  string `toml:"url" comment:"the filter's JSON-RPC URL"`
	// For `interopgate failsafe enable|disable` only.
	AdminURL       string `toml:"admin_url" comment:"for interopgate failsafe: where admin_setFailsafeEnabled is served (op-interop-filter's --admin.rpc.addr/port); empty: url"`
	AdminJWTSecret string `toml:"admin_jwt_secret" comment:"for interopgate failsafe: path of that admin port's JWT secret (op-interop-filter's --admin.jwt-secret: 32 bytes, hex)"`
}

func defaultFiltersConfig() filtersConfig {
	return filtersConfig{
		Namespace: sc.NamespaceInterop, Strategy: string(sc.StrategyAgreement), Cooldown: config.Duration(sc.DefaultCooldown),
		Timeout: config.Duration(sc.DefaultTimeout), MaxBatchSize: sc.DefaultMaxBatchSize,
		FailsafeInterval: config.Duration(sc.DefaultFailsafeInterval),
	}
}

// build makes the filter pool and its failsafe watcher (not yet running).
func (f *filtersConfig) build(log *zap.Logger, m *sc.Metrics) (*sc.Pool, *sc.FailsafeWatcher, error) {
	var endpoints []sc.Endpoint
	var sources []sc.NamedFailsafeSource
	var errs configErrors
	names, urls := map[string]int{}, map[string]int{}
	for i, e := range f.Endpoints {
		// The same filter twice would count twice toward an agreement quorum, and its metrics
		// would mix (found by a review).
		if j, dup := names[e.Name]; dup && e.Name != "" {
			errs.add(fmt.Sprintf("filters.endpoints[%d]", i), fmt.Errorf("name %q is used by endpoints[%d] too", e.Name, j))
		}
		if e.AdminURL != "" {
			if u, err := url.Parse(e.AdminURL); err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
				errs.add(fmt.Sprintf("filters.endpoints[%d]", i), fmt.Errorf("admin_url %q: want an http://, https://, ws:// or wss:// URL", e.AdminURL))
			}
		}
		same := sameEndpoint(e.URL)
		if j, dup := urls[same]; dup && e.URL != "" {
			errs.add(fmt.Sprintf("filters.endpoints[%d]", i), fmt.Errorf("url %q is endpoints[%d]'s too: one filter counts once", e.URL, j))
		}
		names[e.Name], urls[same] = i, i
		client, err := sc.NewClient(sc.ClientConfig{
			URL: e.URL, Name: e.Name, Namespace: f.Namespace, Timeout: f.Timeout.D(),
			MaxBatchSize: f.MaxBatchSize, Classifier: sc.Classifier{OutOfScopeInvalid: f.OutOfScopeInvalid},
		}, sc.WithMetrics(m))
		if err != nil {
			errs.add(fmt.Sprintf("filters.endpoints[%d]", i), err)
			continue
		}
		endpoints = append(endpoints, sc.Endpoint{Name: client.Name(), Checker: client})
		sources = append(sources, sc.NamedFailsafeSource{Name: client.Name(), Source: client})
	}
	poolCfg := sc.PoolConfig{Strategy: sc.Strategy(f.Strategy), MinResponses: f.MinResponses, Cooldown: f.Cooldown.D()}
	errs.add("filters", poolCfg.Check(len(f.Endpoints)))
	if len(errs) > 0 {
		return nil, nil, errs.err()
	}
	if len(endpoints) == 0 {
		return nil, nil, errors.New("filters.endpoints: none configured: every interop tx would be rejected; name at least one op-interop-filter, op-supervisor or interopgate filter")
	}
	pool, err := sc.NewPool(endpoints, poolCfg)
	if err != nil {
		return nil, nil, err
	}
	// At most a line per endpoint per 10 s, however it flaps (found by a review: 118 lines a
	// minute); the metrics count every change.
	reach := newReachLog(log, 10*time.Second)
	watcher := sc.NewFailsafeWatcher(sources, sc.FailsafeWatcherConfig{
		Interval:  f.FailsafeInterval.D(),
		Needed:    pool.Needed(),
		OnlyFirst: sc.Strategy(f.Strategy) == sc.StrategyFirst,
		OnChange:  func(on bool) { log.Warn("interop failsafe changed", zap.Bool("enabled", on)) },
		OnError: func(ep string, err error) {
			log.Debug("failsafe poll failed", zap.String("filter", ep), zap.Error(err))
		},
		// Each filter's reachability and the quorum's headroom, with the real cause (issue 18:
		// with every filter unreachable nothing was logged).
		OnReachability: reach.note,
		OnHeadroom: func(headroom, up, needed int) {
			switch {
			case headroom < 0:
				log.Error("filters below quorum: every interop tx fails closed until enough answer",
					zap.Int("answering", up), zap.Int("needed", needed))
			case headroom == 0:
				log.Warn("filter quorum headroom is zero: one more endpoint down and interop txs fail closed",
					zap.Int("answering", up), zap.Int("needed", needed))
			default:
				log.Info("filter quorum headroom", zap.Int("headroom", headroom), zap.Int("answering", up), zap.Int("needed", needed))
			}
		},
	}, sc.WithMetrics(m))
	return pool, watcher, nil
}

// sameEndpoint reduces a URL to what says which server it reaches: scheme and host in lower case,
// the port as a number (the scheme's default when none), the path without a trailing slash, no
// fragment (found by a review: "…:8560/" and "HTTP://…:08560" passed as other filters).
func sameEndpoint(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "ws": "80", "https": "443", "wss": "443"}[scheme]
	}
	if n, err := strconv.Atoi(port); err == nil {
		port = strconv.Itoa(n)
	}
	return scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port + strings.TrimSuffix(u.EscapedPath(), "/") + "?" + u.RawQuery
}

// checkerID describes everything of the section that decides a verdict; gateways sharing a
// Redis share cached verdicts only when it is the same.
func (f *filtersConfig) checkerID() string {
	id := fmt.Sprintf("ns=%s strategy=%s min=%d oos_invalid=%t", f.Namespace, f.Strategy, f.MinResponses, f.OutOfScopeInvalid)
	for _, e := range f.Endpoints {
		id += " " + e.URL
	}
	return id
}

// interopConfig is the [interop] section: the dependency set.
type interopConfig struct {
	DependencySet string   `toml:"dependency_set" comment:"path of the dependency-set JSON (relative: to the working directory); empty: the chains below (given, they are not used)"`
	Chains        []uint64 `toml:"chains" comment:"the dependency set's chains when no file is given"`
	ExpiryWindow  uint64   `toml:"expiry_window" comment:"with chains: the expiry window in seconds, 0 = 7 days"`
}

func (c *interopConfig) dependencySet() (*accesslist.DependencySet, error) {
	return loadDependencySet("interop", c.DependencySet, c.Chains, c.ExpiryWindow)
}

// noteUnused logs the chains a dependency-set file makes unused (the chart sets the file through
// the environment over a config's chains, so both is not an error).
func (c *interopConfig) noteUnused(log *zap.Logger) {
	if c.DependencySet != "" && len(c.Chains) > 0 {
		log.Info("interop.chains not used: the dependency set is interop.dependency_set's", zap.String("dependency_set", c.DependencySet))
	}
}

// redisConfig is the [redis] section.
type redisConfig struct {
	URL        string          `toml:"url" comment:"redis:// URL; empty = state in memory (one replica). Put the password in INTEROPGATE_REDIS_PASSWORD"`
	Addrs      []string        `toml:"addrs" comment:"Redis Cluster or Sentinel addresses (instead of url)"`
	MasterName string          `toml:"master_name" comment:"Sentinel master name"`
	Mode       string          `toml:"mode" comment:"single, cluster or sentinel; empty: from the rest (master_name: sentinel; several addrs: cluster; else single). A Cluster given one address needs cluster: start-up refuses the wrong mode"`
	Prefix     string          `toml:"prefix" comment:"of every key; replicas that share state use the same prefix"`
	Timeout    config.Duration `toml:"timeout" comment:"per operation; past it the process falls back to local state"`
	SlowOp     config.Duration `toml:"slow_op" comment:"gateway only: an operation this slow or slower counts toward slow_ops; 0 = half of timeout"`
	SlowOps    int             `toml:"slow_ops" comment:"gateway only (the revalidator has no local fallback and refuses it): this many slow operations within a second skip Redis for a second, as a failure would (a slow Redis would add up per request); 0 = off"`
	// checkOnly is set by --check-config: no connection is made (the start-up probe is skipped).
	checkOnly bool
}

func defaultRedisConfig() redisConfig {
	return redisConfig{Prefix: "interopgate:", Timeout: config.Duration(250 * time.Millisecond)}
}

// slowOp is the duration from which an operation counts as slow.
func (c *redisConfig) slowOp() time.Duration {
	if c.SlowOp > 0 {
		return c.SlowOp.D()
	}
	return c.Timeout.D() / 2
}

func (c *redisConfig) enabled() bool { return c.URL != "" || len(c.Addrs) > 0 }

// stores connects (lazily) to the configured Redis.
// onOp, when set, observes each operation (a latency histogram).
func (c *redisConfig) stores(maxQueue, maxQueueBytes, feedSize int, onOp func(time.Duration, error)) (store.Stores, error) {
	cfg := c.storeConfig()
	cfg.MaxQueue, cfg.MaxQueueBytes, cfg.FeedSize, cfg.OnOp = maxQueue, maxQueueBytes, feedSize, onOp
	return store.NewRedis(cfg)
}

func (c *redisConfig) storeConfig() store.RedisConfig {
	return store.RedisConfig{URL: c.URL, Addrs: c.Addrs, MasterName: c.MasterName, Mode: c.Mode,
		Password: os.Getenv("INTEROPGATE_REDIS_PASSWORD"), Prefix: c.Prefix, Timeout: c.Timeout.D()}
}

// check validates the section without connecting.
func (c *redisConfig) check() error {
	var errs []error
	if !c.enabled() {
		if c.Mode != "" && c.Mode != store.ModeSingle && c.Mode != store.ModeCluster && c.Mode != store.ModeSentinel {
			errs = append(errs, fmt.Errorf("redis mode %q: want single, cluster or sentinel", c.Mode)) // a typo, even unused
		}
		return errors.Join(errs...)
	}
	errs = append(errs, c.storeConfig().Check())
	if c.Timeout <= 0 {
		// Found by a review: 0 s passed, and every operation then counted as slow.
		errs = append(errs, errors.New("redis timeout must be positive"))
	}
	if c.SlowOp < 0 || c.SlowOps < 0 {
		errs = append(errs, errors.New("redis slow_op and slow_ops must not be negative"))
	} else if c.SlowOps > 0 && c.Timeout > 0 && c.slowOp() >= c.Timeout.D() {
		errs = append(errs, fmt.Errorf("redis slow_op (%s) must be below timeout (%s): an operation that slow fails instead", c.slowOp(), c.Timeout.D()))
	}
	for _, a := range c.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil || strings.Contains(a, "://") {
			errs = append(errs, fmt.Errorf("redis addrs %q: want host:port (a URL goes in url)", a))
		}
	}
	return errors.Join(errs...)
}

// probe checks the configured Redis at start-up: a mode that does not match the deployment
// is an error; Redis not answering is logged with its error (the process starts on local state
// and joins Redis when it answers).
func (c *redisConfig) probe(st store.Stores, log *zap.Logger) error {
	if st.Probe == nil || c.checkOnly {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := st.Probe(ctx)
	switch {
	case errors.Is(err, store.ErrWrongMode):
		return err
	case err != nil:
		log.Warn("redis does not answer at start-up: running on local state until it does", zap.Error(err))
	}
	return nil
}

// configErrors gathers the errors of a config's independent parts, so that one run names them
// all (issue 18: a config with several errors reported them one per run). Each error of a
// joined one is kept on its own line, prefixed with its section.
type configErrors []error

func (e *configErrors) add(section string, err error) {
	if err == nil {
		return
	}
	list := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		list = joined.Unwrap()
	}
	for _, one := range list {
		if section != "" {
			one = fmt.Errorf("%s: %w", section, one)
		}
		*e = append(*e, one)
	}
}

func (e configErrors) err() error { return errors.Join(e...) }

// errorLog logs failures with their text, at most one line per interval, saying how many it
// left out: a Redis outage is visible in the log without flooding it (the metric counts each).
type errorLog struct {
	log   *zap.Logger
	msg   string
	limit ratelog.Limiter
}

func newErrorLog(log *zap.Logger, msg string, every time.Duration) *errorLog {
	return &errorLog{log: log, msg: msg, limit: ratelog.Limiter{Every: every}}
}

func (l *errorLog) note(op string, err error) {
	if ok, leftOut := l.limit.Allow(); ok {
		l.log.Warn(l.msg, zap.String("op", op), zap.Error(err), zap.Int("left_out", leftOut))
	}
}

// reachLog logs each filter endpoint's reachability as it changes: at most one line per endpoint
// per interval, and changes within it summed up by one line at its end saying the state then.
// Endpoints do not share a budget (found by a review: of six endpoints going down only the first
// was logged) and a flapping endpoint never reads healthy in the log while it is down.
type reachLog struct {
	log   *zap.Logger
	every time.Duration
	mu    sync.Mutex
	eps   map[string]*reachState
}

type reachState struct {
	up      bool
	err     error
	changes int       // since the last line
	last    time.Time // of the last line
	pending bool      // a line is due at the end of the interval
}

func newReachLog(log *zap.Logger, every time.Duration) *reachLog {
	return &reachLog{log: log, every: every, eps: map[string]*reachState{}}
}

// note records endpoint ep's new reachability (err: why it does not answer).
func (l *reachLog) note(ep string, up bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.eps[ep]
	if s == nil {
		s = &reachState{}
		l.eps[ep] = s
	}
	s.up, s.err = up, err
	s.changes++
	if wait := l.every - time.Since(s.last); wait > 0 {
		if !s.pending {
			s.pending = true
			time.AfterFunc(wait, func() {
				l.mu.Lock()
				defer l.mu.Unlock()
				s.pending = false
				if s.changes > 0 {
					l.write(ep, s)
				}
			})
		}
		return
	}
	l.write(ep, s)
}

// write logs s's state; l.mu is held.
func (l *reachLog) write(ep string, s *reachState) {
	fields := []zap.Field{zap.String("endpoint", ep), zap.Int("changes_left_out", s.changes-1)}
	if s.up {
		l.log.Info("filter endpoint answers again", fields...)
	} else {
		l.log.Warn("filter endpoint does not answer", append(fields, zap.Error(s.err))...)
	}
	s.last, s.changes = time.Now(), 0
}

// goRedisLog takes go-redis's own log lines (plain text on stderr otherwise) into the process's
// logger, rate-limited.
type goRedisLog struct{ l *errorLog }

func (g goRedisLog) Printf(_ context.Context, format string, v ...any) {
	g.l.note("go-redis", fmt.Errorf(format, v...))
}
