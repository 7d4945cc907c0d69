package ingress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/internal/httpbody"
	"github.com/interopgate/interopgate/internal/ratelog"
	"github.com/interopgate/interopgate/store"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// Deps are the gateway's collaborators, built by the caller.
type Deps struct {
	// Checker is the filter pool (required).
	Checker sc.Checker
	// Failsafe reports the filters' failsafe state (a FailsafeWatcher's Enabled); nil = never.
	Failsafe func() bool
	// Filters reports the filter endpoints' reachability and quorum headroom (a
	// FailsafeWatcher's Reachability), shown by /readyz; nil = not shown.
	Filters func() sc.Reachability
	// CheckerID describes what decides the Checker's verdicts (filter endpoints, namespace,
	// strategy, quorum, classification). It is part of every verdict-cache key, so gateways
	// that share a Redis but judge differently never share verdicts.
	CheckerID string
	// Dependencies is the interop dependency set (required).
	Dependencies *accesslist.DependencySet
	// Backends is the sentry group (required).
	Backends *Group
	// Stores is the shared state (default: in memory).
	Stores *store.Stores
	// APIKeys are the clients known by a key (LoadAPIKeys; optional).
	APIKeys []APIKey
	Log     *zap.Logger
	Metrics *Metrics
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Gateway is the ingress JSON-RPC proxy. Start it with Start, stop it with Shutdown.
type Gateway struct {
	cfg      Config
	judge    *judge    // decides about txs: no HTTP, no sentry
	sentries *sentries // forwards to the sentries and reads from them
	st       store.Stores
	log      *zap.Logger
	metrics  *Metrics
	now      func() time.Time
	methods  methodTable      // how each method is served; immutable after New
	bodies   *httpbody.Budget // the bytes of request bodies held at once (max_body_bytes_held)
	ws       wsSessions       // open client WebSockets
	// apiKeys by key, methodLimits by method; immutable after New.
	apiKeys      map[string]APIKey
	methodLimits map[string]MethodLimit
	requests     chan struct{} // requests being answered (max_requests_in_flight)
	answers      *answerBudget
	clientIPs    clientIPs
	feed         *feedOutbox // accepted interop txs on their way to the feed
	filters      func() sc.Reachability

	http   *fasthttp.Server
	ln     net.Listener
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// CheckDependencies validates cfg against the dependency set, naming every problem.
func (c *Config) CheckDependencies(deps *accesslist.DependencySet) error {
	var errs []error
	if w := deps.ExpiryWindow(); c.MessageTimeout+uint64(c.ExecTimestampOffset.D()/time.Second) >= w {
		// Found by the reference suite: every message would expire within the timeout.
		errs = append(errs, fmt.Errorf("message_timeout (%d s) plus exec_timestamp_offset (%s) must be shorter than the expiry window (%d s): every interop tx would be rejected",
			c.MessageTimeout, c.ExecTimestampOffset.D(), w))
	}
	if !deps.Contains(*uint256.NewInt(c.ChainID)) {
		errs = append(errs, fmt.Errorf("chain_id %d is not in the dependency set", c.ChainID))
	}
	return errors.Join(errs...)
}

// New validates cfg and builds a gateway.
func New(cfg Config, d Deps) (*Gateway, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if d.Checker == nil || d.Dependencies == nil || d.Backends == nil {
		return nil, errors.New("gateway: checker, dependency set and backends are required")
	}
	trusted, err := parseNetworks(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("gateway: trusted_proxies: %w", err)
	}
	if cfg.AsyncRetry && cfg.QueueLease.D() <= 2*d.Backends.cfg.Timeout {
		return nil, fmt.Errorf("gateway: queue_lease (%s) must exceed twice the sentry timeout (%s): a forward must end within its renewed lease",
			cfg.QueueLease.D(), d.Backends.cfg.Timeout)
	}
	if err := cfg.CheckDependencies(d.Dependencies); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if d.Failsafe == nil {
		d.Failsafe = func() bool { return false }
	}
	if d.Stores == nil {
		mem := store.NewMemory(store.MemoryConfig{})
		d.Stores = &mem
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	sentries := &sentries{group: d.Backends, toAll: cfg.ForwardToAll}
	g := &Gateway{
		cfg: cfg, judge: newJudge(cfg, d, sentries), sentries: sentries,
		st: *d.Stores, log: d.Log, metrics: d.Metrics, now: d.Now, filters: d.Filters,
		requests: make(chan struct{}, cfg.MaxRequestsInFlight), feed: newFeedOutbox(feedOutboxTxs, feedOutboxBytes),
		clientIPs: clientIPs{header: cfg.ClientIPHeader, trusted: trusted},
	}
	g.answers = newAnswerBudget(cfg.MaxUnreadAnswerBytes, cfg.MaxUnreadAnswerBytesPerIP, g.metrics.unreadAnswers)
	g.methods = g.newMethodTable(cfg.Methods)
	g.apiKeys = map[string]APIKey{}
	for _, k := range d.APIKeys {
		g.apiKeys[k.Key] = k
	}
	g.methodLimits = map[string]MethodLimit{}
	for _, l := range cfg.MethodLimits {
		g.methodLimits[l.Method] = l
	}
	g.bodies = httpbody.NewBudget(int64(cfg.MaxBodyBytesHeld))
	g.http = &fasthttp.Server{
		Handler: httpbody.Guard(g.handle), Name: "interopgate", NoDefaultServerHeader: true,
		MaxRequestBodySize: cfg.MaxBodyBytes, ReadTimeout: cfg.ReadTimeout.D(), WriteTimeout: cfg.WriteTimeout.D(),
		IdleTimeout: cfg.IdleTimeout.D(), ErrorHandler: g.transportError,
		Concurrency: cfg.MaxConns,
		// Buffers go back to their pools between requests and idle workers end soon: a
		// connection that waits costs its goroutine and socket, not 8 KiB of buffers (issue 19).
		ReduceMemoryUsage: true, MaxIdleWorkerDuration: 2 * time.Second,
		// Bodies are read as they arrive (readBody), not allocated at their declared length.
		StreamRequestBody: true,
		ContinueHandler:   httpbody.Continue(cfg.MaxBodyBytes),
		Logger:            ratelog.New(g.log, "http server", 10*time.Second),
	}
	return g, nil
}

// Start binds addr and serves; it also starts the backends' health checks, the feed publisher
// and, in async mode, the delay-queue worker.
func (g *Gateway) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("gateway: listen %s: %w", addr, err)
	}
	g.ln = ln
	ln = newClientListener(ln, g.cfg.MaxConnsPerIP, g.cfg.ConnSendBuffer, g.cfg.WriteStallTimeout.D())
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	g.spawn(func() { g.sentries.group.Run(ctx) })
	g.spawn(func() { g.feed.publish(ctx, g.feedSink()) })
	g.spawn(func() { g.watchFailsafe(ctx) })
	if g.cfg.AsyncRetry {
		g.spawn(func() { g.runQueue(ctx) })
	}
	g.spawn(func() {
		if err := g.http.Serve(ln); err != nil {
			g.log.Error("gateway server stopped", zap.Error(err))
		}
	})
	g.log.Info("gateway listening", zap.String("url", g.URL()), zap.Uint64("chain_id", g.cfg.ChainID),
		zap.Bool("async_retry", g.cfg.AsyncRetry))
	return nil
}

func (g *Gateway) spawn(f func()) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f()
	}()
}

