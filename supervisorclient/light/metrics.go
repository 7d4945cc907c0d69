package light

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats counts upstream traffic; benchmarks and tests read it to report calls per check.
type Stats struct {
	checks       atomic.Int64
	httpRequests atomic.Int64
	calls        atomic.Int64
	cacheHits    atomic.Int64
	cacheMisses  atomic.Int64
}

// StatsSnapshot is a copy of the counters.
type StatsSnapshot struct {
	Checks, HTTPRequests, Calls, CacheHits, CacheMisses int64
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() StatsSnapshot {
	return StatsSnapshot{s.checks.Load(), s.httpRequests.Load(), s.calls.Load(), s.cacheHits.Load(), s.cacheMisses.Load()}
}

// Reasons a check ends with: the bounded label set of interopgate_light_checks_total.
const (
	reasonValid          = "valid"
	reasonBadParams      = "bad_params"
	reasonUnknownChain   = "unknown_chain"
	reasonTiming         = "timing"
	reasonNotActivated   = "not_activated"
	reasonFuture         = "future"
	reasonNotIngested    = "not_ingested"
	reasonNoBlock        = "no_block"
	reasonTimestamp      = "timestamp_mismatch"
	reasonNotSafeYet     = "not_safe_yet"
	reasonMissingLog     = "missing_log"
	reasonChecksum       = "checksum_mismatch"
	reasonUpstreamFailed = "upstream_error"
)

// Metrics of the light filter. A nil *Metrics records nothing.
type Metrics struct {
	checks       *prometheus.CounterVec
	checkLatency prometheus.Histogram
	upstreamReqs *prometheus.CounterVec
	upstreamCall *prometheus.CounterVec
	upstreamLat  *prometheus.HistogramVec
	cache        *prometheus.CounterVec
}

// NewMetrics registers the light filter's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interopgate", Subsystem: "light", Name: "checks_total",
			Help: "Access-list checks answered by the light filter, by result class and reason.",
		}, []string{"result", "reason"}),
		checkLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "interopgate", Subsystem: "light", Name: "batch_duration_seconds",
			Help:    "Time to answer one batch of checks (a single check is a batch of one).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}),
		upstreamReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interopgate", Subsystem: "light", Name: "upstream_requests_total",
			Help: "HTTP requests (JSON-RPC batches) to source chains, by chain, method and outcome.",
		}, []string{"chain", "method", "outcome"}),
		upstreamCall: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interopgate", Subsystem: "light", Name: "upstream_calls_total",
			Help: "JSON-RPC calls to source chains (each element of a batch counts), by chain and method.",
		}, []string{"chain", "method"}),
		upstreamLat: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "interopgate", Subsystem: "light", Name: "upstream_duration_seconds",
			Help:    "Latency of HTTP requests to source chains.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"chain", "method"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interopgate", Subsystem: "light", Name: "log_cache_lookups_total",
			Help: "Lookups of block logs in the cache, by result (hit, miss).",
		}, []string{"result"}),
	}
	reg.MustRegister(m.checks, m.checkLatency, m.upstreamReqs, m.upstreamCall, m.upstreamLat, m.cache)
	return m
}

func (m *Metrics) check(result, reason string) {
	if m != nil {
		m.checks.WithLabelValues(result, reason).Inc()
	}
}

func (m *Metrics) batchDone(d time.Duration) {
	if m != nil {
		m.checkLatency.Observe(d.Seconds())
	}
}

func (m *Metrics) upstream(chain, method string, calls int, err error, d time.Duration) {
	if m == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.upstreamReqs.WithLabelValues(chain, method, outcome).Inc()
	m.upstreamCall.WithLabelValues(chain, method).Add(float64(calls))
	m.upstreamLat.WithLabelValues(chain, method).Observe(d.Seconds())
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
