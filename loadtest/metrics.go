package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Cost is what the run cost the target's peers, read from the target's metrics before and after.
type Cost struct {
	FilterChecks      float64 `json:"filterChecks"`
	FilterRequests    float64 `json:"filterHTTPRequests"`
	SentryRequests    float64 `json:"sentryRequests"`
	Retests           float64 `json:"retests"`
	InteropTxs        int64   `json:"interopTxs"`
	ChecksPerInterop  float64 `json:"filterChecksPerInteropTx"`
	FilterReqPerInter float64 `json:"filterRequestsPerInteropTx"`
	SentryPerRequest  float64 `json:"sentryRequestsPerRequest"`
}

// costMetrics are the counters the cost is computed from: sums over every label set.
var costMetrics = map[string]string{
	"filterChecks":   "interopgate_filter_checks_total",
	"filterRequests": "interopgate_filter_request_duration_seconds",
	"sentryRequests": "interopgate_gateway_backend_requests_total",
	"retests":        "interopgate_gateway_retests_total",
}

// scrape reads the cost counters from a Prometheus text endpoint.
func scrape(ctx context.Context, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics %s: %w", url, err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("metrics %s: %w", url, err)
	}
	out := map[string]float64{}
	for key, name := range costMetrics {
		f, ok := fams[name]
		if !ok {
			continue
		}
		for _, m := range f.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				out[key] += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				out[key] += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out, nil
}

// WithCost scrapes url around run and adds the cost to the report run returns.
func WithCost(ctx context.Context, url string, run func() (*Report, error)) (*Report, error) {
	before, err := scrape(ctx, url)
	if err != nil {
		return nil, err
	}
	r, err := run()
	if err != nil {
		return nil, err
	}
	after, err := scrape(ctx, url)
	if err != nil {
		return nil, err
	}
	c := &Cost{FilterChecks: after["filterChecks"] - before["filterChecks"], FilterRequests: after["filterRequests"] - before["filterRequests"],
		SentryRequests: after["sentryRequests"] - before["sentryRequests"], Retests: after["retests"] - before["retests"], InteropTxs: r.interop}
	if c.InteropTxs > 0 {
		c.ChecksPerInterop = c.FilterChecks / float64(c.InteropTxs)
		c.FilterReqPerInter = c.FilterRequests / float64(c.InteropTxs)
	}
	if r.Total.Sent > 0 {
		c.SentryPerRequest = c.SentryRequests / float64(r.Total.Sent)
	}
	r.Cost = c
	return r, nil
}

func (c *Cost) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cost (from the target's metrics): %d interop txs sent; %.0f filter checks in %.0f filter HTTP requests = %.3f checks and %.3f requests per interop tx; %.0f sentry requests = %.3f per request; %.0f re-tests of borderline txs",
		c.InteropTxs, c.FilterChecks, c.FilterRequests, c.ChecksPerInterop, c.FilterReqPerInter, c.SentryRequests, c.SentryPerRequest, c.Retests)
	return b.String()
}
