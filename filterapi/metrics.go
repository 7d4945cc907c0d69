package filterapi

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the filter API. A nil *Metrics records nothing.
type Metrics struct {
	requests *prometheus.CounterVec
}

// methodLabel bounds the method label; anything else is "other".
func methodLabel(method string) string {
	switch method {
	case MethodInteropCheck, MethodSupervisorCheck, MethodGetFailsafe, MethodSetFailsafe, MethodGetBlockHash:
		return method
	}
	return "other"
}

// NewMetrics registers the filter API's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "interopgate", Subsystem: "filterapi", Name: "calls_total",
		Help: "JSON-RPC calls served, by method (unknown methods as \"other\") and outcome (ok, error, bad_request, rejected).",
	}, []string{"method", "outcome"})}
	reg.MustRegister(m.requests)
	return m
}

func (m *Metrics) request(method, outcome string) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(methodLabel(method), outcome).Inc()
}
