package ingress

// JSON-RPC over WebSocket on the gateway's own listener (docs/gateway.md, "WebSocket"). Every
// call on a socket goes through the method table as an HTTP call does (a send through interop
// admission); eth_subscribe and eth_unsubscribe are relayed to one healthy sentry's WebSocket,
// opened for the client on its first subscription. Bounded per connection (message size =
// max_body_bytes, subscriptions, calls in flight, queued answers) and in total (max_ws_conns).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/internal/jsonrpc"
)

// Subscription methods, relayed to a sentry's WebSocket.
const (
	MethodSubscribe   = "eth_subscribe"
	MethodUnsubscribe = "eth_unsubscribe"
)

// wsSubscriptionKinds are the subscriptions relayed (eth_subscribe's first param).
var wsSubscriptionKinds = map[string]bool{"newHeads": true, "logs": true, "newPendingTransactions": true}

// wsClose codes and reasons the gateway ends a client's socket with.
const (
	wsCloseSlowReader = websocket.ClosePolicyViolation // 1008
	wsCloseSentryLost = websocket.CloseServiceRestart  // 1012
)

// wsSessions are the open client sockets, closed at shutdown.
type wsSessions struct {
	mu      sync.Mutex
	open    map[*wsSession]bool
	n       atomic.Int64
	reading atomic.Int64 // bytes of messages being read or handled (max_ws_read_bytes)
}

// wsSession is one client socket.
type wsSession struct {
	g        *Gateway
	conn     *websocket.Conn
	who      caller     // its client IP and API key
	out      chan wsOut // answers and notifications, in order, to the writer
	outMu    sync.Mutex // guards outClosed and sends on out
	outDone  bool       // the writer stopped: nothing more is queued
	inflight chan struct{}
	done     chan struct{}
	endOnce  sync.Once
	reason   string // why it ended (metrics)

	mu      sync.Mutex
	sentry  *wsUpstream
	subs    map[string]bool // subscription ids the client holds
	pending int             // subscribe calls not answered yet
}

// wsOut is one message for the client; h is the answer's charge, given back once written.
type wsOut struct {
	b []byte
	h *hold
}

// serveWS upgrades the request and serves the socket until either side ends it.
func (g *Gateway) serveWS(ctx *fasthttp.RequestCtx, who caller) {
	if !g.cfg.WebSocket {
		writeError(ctx, nil, newClientError(jsonrpc.CodeInvalidRequest, http.StatusMethodNotAllowed, "bad_request", "WebSocket is not enabled on this endpoint"))
		return
	}
	if g.ws.n.Add(1) > int64(g.cfg.MaxWSConns) {
		g.ws.n.Add(-1)
		g.metrics.call("", "busy")
		writeError(ctx, nil, newClientError(CodeLimitExceeded, http.StatusServiceUnavailable, "busy",
			"the gateway is at its limit of WebSocket connections: retry in a moment"))
		return
	}
	up := websocket.FastHTTPUpgrader{
		HandshakeTimeout: g.cfg.ReadTimeout.D(),
		// A browser's page (it sends an Origin) may open a socket from cors_origins; without
		// CORS set up, from anywhere: no cookies or credentials are involved.
		CheckOrigin: func(ctx *fasthttp.RequestCtx) bool {
			origin := ctx.Request.Header.Peek("Origin")
			return len(g.cfg.CORSOrigins) == 0 || len(origin) == 0 || g.originAllowed(string(origin))
		},
	}
	err := up.Upgrade(ctx, func(conn *websocket.Conn) {
		defer g.ws.n.Add(-1)
		s := &wsSession{g: g, conn: conn, who: who, out: make(chan wsOut, g.cfg.WSWriteQueue),
			inflight: make(chan struct{}, g.cfg.MaxWSCallsInFlight), done: make(chan struct{}), subs: map[string]bool{}}
		g.ws.add(s)
		defer g.ws.remove(s)
		g.metrics.wsOpen(1)
		defer g.metrics.wsOpen(-1)
		s.run()
	})
	if err != nil {
		g.ws.n.Add(-1)
		g.log.Debug("websocket upgrade", zap.Error(err))
	}
}

