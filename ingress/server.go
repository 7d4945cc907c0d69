package ingress

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/internal/httpbody"
	"github.com/interopgate/interopgate/internal/jsonrpc"
	"github.com/interopgate/interopgate/internal/netcause"
	"github.com/interopgate/interopgate/internal/sendrefusal"
	"github.com/interopgate/interopgate/store"
)

// transportError answers what fasthttp rejects before the handler.
func (g *Gateway) transportError(ctx *fasthttp.RequestCtx, err error) {
	e := newClientError(jsonrpc.CodeParseError, http.StatusBadRequest, "bad_request", "bad request")
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &small):
		// Headers past the read buffer (found by a review: a 200 KB header read "bad request").
		e = newClientError(jsonrpc.CodeInvalidRequest, http.StatusRequestHeaderFieldsTooLarge, "headers_too_large", "request headers too large")
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		e = g.errBodyTooLarge()
	}
	g.metrics.call("", e.reason)
	writeError(ctx, nil, e)
}

func (g *Gateway) errBodyTooLarge() *clientError {
	return newClientError(CodeTxTooLarge, http.StatusRequestEntityTooLarge, "body_too_large",
		fmt.Sprintf("request body exceeds %d bytes", g.cfg.MaxBodyBytes))
}

// readBody reads the request's body as it arrives (the server streams bodies), within
// max_body_bytes and the bodies' budget (max_body_bytes_held): see internal/httpbody. release
// gives its bytes back once the request is answered.
func (g *Gateway) readBody(ctx *fasthttp.RequestCtx) (body []byte, release func(), e *clientError) {
	body, release, err := httpbody.Read(ctx, g.cfg.MaxBodyBytes, g.bodies)
	switch {
	case errors.Is(err, httpbody.ErrTooLarge):
		return nil, release, g.errBodyTooLarge()
	case errors.Is(err, httpbody.ErrBusy):
		return nil, release, newClientError(CodeLimitExceeded, http.StatusServiceUnavailable, "busy",
			"the gateway holds as many request bodies as it may (max_body_bytes_held): retry in a moment")
	case err != nil:
		return nil, release, newClientError(jsonrpc.CodeParseError, http.StatusBadRequest, "bad_request", "request body not read: "+netcause.Of(err, 0))
	}
	return body, release, nil
}

func writeError(ctx *fasthttp.RequestCtx, id json.RawMessage, e *clientError) {
	ctx.SetStatusCode(e.status)
	ctx.SetContentType("application/json")
	ctx.SetBody(jsonrpc.AppendError(nil, id, e.rpc))
}

