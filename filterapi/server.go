package filterapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/internal/httpbody"
	"github.com/interopgate/interopgate/internal/jsonrpc"
	"github.com/interopgate/interopgate/internal/ratelog"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// Method names served.
const (
	MethodInteropCheck    = "interop_checkAccessList"
	MethodSupervisorCheck = "supervisor_checkAccessList"
	MethodGetFailsafe     = "admin_getFailsafeEnabled"
	MethodGetBlockHash    = "interop_getBlockHashByNumber"
	MethodSetFailsafe     = "admin_setFailsafeEnabled"
)

// Config configures a Server. Zero values take the defaults.
type Config struct {
	// MaxBodyBytes bounds a request body (default 5 MiB).
	MaxBodyBytes int
	// MaxBodyBytesHeld bounds the request bodies being read or answered, in all (default 64 MiB;
	// at least MaxBodyBytes).
	MaxBodyBytesHeld int
	// MaxBatchSize bounds the calls of one JSON-RPC batch (default 1000).
	MaxBatchSize int
	// MaxInboxEntries bounds the inbox entries of one check (default 1024).
	MaxInboxEntries int
	// CheckTimeout bounds the checker's work for one HTTP request (default 10 s).
	CheckTimeout time.Duration
	// ReadTimeout, WriteTimeout and IdleTimeout of connections (default 10 s, 15 s, 60 s).
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// AllowSetFailsafe serves admin_setFailsafeEnabled (for devnets and tests; off by default).
	AllowSetFailsafe bool
}

func (c *Config) withDefaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxBodyBytes, 5<<20)
	def(&c.MaxBodyBytesHeld, max(64<<20, c.MaxBodyBytes))
	def(&c.MaxBatchSize, 1000)
	def(&c.MaxInboxEntries, 1024)
	defDur(&c.CheckTimeout, 10*time.Second)
	defDur(&c.ReadTimeout, 10*time.Second)
	defDur(&c.WriteTimeout, 15*time.Second)
	defDur(&c.IdleTimeout, 60*time.Second)
}

// Check validates the config and names the bad field.
func (c *Config) Check() error {
	values := map[string]int64{"max_body_bytes": int64(c.MaxBodyBytes), "max_body_bytes_held": int64(c.MaxBodyBytesHeld), "max_batch_size": int64(c.MaxBatchSize),
		"max_inbox_entries": int64(c.MaxInboxEntries), "check_timeout": int64(c.CheckTimeout)}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(values)) {
		if values[name] < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", name))
		}
	}
	if c.MaxBodyBytesHeld > 0 && c.MaxBodyBytesHeld < c.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("max_body_bytes_held (%d) is below max_body_bytes (%d)", c.MaxBodyBytesHeld, c.MaxBodyBytes))
	}
	return errors.Join(errs...)
}

// Server serves the check API. It is safe for concurrent use.
type Server struct {
	cfg      Config
	checker  sc.Checker
	log      *zap.Logger
	metrics  *Metrics
	bodies   *httpbody.Budget // the bytes of request bodies held at once
	ready    func(context.Context) error
	external func() bool // an upstream failsafe source, or nil
	methods  map[string]MethodHandler
	failsafe atomic.Bool
	http     *fasthttp.Server
	ln       net.Listener
}

// Option configures a Server.
type Option func(*Server)

// WithLogger logs through l (default: no logs).
func WithLogger(l *zap.Logger) Option { return func(s *Server) { s.log = l } }

// WithMetrics records requests in m.
func WithMetrics(m *Metrics) Option { return func(s *Server) { s.metrics = m } }

// WithReadiness makes /readyz answer 200 only while ready returns nil.
func WithReadiness(ready func(context.Context) error) Option {
	return func(s *Server) { s.ready = ready }
}

// WithFailsafeSource adds an upstream failsafe state (for example a FailsafeWatcher's Enabled):
// the server is in failsafe while either it or its own switch is on.
func WithFailsafeSource(enabled func() bool) Option { return func(s *Server) { s.external = enabled } }

// FailsafeMessage is op-interop-filter's own text for the failsafe error.
const FailsafeMessage = "failsafe is enabled, rejecting all CheckAccessList requests"

// BlockHashSource answers interop_getBlockHashByNumber: the hash of a chain's block at number,
// or of its latest block when latest is true.
type BlockHashSource func(ctx context.Context, chainID uint64, number uint64, latest bool) (common.Hash, error)

