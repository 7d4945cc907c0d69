package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/interopgate/interopgate/internal/deadconn"
	"github.com/interopgate/interopgate/internal/netcause"
)

// BackendConfig is one sentry node.
type BackendConfig struct {
	Name string `toml:"name" comment:"labels the sentry in metrics and logs"`
	URL  string `toml:"url" comment:"the sentry's JSON-RPC URL"`
	// WSURL is the sentry's WebSocket, for the subscriptions of WebSocket clients (optional).
	WSURL string `toml:"ws_url" comment:"the sentry's WebSocket URL (ws:// or wss://), for clients' eth_subscribe; optional"`
}

// GroupConfig configures the sentry group.
type GroupConfig struct {
	Backends []BackendConfig
	// Timeout of each forwarded request (default 5 s).
	Timeout time.Duration
	// HealthInterval between health checks (default 2 s); a backend is unhealthy after
	// HealthFailures consecutive failures (default 2) and healthy again after one success.
	HealthInterval time.Duration
	HealthFailures int
	// MaxConns per backend (default 512).
	MaxConns int
	// MaxBlockLag: a healthy backend more than this many blocks behind the best healthy one
	// leaves the rotation (no reads, no sends) until it catches up; 0 = no bound.
	MaxBlockLag uint64
	// MaxHeadAge: a backend whose head has not moved for this long, while another's has, leaves
	// the rotation too (a node that stopped following); 0 = no bound.
	MaxHeadAge time.Duration
}

// Check validates the config and names every bad field at once (errors.Join).
func (c *GroupConfig) Check() error {
	var errs []error
	bad := func(err error) { errs = append(errs, err) }
	if len(c.Backends) == 0 {
		bad(errors.New("backends: at least one sentry backend is required"))
	}
	names := map[string]bool{}
	for i, b := range c.Backends {
		u, err := url.Parse(b.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(fmt.Errorf("backends[%d].url %q: want an http:// or https:// URL", i, b.URL))
		}
		if b.Name == "" {
			bad(fmt.Errorf("backends[%d].name is required (it labels metrics and logs)", i))
		}
		if b.WSURL != "" {
			if u, err := url.Parse(b.WSURL); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
				bad(fmt.Errorf("backends[%d].ws_url %q: want a ws:// or wss:// URL", i, b.WSURL))
			}
		}
		if names[b.Name] {
			bad(fmt.Errorf("backends[%d].name %q is used twice", i, b.Name))
		}
		names[b.Name] = true
	}
	return errors.Join(errs...)
}

// ErrNoBackend: no sentry is healthy.
var ErrNoBackend = errors.New("no healthy sentry backend")

type backend struct {
	name     string
	url      string
	wsURL    string
	healthy  atomic.Bool
	failures atomic.Int32
	// head is its latest block number as last probed, headAt (unix ns) when that number last
	// changed; inSync is false while it lags (MaxBlockLag, MaxHeadAge).
	head   atomic.Uint64
	headAt atomic.Int64
	inSync atomic.Bool
}

// Group load-balances over the sentry backends (round robin over the healthy ones) with
// failover on transport errors. Safe for concurrent use.
type Group struct {
	cfg      GroupConfig
	backends []*backend
	client   *fasthttp.Client
	next     atomic.Uint64
	log      *zap.Logger
	metrics  *Metrics
}

// NewGroup validates cfg and builds the group; every backend starts healthy.
func NewGroup(cfg GroupConfig, log *zap.Logger, m *Metrics) (*Group, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.HealthInterval == 0 {
		cfg.HealthInterval = 2 * time.Second
	}
	if cfg.HealthFailures == 0 {
		cfg.HealthFailures = 2
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 512
	}
	g := &Group{cfg: cfg, log: log, metrics: m, client: &fasthttp.Client{
		Name: "interopgate", NoDefaultUserAgentHeader: true, MaxConnsPerHost: cfg.MaxConns,
		ReadTimeout: cfg.Timeout, WriteTimeout: cfg.Timeout, MaxIdleConnDuration: time.Minute,
		DisablePathNormalizing: true, MaxResponseBodySize: maxAnswerBytes,
		// More requests in flight than connections to a sentry wait for one, within the request's
		// deadline, instead of failing: the gateway's own pool is not the sentry's fault.
		MaxConnWaitTimeout: cfg.Timeout,
	}}
	deadconn.Retry(g.client) // a sentry that restarts costs no request
	for _, b := range cfg.Backends {
		be := &backend{name: b.Name, url: b.URL, wsURL: b.WSURL}
		be.healthy.Store(true)
		be.inSync.Store(true)
		g.backends = append(g.backends, be)
		m.backendHealthy(b.Name, true)
		m.backendInSync(b.Name, true)
	}
	return g, nil
}

// Healthy is the number of healthy backends.
func (g *Group) Healthy() int {
	n := 0
	for _, b := range g.backends {
		if b.healthy.Load() {
			n++
		}
	}
	return n
}