func (w *wsSessions) add(s *wsSession) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.open == nil {
		w.open = map[*wsSession]bool{}
	}
	w.open[s] = true
}

func (w *wsSessions) remove(s *wsSession) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.open, s)
}

// closeAll ends every socket (shutdown).
func (w *wsSessions) closeAll() {
	w.mu.Lock()
	open := make([]*wsSession, 0, len(w.open))
	for s := range w.open {
		open = append(open, s)
	}
	w.mu.Unlock()
	for _, s := range open {
		s.end("shutdown", websocket.CloseGoingAway, "the gateway is shutting down")
	}
}

// run reads the client's messages until the socket ends; the writer runs beside it.
func (s *wsSession) run() {
	s.conn.SetReadLimit(int64(s.g.cfg.MaxBodyBytes))
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.write()
	}()
	var calls sync.WaitGroup
	for {
		msg, err := s.readMessage()
		if err != nil {
			switch {
			case errors.Is(err, websocket.ErrReadLimit):
				s.end("too_large", websocket.CloseMessageTooBig, fmt.Sprintf("a message above max_body_bytes (%d bytes)", s.g.cfg.MaxBodyBytes))
			case errors.Is(err, errWSReadBudget):
				s.end("busy", websocket.CloseTryAgainLater, "the gateway holds its bound of WebSocket messages being read: retry in a moment")
			case errors.Is(err, os.ErrDeadlineExceeded):
				s.end("read_timeout", websocket.ClosePolicyViolation, fmt.Sprintf("a message not sent whole within read_timeout (%s)", s.g.cfg.ReadTimeout.D()))
			default:
				s.end("client", websocket.CloseNormalClosure, "")
			}
			break
		}
		select { // a client with max_ws_calls_in_flight calls out waits, unread
		case s.inflight <- struct{}{}:
		case <-s.done:
		}
		if s.isDone() {
			break
		}
		calls.Add(1)
		go func() {
			defer calls.Done()
			defer func() { <-s.inflight }()
			defer s.g.ws.reading.Add(-int64(len(msg))) // its bytes were charged as they were read
			s.handle(msg)
		}()
	}
	calls.Wait()
	<-writerDone
	s.mu.Lock()
	up := s.sentry
	s.g.metrics.wsSubscriptions(-len(s.subs))
	s.subs = nil
	s.mu.Unlock()
	if up != nil {
		up.close()
	}
	s.g.metrics.wsEnded(s.reason)
}

func (s *wsSession) isDone() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// errWSReadBudget: the messages being read or handled on all sockets hold max_ws_read_bytes.
var errWSReadBudget = errors.New("WebSocket read budget spent")

// wsReadChunk is how much of a message is read (and charged) at a time.
const wsReadChunk = 32 << 10

// readMessage reads the next message: a socket may sit idle between messages (subscriptions are
// quiet), but once a message begins it must arrive whole within read_timeout, and its bytes are
// charged, as they arrive, to max_ws_read_bytes across all sockets (given back once handled), so
// sockets that begin large messages and never end them cannot hold memory without bound.
func (s *wsSession) readMessage() ([]byte, error) {
	_ = s.conn.SetReadDeadline(time.Time{})
	_, r, err := s.conn.NextReader()
	if err != nil {
		return nil, err
	}
	_ = s.conn.SetReadDeadline(time.Now().Add(s.g.cfg.ReadTimeout.D()))
	var msg []byte
	buf := make([]byte, wsReadChunk)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if s.g.ws.reading.Add(int64(n)) > int64(s.g.cfg.MaxWSReadBytes) {
				s.g.ws.reading.Add(-int64(n + len(msg)))
				return nil, errWSReadBudget
			}
			msg = append(msg, buf[:n]...)
		}
		if errors.Is(err, io.EOF) {
			return msg, nil
		}
		if err != nil {
			s.g.ws.reading.Add(-int64(len(msg)))
			return nil, err
		}
	}
}

