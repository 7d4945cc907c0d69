package supervisorclient

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics records filter calls. A nil *Metrics records nothing, so tests need none.
type Metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	failsafe *prometheus.GaugeVec
	up       *prometheus.GaugeVec
	headroom prometheus.Gauge
	failures *prometheus.CounterVec
}

// NewMetrics registers the filter client's metrics on reg. Label values are bounded: endpoint
// names come from configuration, methods and outcomes from fixed sets.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "interopgate", Subsystem: "filter", Name: "checks_total",
			Help: "Access-list checks sent to interop filters, by endpoint, method and outcome class.",
		}, []string{"endpoint", "method", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "interopgate", Subsystem: "filter", Name: "request_duration_seconds",
			Help:    "Latency of filter HTTP calls (one per single check or per batch).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"endpoint", "method"}),
		failsafe: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "interopgate", Subsystem: "filter", Name: "failsafe_enabled",
			Help: "1 while the endpoint reports its failsafe on, 0 while off, -1 while its state is unknown.",
		}, []string{"endpoint"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "interopgate", Subsystem: "filter", Name: "endpoint_up",
			Help: "1 while the endpoint answered its last failsafe poll, 0 while it does not.",
		}, []string{"endpoint"}),
		headroom: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "interopgate", Subsystem: "filter", Name: "quorum_headroom",
			Help: "Endpoints answering minus those the strategy needs: 0 means one more down and interop checks fail closed; below 0 they do.",
		}),
	}
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "interopgate", Subsystem: "filter", Name: "transport_errors_total",
		Help: "Filter calls that got no JSON-RPC answer, by endpoint and cause: refused, dns, tls, timeout, reset, closed, http_4xx, http_5xx, other.",
	}, []string{"endpoint", "cause"})
	reg.MustRegister(m.calls, m.duration, m.failsafe, m.up, m.headroom, m.failures)
	return m
}

func (m *Metrics) observeCall(endpoint, method string, outcome Class, d time.Duration) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(endpoint, method, outcome.String()).Inc()
	m.duration.WithLabelValues(endpoint, method).Observe(d.Seconds())
}

func (m *Metrics) transportError(endpoint, cause string) {
	if m == nil {
		return
	}
	m.failures.WithLabelValues(endpoint, cause).Inc()
}

func (m *Metrics) setReachable(endpoint string, up bool, headroom int) {
	if m == nil {
		return
	}
	m.up.WithLabelValues(endpoint).Set(boolGauge(up))
	m.headroom.Set(float64(headroom))
}

func (m *Metrics) setFailsafe(endpoint string, v float64) {
	if m == nil {
		return
	}
	m.failsafe.WithLabelValues(endpoint).Set(v)
}