// handle is the fasthttp handler.
func (g *Gateway) handle(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	switch string(ctx.Path()) {
	case "/healthz":
		ctx.SetBodyString("ok\n")
		return
	case "/readyz":
		if err := g.Ready(); err != nil {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBodyString("not ready: " + err.Error() + "\n" + g.filtersDetail())
			return
		}
		ctx.SetBodyString("ready\n" + g.filtersDetail())
		return
	}
	if g.cors(ctx) {
		return // a preflight, answered
	}
	who, kerr := g.identify(ctx)
	if kerr != nil {
		g.metrics.call("", kerr.reason)
		writeError(ctx, nil, kerr)
		return
	}
	if websocket.FastHTTPIsWebSocketUpgrade(ctx) {
		g.serveWS(ctx, who)
		return
	}
	if !ctx.IsPost() {
		writeError(ctx, nil, newClientError(jsonrpc.CodeInvalidRequest, http.StatusMethodNotAllowed, "bad_request", "JSON-RPC requests must be POSTed (or a WebSocket upgrade)"))
		return
	}
	if c, ok := ctx.Conn().(*clientConn); ok && !c.nextRequest(g.cfg.MaxPipelinedRequests) {
		g.metrics.call("", "pipelined")
		ctx.SetConnectionClose()
		writeError(ctx, nil, newClientError(CodeLimitExceeded, http.StatusTooManyRequests, "pipelined",
			fmt.Sprintf("more than %d requests pipelined on one connection without reading the answers: the connection is closed", g.cfg.MaxPipelinedRequests)))
		return
	}
	// The body is read before a slot of max_requests_in_flight is taken: a client sending its
	// body slowly holds its connection, not a slot others need.
	body, release, berr := g.readBody(ctx)
	defer release()
	if berr != nil {
		g.metrics.call("", berr.reason)
		writeError(ctx, nil, berr)
		return
	}
	select {
	case g.requests <- struct{}{}:
		defer func() { <-g.requests }()
	default:
		g.metrics.call("", "busy")
		writeError(ctx, nil, newClientError(CodeLimitExceeded, http.StatusServiceUnavailable, "busy",
			"the gateway is at its limit of requests in flight: retry in a moment"))
		return
	}
	rctx, cancel := context.WithTimeout(withCaller(context.Background(), who), g.cfg.RequestTimeout.D())
	defer cancel()
	ip := who.ip
	if !g.allowIP(rctx, who) {
		g.metrics.call("", "rate_limited")
		writeError(ctx, nil, errRateLimited())
		return
	}
	// A client whose answers wait unread, or a gateway holding its bound of them, asks no sentry.
	if which, held := g.answers.over(ip); which != "" {
		e := errUnreadAnswers(which, held)
		g.metrics.call("", e.reason)
		writeError(ctx, nil, e)
		return
	}
	h := g.answers.hold(ip)
	defer h.done()
	// A batch is refused by its length before any element is decoded.
	if n := jsonrpc.BatchLen(body, g.cfg.MaxBatchSize); n > g.cfg.MaxBatchSize {
		g.metrics.call("batch", "batch_too_large")
		writeError(ctx, nil, errBatchTooLarge(g.cfg.MaxBatchSize))
		return
	}
	reqs, batch, perr := jsonrpc.Parse(body, 0)
	if perr != nil {
		g.metrics.call("", "bad_request")
		// HTTP 200, as geth answers a body it cannot read: the error is in the JSON-RPC answer.
		writeError(ctx, nil, &clientError{rpc: perr, status: http.StatusOK, reason: "bad_request"})
		return
	}
	if !batch {
		g.single(rctx, ctx, &reqs[0], h)
		g.metrics.requestDone(g.methodLabel(reqs[0].Method), time.Since(start))
		return
	}
	out := g.batch(rctx, reqs, h)
	if len(out) == 2 { // "[]": a batch of notifications only, answered with nothing, as geth does
		ctx.SetStatusCode(http.StatusOK)
		return
	}
	respond(ctx, http.StatusOK, out, h)
	g.metrics.requestDone("batch", time.Since(start))
}

// filtersDetail is /readyz's account of the filters: answering, needed, each endpoint and the
// cause of its failure (its error text is in the log and on the metrics port only). The
// status stays the sentries' (reads need no filter): filters below quorum fail interop txs
// closed, which the metrics and the log say too.
func (g *Gateway) filtersDetail() string {
	if g.filters == nil {
		return ""
	}
	r := g.filters()
	var b strings.Builder
	fmt.Fprintf(&b, "filters: %d of %d answering, %d needed (headroom %d)", r.Up, len(r.Endpoints), r.Needed, r.Headroom)
	if r.Headroom < 0 {
		b.WriteString(": below quorum, every interop tx fails closed")
	}
	b.WriteByte('\n')
	for _, e := range r.Endpoints {
		if e.Up {
			fmt.Fprintf(&b, "  %s: up\n", e.Name)
		} else {
			fmt.Fprintf(&b, "  %s: down (%s)\n", e.Name, e.Cause) // the cause only: this port is public
		}
	}
	return b.String()
}