// end closes the socket once, with a close frame saying why.
func (s *wsSession) end(reason string, code int, text string) {
	s.endOnce.Do(func() {
		s.reason = reason
		close(s.done)
		deadline := time.Now().Add(time.Second)
		_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), deadline)
		if code == websocket.CloseMessageTooBig {
			// Closing a socket with unread bytes (the rest of the message too big to read)
			// makes the kernel reset it, and the client may lose the close frame that says
			// why: what the client still sends is read and dropped for up to a second (at most
			// 1 MiB) first. Only the reader ends so, on its goroutine: the hijacked connection
			// is valid only while the session runs.
			nc := s.conn.NetConn()
			_ = nc.SetReadDeadline(deadline)
			_, _ = io.CopyN(io.Discard, nc, 1<<20)
		}
		_ = s.conn.Close()
	})
}

// send queues a message for the client; a client that lets ws_write_queue of them pile up is
// disconnected rather than buffered without end.
func (s *wsSession) send(b []byte, h *hold) {
	s.outMu.Lock()
	full := false
	switch {
	case s.outDone:
		h.done()
	default:
		select {
		case s.out <- wsOut{b: b, h: h}:
		default:
			h.done()
			full = true
		}
	}
	s.outMu.Unlock()
	if full {
		s.end("slow_reader", wsCloseSlowReader, fmt.Sprintf("more than %d messages waiting to be read: read faster", s.g.cfg.WSWriteQueue))
	}
}

// write writes the queued messages, each within write_stall_timeout; when the session ends it
// stops taking messages and gives back what was queued.
func (s *wsSession) write() {
	stall := s.g.cfg.WriteStallTimeout.D()
	if stall <= 0 {
		stall = s.g.cfg.WriteTimeout.D()
	}
	for {
		select {
		case m := <-s.out:
			_ = s.conn.SetWriteDeadline(time.Now().Add(stall))
			if err := s.conn.WriteMessage(websocket.TextMessage, m.b); err != nil {
				s.end("slow_reader", wsCloseSlowReader, "an answer was not taken in time")
			}
			m.h.done()
		case <-s.done:
			s.outMu.Lock()
			s.outDone = true
			s.outMu.Unlock()
			for {
				select {
				case m := <-s.out:
					m.h.done()
				default:
					return
				}
			}
		}
	}
}

// handle answers one message: a call or a batch, through the method table as over HTTP.
func (s *wsSession) handle(msg []byte) {
	g := s.g
	ctx, cancel := context.WithTimeout(withCaller(context.Background(), s.who), g.cfg.RequestTimeout.D())
	defer cancel()
	select {
	case g.requests <- struct{}{}:
		defer func() { <-g.requests }()
	default:
		g.metrics.call("", "busy")
		s.send(jsonrpc.AppendError(nil, nil, jsonrpc.Errorf(CodeLimitExceeded, "the gateway is at its limit of requests in flight: retry in a moment")), nil)
		return
	}
	if !g.allowIP(ctx, s.who) {
		g.metrics.call("", "rate_limited")
		s.send(jsonrpc.AppendError(nil, nil, errRateLimited().rpc), nil)
		return
	}
	if which, held := g.answers.over(s.who.ip); which != "" {
		e := errUnreadAnswers(which, held)
		g.metrics.call("", e.reason)
		s.send(jsonrpc.AppendError(nil, nil, e.rpc), nil)
		return
	}
	if n := jsonrpc.BatchLen(msg, g.cfg.MaxBatchSize); n > g.cfg.MaxBatchSize {
		g.metrics.call("batch", "batch_too_large")
		s.send(jsonrpc.AppendError(nil, nil, errBatchTooLarge(g.cfg.MaxBatchSize).rpc), nil)
		return
	}
	reqs, batch, perr := jsonrpc.Parse(msg, 0)
	if perr != nil {
		g.metrics.call("", "bad_request")
		s.send(jsonrpc.AppendError(nil, nil, perr), nil)
		return
	}
	h := g.answers.hold(s.who.ip)
	if batch { // subscriptions are single calls: in a batch they are off the method table (-32601)
		out := g.batch(ctx, reqs, h)
		if len(out) == 2 { // notifications only: nothing to answer
			h.done()
			return
		}
		s.send(out, h)
		return
	}
	r := &reqs[0]
	if e := r.Validate(); e != nil {
		g.metrics.call("other", "bad_request")
		s.send(jsonrpc.AppendError(nil, r.ID, e), h)
		return
	}
	switch r.Method {
	case MethodSubscribe:
		s.send(s.subscribe(ctx, r), h)
		return
	case MethodUnsubscribe:
		s.send(s.unsubscribe(ctx, r), h)
		return
	}
	_, body, e := g.call(ctx, r, h)
	switch {
	case r.IsNotification():
		h.done()
	case e != nil:
		s.send(jsonrpc.AppendError(nil, r.ID, e.rpc), h)
	default:
		s.send(body, h)
	}
}

