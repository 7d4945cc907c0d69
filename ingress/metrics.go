package ingress

import (
	"time"

	"github.com/interopgate/interopgate/internal/netcause"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the gateway. A nil *Metrics records nothing.
type Metrics struct {
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	verdicts     *prometheus.CounterVec
	cache        *prometheus.CounterVec
	joins        prometheus.Counter
	retests      *prometheus.CounterVec
	queueDepth   prometheus.Gauge
	queueAge     prometheus.Gauge
	inflight     prometheus.Gauge
	shed         prometheus.Counter
	failsafe     prometheus.Gauge
	redisErrors  *prometheus.CounterVec
	redisUp      prometheus.Gauge
	redisOps     *prometheus.HistogramVec
	backendReqs  *prometheus.CounterVec
	backendLat   *prometheus.HistogramVec
	backendState *prometheus.GaugeVec
	feedDropped  prometheus.Counter
	duplicates   prometheus.Counter
	leaseLost    prometheus.Counter
	rateFull     prometheus.Counter
	unread       prometheus.Gauge
	backendLagG  *prometheus.GaugeVec
	backendSync  *prometheus.GaugeVec
	wsConns      prometheus.Gauge
	wsSubs       prometheus.Gauge
	wsClosed     *prometheus.CounterVec
}

// NewMetrics registers the gateway's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "interopgate", "gateway"
	buckets := []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "calls_total",
			Help: "JSON-RPC calls, by method (allow-listed names, else \"other\") and outcome."}, []string{"method", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "request_duration_seconds",
			Help: "Time to answer an HTTP request, by kind (single method name, or \"batch\").", Buckets: buckets}, []string{"method"}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "interop_verdicts_total",
			Help: "Admission outcomes of interop transactions, by result (accepted, rejected, queued) and reason."}, []string{"result", "reason"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "verdict_cache_total",
			Help: "Verdict cache lookups, by result (hit, miss)."}, []string{"result"}),
		joins: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "singleflight_joins_total",
			Help: "Checks that joined an identical check already in flight instead of calling the filter."}),
		retests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "retests_total",
			Help: "Re-tests of borderline transactions, by outcome class."}, []string{"outcome"}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "queue_depth",
			Help: "Transactions in the asynchronous delay queue."}),
		queueAge: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "queue_oldest_age_seconds",
			Help: "Age of the oldest transaction in the delay queue."}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "inflight_checks",
			Help: "Filter checks in flight."}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "shed_total",
			Help: "Interop transactions refused because the in-flight check bound was reached."}),
		failsafe: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "failsafe_enabled",
			Help: "1 while the filters' failsafe is on (every interop tx is rejected)."}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "redis_errors_total",
			Help: "Redis operations that failed and fell back to local state, by operation (op=\"slow\": a run of slow operations, counted as one failure; see redis.slow_ops)."}, []string{"op"}),
		redisUp: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "redis_up",
			Help: "1 while Redis answers, 0 while the gateway runs on local state."}),
		redisOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "redis_operation_duration_seconds",
			Help:    "Redis operations (commands and pipelines) by outcome (ok, error); each is bounded by redis.timeout.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}}, []string{"outcome"}),
		backendReqs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "backend_requests_total",
			Help: "HTTP requests to sentry backends, by backend and outcome: ok, or why it failed (refused, dns, tls, timeout, reset, closed, http_4xx, http_5xx, other)."}, []string{"backend", "outcome"}),
		backendLat: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "backend_duration_seconds",
			Help: "Latency of HTTP requests to sentry backends.", Buckets: buckets}, []string{"backend"}),
		backendState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "backend_healthy",
			Help: "1 while the backend passes health checks."}, []string{"backend"}),
		feedDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "feed_dropped_total",
			Help: "Accepted interop txs not published on the revalidator feed (publisher saturated or failing)."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "duplicates_total",
			Help: "Sends of an interop tx forwarded moments ago, answered with its hash without a filter or sentry call."}),
		leaseLost: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "queue_lease_lost_total",
			Help: "Queued txs this replica stopped working on because its claim ran out (another replica holds them)."}),
		rateFull: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "rate_table_full_total",
			Help: "Requests from a client IP that could not be tracked because the rate-limit table was full (let through)."}),
		unread: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "unread_answer_bytes",
			Help: "Bytes of sentry answers held for clients that have not taken them yet (bounded by max_unread_answer_bytes)."}),
		backendLagG: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "backend_lag_blocks",
			Help: "Blocks the backend's head is behind the best healthy backend's, as last probed."}, []string{"backend"}),
		backendSync: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "backend_in_sync",
			Help: "1 while the backend is in the rotation; 0 while it lags (max_block_lag, max_head_age): no reads, no sends."}, []string{"backend"}),
		wsConns: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "ws_connections",
			Help: "Client WebSocket connections open (bounded by max_ws_conns)."}),
		wsSubs: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "ws_subscriptions",
			Help: "Subscriptions of WebSocket clients, relayed from a sentry's WebSocket."}),
		wsClosed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "ws_closed_total",
			Help: "Client WebSocket connections ended, by reason (client, slow_reader, too_large, sentry_lost, shutdown, error)."}, []string{"reason"}),
	}
	reg.MustRegister(m.backendLagG, m.backendSync, m.wsConns, m.wsSubs, m.wsClosed, m.requests, m.latency, m.verdicts, m.cache, m.joins, m.retests, m.queueDepth, m.queueAge,
		m.inflight, m.shed, m.failsafe, m.redisErrors, m.redisUp, m.redisOps, m.backendReqs, m.backendLat, m.backendState, m.feedDropped,
		m.duplicates, m.leaseLost, m.rateFull, m.unread)
	m.redisUp.Set(1)
	return m
}