// respond writes an answer. One of smallAnswer bytes or more is charged to h and streamed, so
// the budget gets it back once the client has taken it (or its connection ended); nothing is
// copied into fasthttp's pooled buffers, which would keep it after the request.
func respond(ctx *fasthttp.RequestCtx, status int, body []byte, h *hold) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	if len(body) < smallAnswer || h == nil {
		ctx.SetBody(body)
		return
	}
	if int64(len(body)) > h.n {
		h.grow(len(body) - int(h.n)) // an admission answer, not charged while it was made
	}
	h.resize(len(body))
	h.handed = true
	ctx.SetBodyStream(&heldBody{Reader: bytes.NewReader(body), h: h}, len(body))
}

// errUnreadAnswers refuses a request while its client's answers (which = "ip"), or all the
// answers the gateway holds (which = "total"), are at their bound.
func errUnreadAnswers(which string, held int64) *clientError {
	if which == "ip" {
		return newClientError(CodeLimitExceeded, http.StatusTooManyRequests, "unread_answers",
			fmt.Sprintf("%d bytes of answers to your address are waiting to be read: read them before sending more", held))
	}
	return newClientError(CodeLimitExceeded, http.StatusServiceUnavailable, "busy",
		"the gateway holds its bound of answers waiting for clients: retry in a moment")
}

func (g *Gateway) methodLabel(m string) string { return g.methods.label(m) }

// single answers a non-batch request. A read is forwarded as the canonical encoding of the
// call as it was judged (id, method, params), never as the client's bytes: a sentry whose JSON
// decoder reads keys differently (case, duplicates) must see the same call.
func (g *Gateway) single(rctx context.Context, ctx *fasthttp.RequestCtx, r *jsonrpc.Request, h *hold) {
	if e := r.Validate(); e != nil {
		g.metrics.call("other", "bad_request")
		writeError(ctx, r.ID, &clientError{rpc: e, status: http.StatusOK})
		return
	}
	status, body, e := g.call(rctx, r, h)
	switch {
	case r.IsNotification():
		// Run as a call (a send is admitted and forwarded), answered with nothing, as geth does.
		ctx.SetStatusCode(http.StatusOK)
	case e != nil:
		writeError(ctx, r.ID, e)
	default:
		respond(ctx, status, body, h)
	}
}

// call serves one valid call through the method table: its HTTP status and answer, or an error.
func (g *Gateway) call(rctx context.Context, r *jsonrpc.Request, h *hold) (int, []byte, *clientError) {
	switch m := g.methods.lookup(r.Method); m.kind {
	case methodRead:
		if !g.allowMethod(rctx, r.Method) {
			g.metrics.call(r.Method, "method_rate_limited")
			return 0, nil, errMethodRateLimited(r.Method)
		}
		id := r.ID
		if len(id) == 0 {
			id = json.RawMessage("null")
		}
		status, body, err := g.sentries.group.do(rctx, appendCall(nil, id, r.Method, r.Params), h)
		if err != nil {
			e := errNoBackend(err)
			if errors.Is(err, errAnswerBudget) {
				e = errUnreadAnswers(h.refused, g.answers.heldBy(h.ip))
			}
			g.metrics.call(r.Method, e.reason)
			return 0, nil, e
		}
		g.metrics.call(r.Method, "forwarded")
		return status, body, nil
	case methodSend:
		a := g.admitCalls(rctx, []*jsonrpc.Request{r})[0]
		return a.status, a.body, a.err
	case methodLocal:
		return http.StatusOK, m.answer(rctx, r), nil
	default:
		g.metrics.call("other", "method_not_allowed")
		return 0, nil, errMethodNotAllowed(r.Method)
	}
}

func errNoBackend(err error) *clientError {
	return newClientError(CodeNoBackend, http.StatusServiceUnavailable, "no_backend", "no sentry backend could take the request: retry shortly")
}