// subscribe relays eth_subscribe to the session's sentry socket (opened now if need be).
func (s *wsSession) subscribe(ctx context.Context, r *jsonrpc.Request) []byte {
	var params []json.RawMessage
	var kind string
	if json.Unmarshal(r.Params, &params) != nil || len(params) == 0 || json.Unmarshal(params[0], &kind) != nil || !wsSubscriptionKinds[kind] {
		s.g.metrics.call(MethodSubscribe, "invalid_params")
		return jsonrpc.AppendError(nil, r.ID, errInvalidParams(`invalid params: want ["newHeads"], ["logs", {filter}] or ["newPendingTransactions"]`).rpc)
	}
	s.mu.Lock()
	if len(s.subs)+s.pending >= s.g.cfg.MaxWSSubscriptions {
		s.mu.Unlock()
		s.g.metrics.call(MethodSubscribe, "limit")
		return jsonrpc.AppendError(nil, r.ID, jsonrpc.Errorf(CodeLimitExceeded,
			fmt.Sprintf("at most %d subscriptions per connection: unsubscribe first", s.g.cfg.MaxWSSubscriptions)))
	}
	s.pending++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.pending--
		s.mu.Unlock()
	}()
	up, err := s.upstream(ctx)
	if err != nil {
		s.g.metrics.call(MethodSubscribe, "no_backend")
		return jsonrpc.AppendError(nil, r.ID, jsonrpc.Errorf(CodeNoBackend, err.Error()))
	}
	answer, err := up.call(ctx, MethodSubscribe, r.Params)
	if err != nil {
		s.g.metrics.call(MethodSubscribe, "no_backend")
		return jsonrpc.AppendError(nil, r.ID, jsonrpc.Errorf(CodeNoBackend, "the sentry did not answer the subscription: "+err.Error()))
	}
	var res struct {
		Result string `json:"result"`
	}
	if json.Unmarshal(answer, &res) == nil && res.Result != "" {
		s.mu.Lock()
		if s.subs != nil {
			s.subs[res.Result] = true
			s.g.metrics.wsSubscriptions(1)
		}
		s.mu.Unlock()
	}
	s.g.metrics.call(MethodSubscribe, "forwarded")
	return appendWithID(nil, answer, r.ID)
}

// unsubscribe relays eth_unsubscribe for a subscription the client holds.
func (s *wsSession) unsubscribe(ctx context.Context, r *jsonrpc.Request) []byte {
	var ids []string
	if json.Unmarshal(r.Params, &ids) != nil || len(ids) != 1 {
		return jsonrpc.AppendError(nil, r.ID, errInvalidParams(`invalid params: want ["<subscription id>"]`).rpc)
	}
	s.mu.Lock()
	held, up := s.subs[ids[0]], s.sentry
	s.mu.Unlock()
	if !held || up == nil {
		return jsonrpc.AppendResult(nil, r.ID, []byte("false")) // as geth answers an unknown id
	}
	answer, err := up.call(ctx, MethodUnsubscribe, r.Params)
	if err != nil {
		return jsonrpc.AppendError(nil, r.ID, jsonrpc.Errorf(CodeNoBackend, "the sentry did not answer: "+err.Error()))
	}
	s.mu.Lock()
	if s.subs[ids[0]] {
		delete(s.subs, ids[0])
		s.g.metrics.wsSubscriptions(-1)
	}
	s.mu.Unlock()
	s.g.metrics.call(MethodUnsubscribe, "forwarded")
	return appendWithID(nil, answer, r.ID)
}