// Run health-checks every backend with eth_chainId until ctx is done.
func (g *Group) Run(ctx context.Context) {
	t := time.NewTicker(g.cfg.HealthInterval)
	defer t.Stop()
	for {
		var wg sync.WaitGroup
		for _, b := range g.backends {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g.probe(ctx, b)
			}()
		}
		wg.Wait()
		g.updateSync(time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// healthBody asks the head's number: the probe of health and of lag.
var healthBody = []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`)

func (g *Group) probe(ctx context.Context, b *backend) {
	status, body, err := g.send(ctx, b, healthBody, nil)
	var answer struct {
		Result *hexutil.Uint64 `json:"result"`
	}
	if err == nil && status == fasthttp.StatusOK {
		// Health is an HTTP 200 with a head: every node answers eth_blockNumber, so one that
		// answers with an error, null or no JSON is failing (found by a review: such a sentry
		// was never measured for lag and stayed in the rotation). Block 0 is a head too: a node
		// that has not synced a block yet is the laggard to keep out.
		if json.Unmarshal(body, &answer) != nil || answer.Result == nil {
			g.markFailure(b, fmt.Errorf("eth_blockNumber answered without a block number: %.200s", body), status)
			return
		}
		if n := uint64(*answer.Result); b.head.Swap(n) != n || b.headAt.Load() == 0 {
			b.headAt.Store(time.Now().UnixNano())
		}
		b.failures.Store(0)
		if !b.healthy.Swap(true) {
			g.log.Info("sentry backend healthy again", zap.String("backend", b.name))
			g.metrics.backendHealthy(b.name, true)
		}
		return
	}
	g.markFailure(b, err, status)
}

func (g *Group) markFailure(b *backend, err error, status int) {
	if int(b.failures.Add(1)) >= g.cfg.HealthFailures && b.healthy.Swap(false) {
		g.log.Warn("sentry backend unhealthy", zap.String("backend", b.name), zap.String("cause", netcause.Of(err, status)),
			zap.Error(err), zap.Int("status", status))
		g.metrics.backendHealthy(b.name, false)
	}
}

// updateSync takes lagging backends out of the rotation and puts caught-up ones back: behind
// the best healthy head by more than MaxBlockLag, or a head unmoved for MaxHeadAge while another
// backend's moved since (if every head stops, the chain stopped: no one is taken out).
func (g *Group) updateSync(now time.Time) {
	var heads []uint64
	for _, b := range g.backends {
		if b.healthy.Load() && b.headAt.Load() != 0 {
			heads = append(heads, b.head.Load())
		}
	}
	// The best head is the highest plausible one: a head more than implausibleLead blocks above
	// the sentries' median is a broken node or one of another chain, and is not followed (found
	// by a review: one sentry answering 0xffffffffffffffff took every honest one out).
	slices.Sort(heads)
	var median uint64
	if len(heads) > 0 {
		median = heads[(len(heads)-1)/2]
	}
	plausible := func(h uint64) bool { return h-median <= implausibleLead || h < median }
	var best uint64
	var lastMove int64
	for _, b := range g.backends {
		if b.healthy.Load() && b.headAt.Load() != 0 && plausible(b.head.Load()) {
			best = max(best, b.head.Load())
			lastMove = max(lastMove, b.headAt.Load())
		}
	}
	for _, b := range g.backends {
		if !b.healthy.Load() || b.headAt.Load() == 0 {
			continue
		}
		head, at := b.head.Load(), b.headAt.Load()
		lag := uint64(0)
		if head < best {
			lag = best - head
		}
		g.metrics.backendLag(b.name, lag)
		why := ""
		switch {
		case !plausible(head):
			why = fmt.Sprintf("its head %d is more than %d blocks above the sentries' median %d: a broken node, or one of another chain", head, implausibleLead, median)
		case g.cfg.MaxBlockLag > 0 && lag > g.cfg.MaxBlockLag:
			why = fmt.Sprintf("%d blocks behind the best sentry (max_block_lag %d)", lag, g.cfg.MaxBlockLag)
		case g.cfg.MaxHeadAge > 0 && now.Sub(time.Unix(0, at)) > g.cfg.MaxHeadAge && lastMove-at > int64(g.cfg.MaxHeadAge):
			why = fmt.Sprintf("its head has not moved for %s while another sentry's did (max_head_age %s)", now.Sub(time.Unix(0, at)).Round(time.Second), g.cfg.MaxHeadAge)
		}
		switch inSync := why == ""; {
		case !inSync && b.inSync.Swap(false):
			g.log.Warn("sentry backend lags: out of the rotation until it catches up", zap.String("backend", b.name),
				zap.Uint64("head", head), zap.Uint64("best", best), zap.String("why", why))
			g.metrics.backendInSync(b.name, false)
		case inSync && !b.inSync.Swap(true):
			g.log.Info("sentry backend caught up: back in the rotation", zap.String("backend", b.name), zap.Uint64("head", head))
			g.metrics.backendInSync(b.name, true)
		}
	}
}

// implausibleLead is how far above the sentries' median head a head may be and still be
// followed: a day of 1 s blocks is 86,400, a sentry that far ahead of the rest is not ahead.
const implausibleLead = 100_000

// maxAnswerBytes bounds one sentry answer.
const maxAnswerBytes = 64 << 20

// send posts body to b. With a hold, the answer is streamed and charged to it before it is
// buffered (errAnswerBudget when it cannot be); without one it is read whole.
func (g *Group) send(ctx context.Context, b *backend, body []byte, h *hold) (int, []byte, error) {
	deadline := time.Now().Add(g.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(b.url)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(body)
	resp.StreamBody = h != nil
	start := time.Now()
	err := g.client.DoDeadline(req, resp, deadline)
	if err == nil && h != nil {
		var answer []byte
		answer, err = readAnswer(resp.BodyStream(), resp.Header.ContentLength(), maxAnswerBytes, h)
		_ = resp.CloseBodyStream() // a body not read to its end closes the connection
		g.metrics.backendRequest(b.name, err, resp.StatusCode(), time.Since(start))
		if err != nil {
			return 0, nil, err
		}
		return resp.StatusCode(), answer, nil
	}
	g.metrics.backendRequest(b.name, err, resp.StatusCode(), time.Since(start))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), nil
}

// wsBackend is a healthy backend in sync with a WebSocket (round robin), or nil.
func (g *Group) wsBackend() *backend {
	for _, b := range g.order() {
		if b.wsURL != "" && b.healthy.Load() && b.inSync.Load() {
			return b
		}
	}
	return nil
}

// order returns the backends to try: healthy ones starting at the round-robin position, then
// the unhealthy ones (a stale health state must not turn into an outage); a backend that lags
// is left out (no reads, no sends) while any other is in sync.
func (g *Group) order() []*backend {
	n := len(g.backends)
	start := int(g.next.Add(1) % uint64(n))
	out := make([]*backend, 0, n)
	for _, healthy := range []bool{true, false} {
		for i := 0; i < n; i++ {
			if b := g.backends[(start+i)%n]; b.healthy.Load() == healthy && b.inSync.Load() {
				out = append(out, b)
			}
		}
	}
	if len(out) == 0 {
		for i := 0; i < n; i++ {
			out = append(out, g.backends[(start+i)%n])
		}
	}
	return out
}

// Do sends body to one backend, failing over to the next on a connection error or HTTP 5xx,
// and returns the response as the backend gave it. A timeout neither fails over nor counts
// against the backend's health: it is the request's cost (a client's heavy eth_call), not
// the backend's fault, and trying it on every backend would multiply that cost.
func (g *Group) Do(ctx context.Context, body []byte) (int, []byte, error) {
	return g.do(ctx, body, nil)
}

// do is Do with the answer charged to h (nil: not charged). An answer the budget cannot hold
// fails at once with errAnswerBudget: another sentry's answer would be as large.
func (g *Group) do(ctx context.Context, body []byte, h *hold) (int, []byte, error) {
	var lastErr error = ErrNoBackend
	for _, b := range g.order() {
		status, resp, err := g.send(ctx, b, body, h)
		if err == nil && status < 500 {
			return status, resp, nil
		}
		if errors.Is(err, errAnswerBudget) || errors.Is(err, fasthttp.ErrNoFreeConns) {
			return 0, nil, err // not the sentry's fault, and another sentry would not change it
		}
		h.release() // a 5xx's body is not kept
		if errors.Is(err, fasthttp.ErrTimeout) {
			return 0, nil, fmt.Errorf("sentry %s: %w", b.name, err)
		}
		if err == nil {
			err = fmt.Errorf("HTTP %d", status)
		}
		g.markFailure(b, err, status)
		lastErr = fmt.Errorf("sentry %s: %w", b.name, err)
		if ctx.Err() != nil {
			break
		}
	}
	return 0, nil, lastErr
}

// DoAll sends body to every healthy backend concurrently (to spread a tx fast) and returns the
// first successful response.
func (g *Group) DoAll(ctx context.Context, body []byte) (int, []byte, error) {
	type answer struct {
		status int
		body   []byte
		err    error
	}
	var targets []*backend
	for _, b := range g.backends {
		if b.healthy.Load() && b.inSync.Load() {
			targets = append(targets, b)
		}
	}
	if len(targets) == 0 {
		return g.Do(ctx, body)
	}
	answers := make(chan answer, len(targets))
	for _, b := range targets {
		go func() {
			status, resp, err := g.send(ctx, b, body, nil)
			if err != nil || status >= 500 {
				g.markFailure(b, err, status)
			}
			answers <- answer{status, resp, err}
		}()
	}
	var last answer
	for range targets {
		a := <-answers
		if a.err == nil && a.status < 500 {
			return a.status, a.body, nil
		}
		last = a
	}
	if last.err == nil {
		last.err = fmt.Errorf("HTTP %d", last.status)
	}
	return 0, nil, last.err
}