// WithBlockHashes serves interop_getBlockHashByNumber(chainID, "latest" | number) from src, as
// op-interop-filter does.
func WithBlockHashes(src BlockHashSource) Option {
	return WithMethod(MethodGetBlockHash, func(ctx context.Context, params json.RawMessage) (json.RawMessage, *jsonrpc.Error) {
		var ps []json.RawMessage
		if err := json.Unmarshal(params, &ps); err != nil || len(ps) != 2 {
			return nil, jsonrpc.Errorf(sc.CodeInvalidParams, `invalid params: want [chainID, "latest" | block number]`)
		}
		chain, err := decodeChainID(ps[0])
		if err != nil || !chain.IsUint64() {
			return nil, jsonrpc.Errorf(sc.CodeInvalidParams, "invalid params: chainID: a decimal string or 0x hex")
		}
		var tag string
		var number hexutil.Uint64
		latest := json.Unmarshal(ps[1], &tag) == nil && tag == "latest"
		if !latest {
			if err := json.Unmarshal(ps[1], &number); err != nil {
				return nil, jsonrpc.Errorf(sc.CodeInvalidParams, `invalid params: block: "latest" or a 0x hex number (other tags are not supported)`)
			}
		}
		h, err := src(ctx, chain.Uint64(), uint64(number), latest)
		if err != nil {
			return nil, jsonrpc.Errorf(sc.CodeInvalidParams, err.Error())
		}
		out, _ := json.Marshal(h)
		return out, nil
	})
}

// MethodHandler answers one call of an extra method: a raw JSON result, or an error.
type MethodHandler func(ctx context.Context, params json.RawMessage) (json.RawMessage, *jsonrpc.Error)

// WithMethod serves an extra method beside the check API (for example the revalidator's
// interopgate_checkTransactions).
func WithMethod(name string, h MethodHandler) Option {
	return func(s *Server) {
		if s.methods == nil {
			s.methods = map[string]MethodHandler{}
		}
		s.methods[name] = h
	}
}

// New builds a server over checker.
func New(checker sc.Checker, cfg Config, opts ...Option) (*Server, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("filter api: %w", err)
	}
	cfg.withDefaults()
	s := &Server{cfg: cfg, checker: checker, log: zap.NewNop(), ready: func(context.Context) error { return nil }}
	for _, o := range opts {
		o(s)
	}
	s.bodies = httpbody.NewBudget(int64(cfg.MaxBodyBytesHeld))
	s.http = &fasthttp.Server{
		Handler:                       httpbody.Guard(s.Handle),
		Name:                          "interopgate",
		MaxRequestBodySize:            cfg.MaxBodyBytes,
		ReadTimeout:                   cfg.ReadTimeout,
		WriteTimeout:                  cfg.WriteTimeout,
		IdleTimeout:                   cfg.IdleTimeout,
		NoDefaultServerHeader:         true,
		DisableHeaderNamesNormalizing: false,
		ErrorHandler:                  s.transportError,
		StreamRequestBody:             true, // read as it arrives: internal/httpbody
		ContinueHandler:               httpbody.Continue(cfg.MaxBodyBytes),
		Logger:                        ratelog.New(s.log, "http server", 10*time.Second),
	}
	return s, nil
}

// SetFailsafe turns the server's own failsafe switch on or off.
func (s *Server) SetFailsafe(on bool) { s.failsafe.Store(on) }

// FailsafeEnabled reports the failsafe state served by admin_getFailsafeEnabled.
func (s *Server) FailsafeEnabled() bool {
	return s.failsafe.Load() || (s.external != nil && s.external())
}

// Start binds addr ("host:port"; port 0 picks a free one) and serves in the background.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("filter api: listen %s: %w", addr, err)
	}
	s.Serve(ln)
	return nil
}

// Serve serves on ln, a listener the caller opened: its address can be handed out before the
// server exists (a pool that must know its endpoint's URL first), with no port to lose meanwhile.
func (s *Server) Serve(ln net.Listener) {
	s.ln = ln
	go func() {
		if err := s.http.Serve(ln); err != nil {
			s.log.Error("filter api stopped", zap.Error(err))
		}
	}()
}

// Addr is the bound address (after Start).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL is the server's http:// URL (after Start).
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Shutdown stops accepting connections and waits for requests in flight, until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.ShutdownWithContext(ctx) }

// transportError answers what fasthttp rejects before the handler (a body over the limit, a
// malformed request) with a JSON-RPC error.
func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	status, e := fasthttp.StatusBadRequest, jsonrpc.Errorf(jsonrpc.CodeParseError, "bad request")
	if errors.Is(err, httpbody.ErrBusy) {
		status, e = fasthttp.StatusServiceUnavailable, jsonrpc.Errorf(-32005, "the server holds as many request bodies as it may (max_body_bytes_held): retry in a moment")
	}
	if errors.Is(err, fasthttp.ErrBodyTooLarge) || errors.Is(err, httpbody.ErrTooLarge) {
		status, e = fasthttp.StatusRequestEntityTooLarge, jsonrpc.Errorf(jsonrpc.CodeInvalidRequest, fmt.Sprintf("request body exceeds %d bytes", s.cfg.MaxBodyBytes))
	}
	s.metrics.request("", "rejected")
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(jsonrpc.AppendError(nil, nil, e))
}