// upstream returns the session's sentry socket, dialling one healthy sentry's ws_url.
func (s *wsSession) upstream(ctx context.Context) (*wsUpstream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sentry != nil {
		return s.sentry, nil
	}
	b := s.g.sentries.group.wsBackend()
	if b == nil {
		return nil, errors.New("no healthy sentry with a WebSocket (backends' ws_url) for subscriptions")
	}
	d := websocket.Dialer{HandshakeTimeout: s.g.cfg.ReadTimeout.D()}
	conn, _, err := d.DialContext(ctx, b.wsURL, nil)
	if err != nil {
		s.g.log.Warn("dialling a sentry's WebSocket", zap.String("backend", b.name), zap.Error(err))
		return nil, fmt.Errorf("the sentry's WebSocket could not be reached: retry shortly")
	}
	conn.SetReadLimit(maxAnswerBytes)
	up := &wsUpstream{conn: conn, backend: b.name, waiting: map[uint64]chan []byte{}, done: make(chan struct{})}
	s.sentry = up
	go up.read(s)
	go up.watch(s, b, s.g.sentries.group.cfg.HealthInterval)
	return up, nil
}

// wsUpstream is a session's socket to a sentry: subscription calls go out with the gateway's own
// ids; notifications come back and go to the client as the sentry sent them.
type wsUpstream struct {
	conn    *websocket.Conn
	backend string
	writeMu sync.Mutex
	mu      sync.Mutex
	nextID  uint64
	waiting map[uint64]chan []byte
	done    chan struct{}
	once    sync.Once
}

func (u *wsUpstream) close() {
	u.once.Do(func() {
		close(u.done)
		_ = u.conn.Close()
	})
}

// call sends one call and waits for its answer.
func (u *wsUpstream) call(ctx context.Context, method string, params json.RawMessage) ([]byte, error) {
	u.mu.Lock()
	u.nextID++
	id := u.nextID
	ch := make(chan []byte, 1)
	u.waiting[id] = ch
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		delete(u.waiting, id)
		u.mu.Unlock()
	}()
	u.writeMu.Lock()
	_ = u.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	err := u.conn.WriteMessage(websocket.TextMessage, appendCall(nil, []byte(strconv.FormatUint(id, 10)), method, params))
	u.writeMu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case a := <-ch:
		return a, nil
	case <-u.done:
		return nil, errors.New("the sentry's WebSocket closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// watch ends the client's socket when its sentry leaves the rotation (unhealthy, or lagging):
// its subscriptions would go on from a node the gateway no longer trusts.
func (u *wsUpstream) watch(s *wsSession, b *backend, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-u.done:
			return
		case <-s.done:
			return
		case <-t.C:
			if !b.healthy.Load() || !b.inSync.Load() {
				s.g.log.Warn("a sentry left the rotation: closing its clients' subscriptions", zap.String("backend", b.name))
				s.end("sentry_lost", wsCloseSentryLost, "the sentry behind your subscriptions fell behind or failed: reconnect and subscribe again")
				return
			}
		}
	}
}

// read relays the sentry's messages until its socket ends, then ends the client's: its
// subscriptions are gone, and a silent stall would look like a quiet chain.
func (u *wsUpstream) read(s *wsSession) {
	defer u.close()
	for {
		_, msg, err := u.conn.ReadMessage()
		if err != nil {
			if !s.isDone() {
				s.g.log.Warn("a sentry's WebSocket ended: closing its clients' subscriptions", zap.String("backend", u.backend), zap.Error(err))
				s.end("sentry_lost", wsCloseSentryLost, "the sentry's subscription connection was lost: reconnect and subscribe again")
			}
			return
		}
		var head struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if json.Unmarshal(msg, &head) != nil {
			continue
		}
		if head.Method == "eth_subscription" {
			s.send(msg, nil)
			continue
		}
		id, err := strconv.ParseUint(string(head.ID), 10, 64)
		if err != nil {
			continue
		}
		u.mu.Lock()
		ch := u.waiting[id]
		u.mu.Unlock()
		if ch != nil {
			ch <- msg
		}
	}
}