// batch answers a JSON-RPC batch: admission calls are admitted together (their filter checks
// coalesced), reads go to a sentry as one sub-batch, and the answers come back in order.
func (g *Gateway) batch(ctx context.Context, reqs []jsonrpc.Request, h *hold) []byte {
	answers := make([][]byte, len(reqs))
	reads := make([][]byte, len(reqs)) // a sentry's answers to reads, put under the client's id as the batch's answer is made
	var admitIdx, readIdx []int
	var admits []*jsonrpc.Request
	for i := range reqs {
		r := &reqs[i]
		if e := r.Validate(); e != nil {
			answers[i] = jsonrpc.AppendError(nil, r.ID, e)
			continue
		}
		switch m := g.methods.lookup(r.Method); m.kind {
		case methodRead:
			if !g.allowMethod(ctx, r.Method) {
				g.metrics.call(r.Method, "method_rate_limited")
				answers[i] = jsonrpc.AppendError(nil, r.ID, errMethodRateLimited(r.Method).rpc)
				continue
			}
			readIdx = append(readIdx, i)
		case methodSend:
			admitIdx = append(admitIdx, i)
			admits = append(admits, r)
		case methodLocal:
			answers[i] = m.answer(ctx, r)
		default:
			g.metrics.call("other", "method_not_allowed")
			answers[i] = jsonrpc.AppendError(nil, r.ID, errMethodNotAllowed(r.Method).rpc)
		}
	}
	var wg sync.WaitGroup
	switch {
	case len(readIdx) > 0 && len(admits) == 0:
		g.forwardReads(ctx, reqs, readIdx, answers, reads, h)
	case len(readIdx) > 0:
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.forwardReads(ctx, reqs, readIdx, answers, reads, h)
		}()
	}
	if len(admits) > 0 {
		for j, a := range g.admitCalls(ctx, admits) {
			i := admitIdx[j]
			if a.err != nil {
				answers[i] = jsonrpc.AppendError(nil, reqs[i].ID, a.err.rpc)
			} else {
				answers[i] = a.body
			}
		}
	}
	wg.Wait()
	size := len(answers) + 2
	for i, a := range answers {
		size += len(a) + len(reads[i]) + len(reqs[i].ID)
	}
	h.grow(size) // the answer is made once, at its size; the parts it is made of go after
	out := make([]byte, 1, size)
	out[0] = '['
	n := 0
	for i, a := range answers {
		if reqs[i].IsNotification() {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		if reads[i] != nil {
			out = appendWithID(out, reads[i], reqs[i].ID)
		} else {
			out = append(out, a...)
		}
	}
	out = append(out, ']')
	h.resize(len(out))
	return out
}

// forwardReads sends the reads of a batch to one sentry as one sub-batch; each answer goes in
// reads (to be put under the client's id), or an error in answers.
func (g *Gateway) forwardReads(ctx context.Context, reqs []jsonrpc.Request, idx []int, answers, reads [][]byte, h *hold) {
	calls := make([]*jsonrpc.Request, len(idx))
	for j, i := range idx {
		calls[j] = &reqs[i]
	}
	parts, err := g.sentries.subBatch(ctx, calls, false, h)
	for j, i := range idx {
		if parts[j] == nil {
			e := errNoBackend(err)
			if errors.Is(err, errAnswerBudget) {
				e = errUnreadAnswers(h.refused, g.answers.heldBy(h.ip))
			}
			g.metrics.call(reqs[i].Method, e.reason)
			answers[i] = jsonrpc.AppendError(nil, reqs[i].ID, e.rpc)
			continue
		}
		g.metrics.call(reqs[i].Method, "forwarded")
		reads[i] = parts[j]
	}
}

// rawAlias keeps the sub-slice of the decoded input it was given instead of a copy: for a
// sentry's answer that outlives the decoded value, so a large result is not copied twice.
type rawAlias []byte

func (a *rawAlias) UnmarshalJSON(b []byte) error {
	*a = b
	return nil
}

// withID rebuilds a sentry's response object under the client's id.
func withID(resp json.RawMessage, id json.RawMessage) []byte {
	return appendWithID(nil, resp, id)
}