func (m *Metrics) unreadAnswers(bytes int64) {
	if m != nil {
		m.unread.Set(float64(bytes))
	}
}

func (m *Metrics) wsOpen(delta int) {
	if m != nil {
		m.wsConns.Add(float64(delta))
	}
}

func (m *Metrics) wsSubscriptions(delta int) {
	if m != nil {
		m.wsSubs.Add(float64(delta))
	}
}

func (m *Metrics) wsEnded(reason string) {
	if m != nil {
		m.wsClosed.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) call(method, outcome string) {
	if m != nil {
		m.requests.WithLabelValues(method, outcome).Inc()
	}
}

func (m *Metrics) requestDone(kind string, d time.Duration) {
	if m != nil {
		m.latency.WithLabelValues(kind).Observe(d.Seconds())
	}
}

func (m *Metrics) verdict(result, reason string) {
	if m != nil {
		m.verdicts.WithLabelValues(result, reason).Inc()
	}
}

func (m *Metrics) cacheLookup(hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.cache.WithLabelValues("hit").Inc()
	} else {
		m.cache.WithLabelValues("miss").Inc()
	}
}

func (m *Metrics) join() {
	if m != nil {
		m.joins.Inc()
	}
}

func (m *Metrics) retest(outcome string) {
	if m != nil {
		m.retests.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) queue(depth int, oldest time.Duration) {
	if m != nil {
		m.queueDepth.Set(float64(depth))
		m.queueAge.Set(oldest.Seconds())
	}
}

func (m *Metrics) inflightAdd(d int) {
	if m != nil {
		m.inflight.Add(float64(d))
	}
}

func (m *Metrics) shedOne() {
	if m != nil {
		m.shed.Inc()
	}
}

func (m *Metrics) setFailsafe(on bool) {
	if m == nil {
		return
	}
	if on {
		m.failsafe.Set(1)
	} else {
		m.failsafe.Set(0)
	}
}

// RedisError counts a Redis failure (for store.FallbackConfig.OnError).
func (m *Metrics) RedisError(op string, _ error) {
	if m != nil {
		m.redisErrors.WithLabelValues(op).Inc()
	}
}

// RedisOp observes one Redis operation (for store.RedisConfig.OnOp).
func (m *Metrics) RedisOp(d time.Duration, err error) {
	if m == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.redisOps.WithLabelValues(outcome).Observe(d.Seconds())
}

// RedisUp records Redis going down or coming back (for store.FallbackConfig.OnState).
func (m *Metrics) RedisUp(up bool) {
	if m == nil {
		return
	}
	if up {
		m.redisUp.Set(1)
	} else {
		m.redisUp.Set(0)
	}
}

// backendRequest counts a request to a sentry by its outcome: ok, or the cause of its failure
// (netcause: refused, dns, tls, timeout, reset, closed, http_4xx, http_5xx, other).
func (m *Metrics) backendRequest(name string, err error, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.backendReqs.WithLabelValues(name, netcause.Of(err, status)).Inc()
	m.backendLat.WithLabelValues(name).Observe(d.Seconds())
}

func (m *Metrics) backendLag(name string, lag uint64) {
	if m != nil {
		m.backendLagG.WithLabelValues(name).Set(float64(lag))
	}
}

func (m *Metrics) backendInSync(name string, ok bool) {
	if m != nil {
		m.backendSync.WithLabelValues(name).Set(oneIf(ok))
	}
}

func (m *Metrics) backendHealthy(name string, ok bool) {
	if m != nil {
		m.backendState.WithLabelValues(name).Set(oneIf(ok))
	}
}

// oneIf is a boolean gauge's value.
func oneIf(ok bool) float64 {
	if ok {
		return 1
	}
	return 0
}

func (m *Metrics) feedDrop() {
	if m != nil {
		m.feedDropped.Inc()
	}
}

func (m *Metrics) duplicate() {
	if m != nil {
		m.duplicates.Inc()
	}
}

func (m *Metrics) queueLeaseLost() {
	if m != nil {
		m.leaseLost.Inc()
	}
}

func (m *Metrics) rateTableFull() {
	if m != nil {
		m.rateFull.Inc()
	}
}