// Handle is the fasthttp handler: JSON-RPC on POST /, /healthz and /readyz.
func (s *Server) Handle(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/healthz":
		ctx.SetBodyString("ok\n")
		return
	case "/readyz":
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.ready(rctx); err != nil {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBodyString("not ready: " + err.Error() + "\n")
			return
		}
		ctx.SetBodyString("ready\n")
		return
	}
	if !ctx.IsPost() {
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		ctx.SetContentType("application/json")
		ctx.SetBody(jsonrpc.AppendError(nil, nil, jsonrpc.Errorf(jsonrpc.CodeInvalidRequest, "JSON-RPC requests must be POSTed")))
		return
	}
	ctx.SetContentType("application/json")
	body, release, err := httpbody.Read(ctx, s.cfg.MaxBodyBytes, s.bodies)
	defer release()
	if err != nil {
		s.transportError(ctx, err)
		return
	}
	reqs, batch, perr := jsonrpc.Parse(body, s.cfg.MaxBatchSize)
	if perr != nil {
		s.metrics.request("", "rejected")
		ctx.SetBody(jsonrpc.AppendError(nil, nil, perr))
		return
	}
	cctx, cancel := context.WithTimeout(context.Background(), s.cfg.CheckTimeout)
	defer cancel()
	out := s.serve(cctx, reqs, batch)
	ctx.SetBody(out)
}

// answer is one call's response: a raw JSON result or an error.
type answer struct {
	result []byte
	err    *jsonrpc.Error
}

var nullResult = []byte("null")

// serve answers the calls of one body; checks go to the checker in one CheckAccessLists call.
func (s *Server) serve(ctx context.Context, reqs []jsonrpc.Request, batch bool) []byte {
	answers := make([]answer, len(reqs))
	var checks []sc.Request
	var checkIdx []int
	failsafe := s.FailsafeEnabled()
	for i := range reqs {
		r := &reqs[i]
		if err := r.Validate(); err != nil {
			answers[i].err = err
			continue
		}
		switch r.Method {
		case MethodInteropCheck, MethodSupervisorCheck:
			req, err := decodeCheckParams(r.Params, s.cfg.MaxInboxEntries)
			switch {
			case err != nil:
				answers[i].err = jsonrpc.Errorf(sc.CodeInvalidParams, "invalid params: "+err.Error())
			case failsafe:
				answers[i].err = jsonrpc.Errorf(sc.CodeFailsafe, FailsafeMessage)
			default:
				checks = append(checks, req)
				checkIdx = append(checkIdx, i)
			}
		case MethodGetFailsafe:
			answers[i].result = boolJSON(failsafe)
		case MethodSetFailsafe:
			answers[i] = s.setFailsafe(r.Params)
		default:
			if h, ok := s.methods[r.Method]; ok {
				answers[i].result, answers[i].err = h(ctx, r.Params)
				continue
			}
			answers[i].err = jsonrpc.Errorf(jsonrpc.CodeMethodNotFound, fmt.Sprintf("the method %s does not exist/is not available", r.Method))
		}
	}
	if len(checks) > 0 {
		verdicts := s.checker.CheckAccessLists(ctx, checks)
		for j, v := range verdicts {
			answers[checkIdx[j]] = s.answerOf(v)
		}
	}
	var out []byte
	if batch {
		out = append(out, '[')
	}
	n := 0
	for i := range reqs {
		a := answers[i]
		s.metrics.request(reqs[i].Method, outcomeOf(a))
		if reqs[i].IsNotification() {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		if a.err != nil {
			out = jsonrpc.AppendError(out, reqs[i].ID, a.err)
		} else {
			out = jsonrpc.AppendResult(out, reqs[i].ID, a.result)
		}
	}
	if batch {
		out = append(out, ']')
	}
	return out
}

// answerOf turns a verdict into the JSON-RPC answer a filter gives.
func (s *Server) answerOf(v sc.Verdict) answer {
	switch {
	case v.Class == sc.ClassValid:
		return answer{result: nullResult}
	case v.Code != 0:
		return answer{err: jsonrpc.Errorf(v.Code, v.Message)}
	case v.Class == sc.ClassFailsafe:
		return answer{err: jsonrpc.Errorf(sc.CodeFailsafe, FailsafeMessage)}
	}
	// No verdict: say so without leaking upstream addresses; the log has the cause.
	s.log.Warn("check unavailable", zap.Error(v.Err))
	return answer{err: jsonrpc.Errorf(sc.CodeInternal, "internal error: interop data temporarily unavailable, retry later")}
}

func (s *Server) setFailsafe(raw json.RawMessage) answer {
	if !s.cfg.AllowSetFailsafe {
		return answer{err: jsonrpc.Errorf(jsonrpc.CodeMethodNotFound, "the method admin_setFailsafeEnabled does not exist/is not available")}
	}
	var params []bool
	if err := json.Unmarshal(raw, &params); err != nil || len(params) != 1 {
		return answer{err: jsonrpc.Errorf(sc.CodeInvalidParams, "invalid params: want [bool]")}
	}
	s.SetFailsafe(params[0])
	s.log.Info("failsafe switched", zap.Bool("enabled", params[0]))
	return answer{result: nullResult}
}

func boolJSON(b bool) []byte {
	if b {
		return []byte("true")
	}
	return []byte("false")
}

func outcomeOf(a answer) string {
	if a.err == nil {
		return "ok"
	}
	if strings.HasPrefix(a.err.Message, "invalid params") || a.err.Code == jsonrpc.CodeMethodNotFound || a.err.Code == jsonrpc.CodeInvalidRequest {
		return "bad_request"
	}
	return "error"
}