// appendWithID appends a sentry's response object rebuilt under the client's id.
func appendWithID(dst []byte, resp json.RawMessage, id json.RawMessage) []byte {
	var r struct {
		Result rawAlias       `json:"result"`
		Error  *jsonrpc.Error `json:"error"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return jsonrpc.AppendError(dst, id, jsonrpc.Errorf(CodeServerError, "unreadable answer from the sentry"))
	}
	if r.Error != nil {
		return jsonrpc.AppendError(dst, id, r.Error)
	}
	if r.Result == nil {
		r.Result = rawAlias("null")
	}
	return jsonrpc.AppendResult(dst, id, r.Result)
}

func appendCall(dst, id []byte, method string, params json.RawMessage) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = append(dst, id...)
	dst = append(dst, `,"method":`...)
	dst = strconv.AppendQuote(dst, method)
	if len(params) > 0 {
		dst = append(dst, `,"params":`...)
		dst = append(dst, params...)
	}
	return append(dst, '}')
}

// callAnswer is the answer to one admission call: a client error, or a response body.
type callAnswer struct {
	err    *clientError
	status int
	body   []byte
}

// txCall is an admission call and its transactions.
type txCall struct {
	req   *jsonrpc.Request
	items []*txItem
	// rest is the params after the transaction (eth_sendRawTransaction*), bundle the bundle
	// object's members (eth_sendBundle): with the judged txs they rebuild the forwarded call.
	rest   []json.RawMessage
	bundle map[string]json.RawMessage
	err    *clientError
}

// parseSendCall reads an admission call's transactions. Every member that decides what the
// sentry would run must be unambiguous: a bundle with a second spelling of "txs" is refused.
func parseSendCall(r *jsonrpc.Request) (*txCall, [][]byte) {
	c := &txCall{req: r}
	if raw, ok := singleHexParam(r); ok {
		return c, [][]byte{raw}
	}
	var ps []json.RawMessage
	if err := json.Unmarshal(r.Params, &ps); err != nil || len(ps) == 0 {
		c.err = errInvalidParams("invalid params: want [\"0x<signed transaction>\", ...]")
		return c, nil
	}
	var hexes []string
	if r.Method == MethodSendBundle {
		const bad = "invalid params: eth_sendBundle wants [{\"txs\": [\"0x…\", …], …}]"
		if err := json.Unmarshal(ps[0], &c.bundle); err != nil {
			c.err = errInvalidParams(bad)
			return c, nil
		}
		for k := range c.bundle {
			if k != "txs" && strings.EqualFold(k, "txs") {
				c.err = errInvalidParams(fmt.Sprintf("invalid params: eth_sendBundle member %q is ambiguous: spell it \"txs\"", k))
				return c, nil
			}
		}
		if err := json.Unmarshal(c.bundle["txs"], &hexes); err != nil || len(hexes) == 0 {
			c.err = errInvalidParams(bad)
			return c, nil
		}
	} else {
		if r.Method == MethodSendRawTransaction && len(ps) > 1 {
			// As geth answers it, before any judging (found by a review: the tx cost a filter
			// check, then the node refused the call).
			c.err = errInvalidParams("too many arguments, want at most 1")
			return c, nil
		}
		if bytes.IndexByte(ps[0], '\\') >= 0 {
			// geth reads the hex as written: an escape in it is refused there, so here too.
			c.err = errInvalidParams("invalid params: the signed transaction must be plain 0x-prefixed hex, without escapes")
			return c, nil
		}
		var h string
		if err := json.Unmarshal(ps[0], &h); err != nil {
			c.err = errInvalidParams("invalid params: the first param must be the signed transaction as a 0x-prefixed hex string")
			return c, nil
		}
		hexes = []string{h}
		c.rest = ps[1:]
	}
	out := make([][]byte, len(hexes))
	for i, h := range hexes {
		b, err := hexutil.Decode(h)
		if err != nil {
			c.err = errInvalidParams(fmt.Sprintf("invalid params: transaction %d is not 0x-prefixed hex: %v", i, err))
			return c, nil
		}
		out[i] = b
	}
	return c, out
}

// singleHexParam is the fast path of the common call, eth_sendRawTransaction with params
// exactly ["0x<hex>"] (no spaces, escapes or further params): the tx without a JSON decode.
// Anything else takes the full decode, which answers it the same way.
func singleHexParam(r *jsonrpc.Request) ([]byte, bool) {
	p := r.Params
	if r.Method != MethodSendRawTransaction || len(p) < 7 || string(p[:4]) != `["0x` || string(p[len(p)-2:]) != `"]` {
		return nil, false
	}
	h := p[4 : len(p)-2]
	if len(h)%2 != 0 {
		return nil, false
	}
	raw := make([]byte, len(h)/2)
	if _, err := hex.Decode(raw, h); err != nil {
		return nil, false // not hex (a quote, an escape, a comma): the full decode says why
	}
	return raw, true
}

// rawTxs extracts the raw transactions of an admission call's params (for the fuzz target).
func rawTxs(method string, params json.RawMessage) ([][]byte, *clientError) {
	c, raws := parseSendCall(&jsonrpc.Request{Method: method, Params: params})
	return raws, c.err
}

// canonicalParams rebuilds a call's params from the judged transactions.
func (c *txCall) canonicalParams() json.RawMessage {
	if c.req.Method == MethodSendBundle {
		txs := make([]string, len(c.items))
		for i, it := range c.items {
			txs[i] = hexutil.Encode(it.raw)
		}
		b, _ := json.Marshal(txs)
		c.bundle["txs"] = b
		obj, _ := json.Marshal(c.bundle) // one member per name: duplicates collapsed to what was judged
		return append(append([]byte{'['}, obj...), ']')
	}
	return sendParams(c.items[0].raw, c.rest)
}

// sendParams is ["0x<raw>", rest...].
func sendParams(raw []byte, rest []json.RawMessage) json.RawMessage {
	out := make([]byte, 0, 2*len(raw)+8)
	out = append(out, `["0x`...)
	out = hex.AppendEncode(out, raw)
	out = append(out, '"')
	for _, r := range rest {
		out = append(out, ',')
		out = append(out, r...)
	}
	return append(out, ']')
}

// admitCalls admits the transactions of several calls together and forwards the calls whose
// transactions all passed.
func (g *Gateway) admitCalls(ctx context.Context, reqs []*jsonrpc.Request) []callAnswer {
	calls := make([]*txCall, len(reqs))
	answers := make([]callAnswer, len(calls))
	var all []*txItem
	for i, r := range reqs {
		c, raws := parseSendCall(r)
		calls[i] = c
		if c.err != nil {
			continue
		}
		queueable := g.cfg.AsyncRetry && len(raws) == 1 &&
			(r.Method == MethodSendRawTransaction || r.Method == MethodSendRawTransactionConditional)
		for _, raw := range raws {
			it := g.judge.prepare(raw)
			if queueable {
				it.stage = stageQueueable
			}
			c.items = append(c.items, it)
		}
	}
	g.answerDuplicates(ctx, calls, answers)
	for i, c := range calls {
		if c.err == nil && answers[i].body == nil {
			all = append(all, c.items...)
		}
	}
	g.judge.admit(ctx, all)
	var forwards []int
	for i, c := range calls {
		switch {
		case answers[i].body != nil:
		case c.err != nil:
			g.metrics.call(c.req.Method, c.err.reason)
			answers[i] = callAnswer{err: c.err}
		default:
			if a, settled := g.settle(ctx, c); settled {
				answers[i] = a
			} else {
				forwards = append(forwards, i)
			}
		}
	}
	switch len(forwards) {
	case 0:
	case 1:
		answers[forwards[0]] = g.forwardOne(ctx, calls[forwards[0]])
	default:
		g.forwardMany(ctx, calls, forwards, answers)
	}
	return answers
}

// answerDuplicates answers, with the tx hash and no remote call, the single-tx sends of txs
// forwarded recently (a node's eth_sendRawTransaction answer is the hash).
func (g *Gateway) answerDuplicates(ctx context.Context, calls []*txCall, answers []callAnswer) {
	var idx []int
	var items []*txItem
	for i, c := range calls {
		if c.err != nil || len(c.items) != 1 || !c.items[0].interop || c.items[0].err != nil ||
			(c.req.Method != MethodSendRawTransaction && c.req.Method != MethodSendRawTransactionConditional) {
			continue
		}
		idx = append(idx, i)
		items = append(items, c.items[0])
	}
	for j, dup := range g.judge.cache.seen(ctx, items) {
		if !dup {
			continue
		}
		c := calls[idx[j]]
		g.metrics.duplicate()
		g.metrics.call(c.req.Method, "duplicate")
		hash, _ := json.Marshal(items[j].hash.Hex())
		answers[idx[j]] = callAnswer{status: http.StatusOK, body: jsonrpc.AppendResult(nil, c.req.ID, hash)}
	}
}

// settle rejects or queues a call whose transactions did not all pass; settled is false when
// the call is to be forwarded.
func (g *Gateway) settle(ctx context.Context, c *txCall) (callAnswer, bool) {
	for _, it := range c.items {
		if it.err != nil {
			if it.interop {
				g.metrics.verdict("rejected", it.err.reason)
			}
			g.metrics.call(c.req.Method, it.err.reason)
			return callAnswer{err: it.err}, true
		}
	}
	if len(c.items) == 1 && c.items[0].queue {
		return g.enqueue(ctx, c), true
	}
	return callAnswer{}, false
}

// forwardOne forwards a single call and relays the sentry's answer as it is.
func (g *Gateway) forwardOne(ctx context.Context, c *txCall) callAnswer {
	status, body, err := g.sentries.forward(ctx, c.req.ID, c.req.Method, c.canonicalParams())
	// A sentry whose pool gates interop txs for a moment (its failsafe on) refuses a valid one:
	// sent again after retry_delay, within retry_attempts and the request's deadline.
	for attempt := 0; err == nil && attempt < g.cfg.RetryAttempts && gatedAWhile(c, readRefusal(body)); attempt++ {
		select {
		case <-ctx.Done():
		case <-time.After(g.cfg.RetryDelay.D()):
		}
		if ctx.Err() != nil {
			break
		}
		g.metrics.retest("sentry_failsafe")
		status, body, err = g.sentries.forward(ctx, c.req.ID, c.req.Method, c.canonicalParams())
	}
	if err != nil {
		g.metrics.call(c.req.Method, "no_backend")
		return callAnswer{err: errNoBackend(err)}
	}
	body, took := g.knownIsAccepted(ctx, c, body)
	g.accepted(ctx, []*txCall{c}, []bool{took})
	return callAnswer{status: status, body: body}
}

// gatedAWhile reports whether a sentry refused an interop send, judged valid here, for a
// reason that passes (sendrefusal.Refusal.Passes): its pool gates interop txs (op-reth: "failsafe
// is enabled"), or it asked its filter as of its head's timestamp, which a message of that very
// block equals (op-reth does; the next block takes it, where this gateway judged it).
func gatedAWhile(c *txCall, r sentryRefusal) bool {
	return r.refused && r.why.Passes() && len(c.items) == 1 && c.items[0].interop
}

// knownIsAccepted answers a single send the sentry already had (a concurrent copy got there
// first) with the tx hash, as a repeat is answered locally: for the client it was accepted. So
// is an interop tx this gateway forwarded itself that a block took meanwhile ("nonce too low").
// took says whether the sentry has the call's txs (the answer is not an error).
func (g *Gateway) knownIsAccepted(ctx context.Context, c *txCall, resp []byte) (answer []byte, took bool) {
	r := readRefusal(resp)
	if !r.refused {
		return resp, true
	}
	if len(c.items) != 1 || (c.req.Method != MethodSendRawTransaction && c.req.Method != MethodSendRawTransactionConditional) {
		return resp, false
	}
	if r.why != sendrefusal.Known && !(c.items[0].interop && r.why == sendrefusal.NonceTooLow && g.judge.cache.seen(ctx, c.items)[0]) {
		return resp, false
	}
	g.metrics.duplicate()
	hash, _ := json.Marshal(c.items[0].hash.Hex())
	if !c.items[0].interop { // not hashed on admission: the non-interop path stays nearly free
		hash, _ = json.Marshal(crypto.Keccak256Hash(c.items[0].raw).Hex())
	}
	return jsonrpc.AppendResult(nil, c.req.ID, hash), true
}

// forwardMany forwards several calls as one sentry sub-batch.
func (g *Gateway) forwardMany(ctx context.Context, calls []*txCall, idx []int, answers []callAnswer) {
	reqs := make([]*jsonrpc.Request, len(idx))
	for j, i := range idx {
		reqs[j] = &jsonrpc.Request{Method: calls[i].req.Method, Params: calls[i].canonicalParams()}
	}
	parts, err := g.sentries.subBatch(ctx, reqs, g.sentries.toAll, nil)
	var took []*txCall
	var ok []bool
	for j, i := range idx {
		c := calls[i]
		if parts[j] == nil {
			g.metrics.call(c.req.Method, "no_backend")
			answers[i] = callAnswer{err: errNoBackend(err)}
			continue
		}
		body, tookIt := g.knownIsAccepted(ctx, c, withID(parts[j], c.req.ID))
		took = append(took, c)
		ok = append(ok, tookIt)
		answers[i] = callAnswer{status: 200, body: body}
	}
	g.accepted(ctx, took, ok)
}

// accepted records forwarded calls and, for those the sentry took, remembers their interop
// txs (a repeat is answered locally) and feeds them to the revalidator.
func (g *Gateway) accepted(ctx context.Context, calls []*txCall, tookIt []bool) {
	var hashes []common.Hash
	for i, c := range calls {
		g.metrics.call(c.req.Method, "forwarded")
		for _, it := range c.items {
			if !it.interop {
				continue
			}
			g.metrics.verdict("accepted", "valid")
			if tookIt[i] {
				hashes = append(hashes, it.hash)
				g.toFeed(store.FeedEntry{Hash: it.hash.Hex(), Raw: it.raw, At: g.now()}, true)
			}
		}
	}
	g.judge.cache.forwarded(ctx, hashes)
}

// txStatus answers interopgate_getTransactionStatus([hash]).
func (g *Gateway) txStatus(ctx context.Context, r *jsonrpc.Request) []byte {
	var ps []string
	if err := json.Unmarshal(r.Params, &ps); err != nil || len(ps) != 1 {
		return jsonrpc.AppendError(nil, r.ID, errInvalidParams("invalid params: want [\"0x<tx hash>\"]").rpc)
	}
	b, err := hexutil.Decode(ps[0])
	if err != nil || len(b) != common.HashLength {
		return jsonrpc.AppendError(nil, r.ID, errInvalidParams("invalid params: the tx hash must be 32 bytes of 0x-prefixed hex").rpc)
	}
	st, ok, err := g.st.Statuses.GetStatus(ctx, common.BytesToHash(b).Hex())
	g.metrics.call(MethodGetTransactionStatus, "ok")
	if err != nil || !ok {
		st = store.Status{State: "unknown"}
	}
	out, _ := json.Marshal(st)
	return jsonrpc.AppendResult(nil, r.ID, out)
}

func (g *Gateway) setStatus(ctx context.Context, hash common.Hash, st store.Status) {
	st.UpdatedAt = g.now()
	if err := g.st.Statuses.SetStatus(ctx, hash.Hex(), st, g.cfg.StatusTTL.D()); err != nil {
		g.log.Warn("recording tx status", zap.String("tx", hash.Hex()), zap.Error(err))
	}
}
