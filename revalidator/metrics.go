package revalidator

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the revalidator. A nil *Metrics records nothing.
type Metrics struct {
	tracked       *prometheus.GaugeVec
	messages      prometheus.Gauge
	cycles        *prometheus.CounterVec
	cycleDuration prometheus.Histogram
	cycleChecks   prometheus.Counter
	cycleRequests prometheus.Counter
	lookups       *prometheus.CounterVec
	invalidFound  prometheus.Counter
	failsafe      prometheus.Gauge
	untracked     prometheus.Counter
	ready         prometheus.Gauge
	pulseOn       prometheus.Gauge
	pulses        prometheus.Counter
	restores      *prometheus.CounterVec
	clears        *prometheus.CounterVec
	clearResent   *prometheus.CounterVec
}

// NewMetrics registers the revalidator's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	const ns, sub = "interopgate", "revalidator"
	m := &Metrics{
		tracked: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "tracked_txs",
			Help: "Pending txs mirrored from the node's pool, by kind (interop, plain)."}, []string{"kind"}),
		messages: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "messages",
			Help: "Executing messages with a verdict in memory."}),
		cycles: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "cycles_total",
			Help: "Revalidation cycles, by outcome (ok, failsafe, error)."}, []string{"outcome"}),
		cycleDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "cycle_duration_seconds",
			Help:    "Time of one cycle: pool read, planning, the upstream round and evaluation.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}),
		cycleChecks: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "cycle_checks_total",
			Help: "Message checks sent upstream by cycles."}),
		cycleRequests: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "cycle_upstream_calls_total",
			Help: "Upstream CheckAccessLists rounds made by cycles (one JSON-RPC batch per filter and per max_batch_size checks)."}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "lookups_total",
			Help: "Checks served, by result (hit: from memory; miss: upstream)."}, []string{"result"}),
		invalidFound: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "invalid_found_total",
			Help: "Pool txs a cycle found invalid (published on interopgate_invalidTransactions)."}),
		failsafe: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "failsafe_enabled",
			Help: "1 while the upstream filters' failsafe is on."}),
		untracked: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "untracked_total",
			Help: "Refusals to track a pending tx because the table was full, counted at each pool read (their checks go upstream)."}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "ready",
			Help: "1 while the revalidator can do its job (node answers, filters answered the last round, failsafe off), as /readyz."}),
		pulseOn: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "failsafe_pulse",
			Help: "1 while the node is told failsafe so that it evicts interop txs found invalid (eviction failsafe-pulse)."}),
		pulses: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "failsafe_pulses_total",
			Help: "Failsafe pulses started to make the node evict interop txs found invalid."}),
		restores: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "restored_total",
			Help: "Interop txs the node dropped unmined, by what became of them: sent (back in the node's pool), nonce_used (mined or replaced: not sent), expired (held past restore_ttl), full (not held: restore_max)."}, []string{"outcome"}),
		clears: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "pool_clears_total",
			Help: "admin_clearTxpool calls made to evict interop txs found invalid (eviction clear-txpool), by outcome (ok; failed: a failsafe pulse instead)."}, []string{"outcome"}),
		clearResent: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "pool_clear_resent_total",
			Help: "Txs sent back to the node after an admin_clearTxpool, by outcome (taken, refused)."}, []string{"outcome"}),
	}
	reg.MustRegister(m.clears, m.clearResent, m.pulseOn, m.pulses, m.restores, m.ready, m.tracked, m.messages, m.cycles, m.cycleDuration, m.cycleChecks, m.cycleRequests, m.lookups,
		m.invalidFound, m.failsafe, m.untracked)
	return m
}

func (m *Metrics) pulse(on bool) {
	if m == nil {
		return
	}
	if on {
		m.pulses.Inc()
		m.pulseOn.Set(1)
	} else {
		m.pulseOn.Set(0)
	}
}

func (m *Metrics) cleared(ok bool, taken, refused int) {
	if m == nil {
		return
	}
	if !ok {
		m.clears.WithLabelValues("failed").Inc()
		return
	}
	m.clears.WithLabelValues("ok").Inc()
	m.clearResent.WithLabelValues("taken").Add(float64(taken))
	m.clearResent.WithLabelValues("refused").Add(float64(refused))
}

func (m *Metrics) restored(outcome string, n int) {
	if m != nil && n > 0 {
		m.restores.WithLabelValues(outcome).Add(float64(n))
	}
}

func (m *Metrics) cycle(outcome string, d time.Duration, checks int) {
	if m == nil {
		return
	}
	m.cycles.WithLabelValues(outcome).Inc()
	m.cycleDuration.Observe(d.Seconds())
	m.cycleChecks.Add(float64(checks))
	if checks > 0 {
		m.cycleRequests.Inc()
	}
}

func (m *Metrics) sizes(txs, interop, messages int) {
	if m != nil {
		m.tracked.WithLabelValues("interop").Set(float64(interop))
		m.tracked.WithLabelValues("plain").Set(float64(txs - interop))
		m.messages.Set(float64(messages))
	}
}

func (m *Metrics) lookup(hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.lookups.WithLabelValues("hit").Inc()
	} else {
		m.lookups.WithLabelValues("miss").Inc()
	}
}

func (m *Metrics) found(n int) {
	if m != nil {
		m.invalidFound.Add(float64(n))
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

func (m *Metrics) setUntracked(total int, last *int) {
	if m != nil && total > *last {
		m.untracked.Add(float64(total - *last))
	}
	*last = total
}

func (m *Metrics) setReady(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.ready.Set(1)
	} else {
		m.ready.Set(0)
	}
}
