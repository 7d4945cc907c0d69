package supervisorclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/interopgate/interopgate/internal/deadconn"
	"github.com/interopgate/interopgate/internal/netcause"
)

// ClientConfig configures a Client. The zero value of each optional field takes the default.
type ClientConfig struct {
	// URL of the filter's HTTP JSON-RPC endpoint (required).
	URL string
	// Name labels the endpoint in verdicts, logs and metrics; defaults to the URL's host.
	Name string
	// Namespace of the check method: "interop" (default) or "supervisor".
	Namespace string
	// Timeout bounds each HTTP call, batch or single (default 2 s, as op-reth).
	Timeout time.Duration
	// MaxResponseBytes bounds a response body (default 8 MiB).
	MaxResponseBytes int
	// MaxBatchSize splits larger CheckAccessLists calls into several JSON-RPC batches, sent
	// concurrently (default 100).
	MaxBatchSize int
	// MaxConns bounds the pooled connections to the endpoint (default 64).
	MaxConns int
	// Classifier maps the filter's error codes to classes.
	Classifier Classifier
}

// Defaults of ClientConfig.
const (
	DefaultTimeout          = 2 * time.Second
	DefaultMaxResponseBytes = 8 << 20
	DefaultMaxBatchSize     = 100
	DefaultMaxConns         = 64
)

// Check validates the config and names the bad field.
func (c *ClientConfig) Check() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q: want an http:// or https:// URL", c.URL)
	}
	switch c.Namespace {
	case "", NamespaceInterop, NamespaceSupervisor:
	default:
		return fmt.Errorf("namespace %q: want %q or %q", c.Namespace, NamespaceInterop, NamespaceSupervisor)
	}
	for name, v := range map[string]int64{"timeout": int64(c.Timeout), "max_response_bytes": int64(c.MaxResponseBytes),
		"max_batch_size": int64(c.MaxBatchSize), "max_conns": int64(c.MaxConns)} {
		if v < 0 {
			return fmt.Errorf("%s must not be negative", name)
		}
	}
	return nil
}