// URL is the gateway's http:// URL (after Start).
func (g *Gateway) URL() string { return "http://" + g.ln.Addr().String() }

// Shutdown stops accepting requests, waits for those in flight and stops the workers. Items
// claimed from the delay queue and not finished return to it when their lease runs out.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.ws.closeAll() // hijacked connections: the HTTP server's shutdown does not see them
	err := g.http.ShutdownWithContext(ctx)
	if g.cancel != nil {
		g.cancel()
	}
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		g.feed.flush(ctx, g.feedSink(), true) // counted: ctx has ended
		return errors.Join(err, ctx.Err())
	}
	// What was accepted last (and what the workers accepted as they stopped) still reaches the
	// feed, within ctx (found by a review: up to 20 of 20 such txs were lost, uncounted).
	g.feed.flush(ctx, g.feedSink(), true)
	return err
}

// Ready reports whether the gateway can serve: at least one healthy sentry.
func (g *Gateway) Ready() error {
	if g.sentries.group.Healthy() == 0 {
		return ErrNoBackend
	}
	return nil
}

func (g *Gateway) watchFailsafe(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		g.metrics.setFailsafe(g.judge.failsafe())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// toFeed hands an accepted interop tx to the feed publisher; with forwarded, the publisher also
// records its status "forwarded", off the request path (issue 18: a tx forwarded a moment ago
// read "unknown").
func (g *Gateway) toFeed(e store.FeedEntry, forwarded bool) {
	if !g.feed.add(e, forwarded) {
		g.metrics.feedDrop()
	}
}

// feedSink is where the feed publisher sends accepted txs.
func (g *Gateway) feedSink() feedSink {
	return feedSink{feed: g.st.Feed, dropped: g.metrics.feedDrop, forwarded: func(ctx context.Context, es []store.FeedEntry) {
		now := g.now()
		entries := make([]store.StatusEntry, len(es))
		for i, e := range es {
			entries[i] = store.StatusEntry{Hash: common.HexToHash(e.Hash).Hex(), Status: store.Status{State: StateForwarded, UpdatedAt: now}, TTL: g.cfg.StatusTTL.D()}
		}
		if err := g.st.Statuses.SetStatuses(ctx, entries); err != nil {
			g.log.Warn("recording tx statuses", zap.Int("txs", len(entries)), zap.Error(err))
		}
	}}
}