func (c *ClientConfig) withDefaults() {
	if c.Namespace == "" {
		c.Namespace = NamespaceInterop
	}
	if c.Namespace == NamespaceSupervisor {
		c.Classifier.ConflictMayMeanNotYet = true
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.MaxBatchSize == 0 {
		c.MaxBatchSize = DefaultMaxBatchSize
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.Name == "" {
		if u, err := url.Parse(c.URL); err == nil {
			c.Name = u.Host
		}
	}
}

// TransportError is an unavailable verdict's cause when the endpoint could not be reached, timed
// out, answered with HTTP 5xx or answered something that is not JSON-RPC. Pools skip endpoints
// that fail this way.
type TransportError struct {
	Endpoint   string
	StatusCode int // the HTTP status, when there was one
	Err        error
	// Took is how long the call ran before it failed (0: not sent).
	Took time.Duration
}

// Cause names why the call failed (netcause: refused, dns, tls, timeout, reset, closed,
// http_4xx, http_5xx, other).
func (e *TransportError) Cause() string { return netcause.Of(e.Err, e.StatusCode) }

func (e *TransportError) Error() string {
	cause := e.Cause()
	if cause == "timeout" && e.Took > 0 {
		cause = "timeout after " + e.Took.Round(time.Millisecond).String()
	}
	if e.StatusCode != 0 {
		return fmt.Sprintf("filter %s: %s: HTTP %d: %v", e.Endpoint, cause, e.StatusCode, e.Err)
	}
	return fmt.Sprintf("filter %s: %s: %v", e.Endpoint, cause, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// IsTransport reports whether v failed at the transport level.
func IsTransport(v Verdict) bool {
	var te *TransportError
	return v.Class == ClassUnavailable && errors.As(v.Err, &te)
}

// Client is a JSON-RPC client of one interop filter over pooled fasthttp connections. It is
// safe for concurrent use.
type Client struct {
	cfg     ClientConfig
	http    *fasthttp.Client
	metrics *Metrics
	ids     atomic.Uint64
	method  string
}

// Option configures a Client or a Pool.
type Option func(*options)

type options struct {
	metrics *Metrics
	now     func() time.Time
}

// WithMetrics records calls in m.
func WithMetrics(m *Metrics) Option { return func(o *options) { o.metrics = m } }

// WithClock injects the clock a Pool uses for cool-downs.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

func buildOptions(opts []Option) options {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// NewClient validates cfg and builds a client. It does not dial until the first call.
func NewClient(cfg ClientConfig, opts ...Option) (*Client, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("filter client: %w", err)
	}
	cfg.withDefaults()
	o := buildOptions(opts)
	c := &Client{
		cfg:     cfg,
		metrics: o.metrics,
		method:  cfg.Namespace + "_checkAccessList",
		http: &fasthttp.Client{
			Name:                     "interopgate",
			MaxConnsPerHost:          cfg.MaxConns,
			MaxResponseBodySize:      cfg.MaxResponseBytes,
			ReadTimeout:              cfg.Timeout,
			WriteTimeout:             cfg.Timeout,
			MaxIdleConnDuration:      30 * time.Second,
			NoDefaultUserAgentHeader: true,
			DisablePathNormalizing:   true,
		},
	}
	deadconn.Retry(c.http) // a filter that restarts costs no check
	return c, nil
}

// Name is the endpoint's label.
func (c *Client) Name() string { return c.cfg.Name }

// CheckAccessList sends one check.
func (c *Client) CheckAccessList(ctx context.Context, req Request) Verdict {
	id := c.ids.Add(1)
	body := appendCheckCall(make([]byte, 0, 256+70*len(req.InboxKeys)), id, c.cfg.Namespace, &req)
	start := time.Now()
	var resp rpcResponse
	err := c.post(ctx, body, &resp)
	v := c.verdictOf(resp, err, func(r *rpcResponse) bool { return idIs(r.ID, id) })
	c.metrics.observeCall(c.cfg.Name, c.method, v.Class, time.Since(start))
	return v
}

// CheckAccessLists sends the checks as JSON-RPC batches of at most MaxBatchSize calls each, the
// batches concurrently, and returns one verdict per request in order.
func (c *Client) CheckAccessLists(ctx context.Context, reqs []Request) []Verdict {
	out := make([]Verdict, len(reqs))
	if len(reqs) == 0 {
		return out
	}
	var wg sync.WaitGroup
	for lo := 0; lo < len(reqs); lo += c.cfg.MaxBatchSize {
		hi := min(lo+c.cfg.MaxBatchSize, len(reqs))
		if lo == 0 && hi == len(reqs) {
			c.batch(ctx, reqs, out) // one batch: no goroutine
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.batch(ctx, reqs[lo:hi], out[lo:hi])
		}()
	}
	wg.Wait()
	return out
}

// batch sends reqs as one JSON-RPC batch and writes their verdicts into out.
func (c *Client) batch(ctx context.Context, reqs []Request, out []Verdict) {
	first := c.ids.Add(uint64(len(reqs))) - uint64(len(reqs)) + 1
	body := make([]byte, 0, len(reqs)*(256+70*len(reqs[0].InboxKeys)))
	body = append(body, '[')
	for i := range reqs {
		if i > 0 {
			body = append(body, ',')
		}
		body = appendCheckCall(body, first+uint64(i), c.cfg.Namespace, &reqs[i])
	}
	body = append(body, ']')
	start := time.Now()
	var resps []rpcResponse
	err := c.post(ctx, body, &resps)
	elapsed := time.Since(start)
	if err != nil {
		for i := range out {
			out[i] = c.verdictOf(rpcResponse{}, err, nil)
		}
	} else {
		// Answers may come in any order; match them by id. A missing answer stays unavailable.
		for i := range out {
			out[i] = Unavailable(c.cfg.Name, &TransportError{Endpoint: c.cfg.Name, Err: errors.New("batch response has no answer for this call")})
		}
		for j := range resps {
			id, ok := parseID(resps[j].ID)
			if !ok || id < first || id >= first+uint64(len(reqs)) {
				continue
			}
			out[id-first] = c.verdictOf(resps[j], nil, nil)
		}
	}
	for i := range out {
		c.metrics.observeCall(c.cfg.Name, c.method, out[i].Class, elapsed)
	}
}

// FailsafeEnabled calls admin_getFailsafeEnabled.
func (c *Client) FailsafeEnabled(ctx context.Context) (bool, error) {
	id := c.ids.Add(1)
	var resp rpcResponse
	if err := c.post(ctx, appendSimpleCall(nil, id, "admin_getFailsafeEnabled"), &resp); err != nil {
		return false, err
	}
	if resp.Error != nil {
		return false, fmt.Errorf("filter %s: admin_getFailsafeEnabled: %d %s", c.cfg.Name, resp.Error.Code, resp.Error.Message)
	}
	var on bool
	if err := json.Unmarshal(resp.Result, &on); err != nil {
		return false, &TransportError{Endpoint: c.cfg.Name, Err: fmt.Errorf("admin_getFailsafeEnabled result %s is not a bool", resp.Result)}
	}
	return on, nil
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type rpcResponse struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *rpcError       `json:"error"`
}

// verdictOf turns one response (or the error of the call that carried it) into a verdict.
func (c *Client) verdictOf(resp rpcResponse, err error, idOK func(*rpcResponse) bool) Verdict {
	if err != nil {
		return Unavailable(c.cfg.Name, err)
	}
	if idOK != nil && !idOK(&resp) {
		return Unavailable(c.cfg.Name, &TransportError{Endpoint: c.cfg.Name, Err: fmt.Errorf("response id %s does not match the request", resp.ID)})
	}
	if resp.Error != nil {
		return Verdict{
			Class:     c.cfg.Classifier.Classify(resp.Error.Code, resp.Error.Message),
			Code:      resp.Error.Code,
			Message:   resp.Error.Message,
			Endpoint:  c.cfg.Name,
			Ambiguous: c.cfg.Classifier.Ambiguous(resp.Error.Code),
		}
	}
	if string(resp.Result) != "null" {
		// checkAccessList answers null on success; anything else is not an answer we understand.
		return Unavailable(c.cfg.Name, &TransportError{Endpoint: c.cfg.Name, Err: fmt.Errorf("unexpected result %.64q (want null)", resp.Result)})
	}
	return Verdict{Class: ClassValid, Endpoint: c.cfg.Name}
}

// post sends body and decodes the JSON response into dst. Failures to reach the endpoint, HTTP
// errors without a JSON-RPC body, and undecodable bodies are TransportErrors.
func (c *Client) post(ctx context.Context, body []byte, dst any) (err error) {
	start := time.Now()
	defer func() {
		var te *TransportError
		if errors.As(err, &te) {
			te.Took = time.Since(start)
			c.metrics.transportError(c.cfg.Name, te.Cause())
		}
	}()
	if err := ctx.Err(); err != nil {
		return &TransportError{Endpoint: c.cfg.Name, Err: err}
	}
	deadline := time.Now().Add(c.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.cfg.URL)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(body)
	if err := c.http.DoDeadline(req, resp, deadline); err != nil {
		return &TransportError{Endpoint: c.cfg.Name, Err: err}
	}
	status := resp.StatusCode()
	if status >= 500 {
		return &TransportError{Endpoint: c.cfg.Name, StatusCode: status, Err: errors.New(fasthttp.StatusMessage(status))}
	}
	// Some filters and proxies answer JSON-RPC errors with a 4xx status; the body decides.
	if err := json.Unmarshal(resp.Body(), dst); err != nil {
		if status != fasthttp.StatusOK {
			return &TransportError{Endpoint: c.cfg.Name, StatusCode: status, Err: errors.New("non-JSON-RPC response")}
		}
		return &TransportError{Endpoint: c.cfg.Name, Err: fmt.Errorf("decoding response: %w", err)}
	}
	return nil
}

func parseID(raw json.RawMessage) (uint64, bool) {
	s := string(raw)
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	id, err := strconv.ParseUint(s, 10, 64)
	return id, err == nil
}

func idIs(raw json.RawMessage, want uint64) bool {
	id, ok := parseID(raw)
	return ok && id == want
}
