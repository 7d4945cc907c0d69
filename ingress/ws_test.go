package ingress_test

// Issue 16: JSON-RPC over WebSocket through the gateway, on the devnet: subscriptions relayed
// from the sentry's socket, every send through interop admission, and the socket's bounds.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/fasthttp/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/ingress"
	"github.com/interopgate/interopgate/internal/rpctest"
)

// wsClient is a test client of the gateway's WebSocket.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	id   int
	// notes are the subscription notifications read while waiting for answers.
	notes []json.RawMessage
}

func dialWS(t *testing.T, httpURL string) *wsClient {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial("ws://"+strings.TrimPrefix(httpURL, "http://"), nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	return &wsClient{t: t, conn: conn}
}

type wsReply struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Params struct {
		Subscription string          `json:"subscription"`
		Result       json.RawMessage `json:"result"`
	} `json:"params"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// call sends one call and reads until its answer, keeping notifications that come first.
func (c *wsClient) call(method string, params ...any) wsReply {
	c.t.Helper()
	c.id++
	if params == nil {
		params = []any{}
	}
	if err := c.conn.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": c.id, "method": method, "params": params}); err != nil {
		c.t.Fatal(err)
	}
	for {
		r, raw := c.read()
		if r.Method == "eth_subscription" {
			c.notes = append(c.notes, raw)
			continue
		}
		if string(r.ID) != fmt.Sprint(c.id) {
			c.t.Fatalf("answer for id %s, want %d: %s", r.ID, c.id, raw)
		}
		return r
	}
}

func (c *wsClient) read() (wsReply, json.RawMessage) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, raw, err := c.conn.ReadMessage()
	if err != nil {
		c.t.Fatalf("reading the socket: %v", err)
	}
	var r wsReply
	if err := json.Unmarshal(raw, &r); err != nil {
		c.t.Fatalf("%v: %s", err, raw)
	}
	return r, raw
}

// note returns the next notification of subscription sub that match wants.
func (c *wsClient) note(sub string, match func(json.RawMessage) bool) {
	c.t.Helper()
	for i, raw := range c.notes {
		var r wsReply
		_ = json.Unmarshal(raw, &r)
		if r.Params.Subscription == sub && match(r.Params.Result) {
			c.notes = append(c.notes[:i], c.notes[i+1:]...)
			return
		}
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		r, raw := c.read()
		if r.Method != "eth_subscription" {
			c.t.Fatalf("an answer with no call out: %s", raw)
		}
		if r.Params.Subscription == sub && match(r.Params.Result) {
			return
		}
		c.notes = append(c.notes, raw) // another subscription's: kept for its turn
	}
	c.t.Fatalf("no notification of %s in 20 s", sub)
}

func txHex(t *testing.T, tx *types.Transaction) string {
	raw, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("0x%x", raw)
}

// A client on the gateway's WebSocket subscribes to newHeads and to the CrossL2Inbox's logs,
// sends a valid interop tx (accepted, mined, its ExecutingMessage log arrives on the
// subscription) and an invalid one (-320600, never reaches the sentry).
func TestWebSocketThroughTheGateway(t *testing.T) {
	s := newStack(t, nil, nil)
	c := dialWS(t, s.gw.URL())
	if r := c.call("eth_chainId"); r.Error != nil || string(r.Result) != `"0x386"` {
		t.Fatalf("eth_chainId over the socket: %+v %s", r.Error, r.Result)
	}
	var heads, logs string
	if r := c.call(ingress.MethodSubscribe, "newHeads"); r.Error != nil || json.Unmarshal(r.Result, &heads) != nil {
		t.Fatalf("newHeads: %+v %s", r.Error, r.Result)
	}
	if r := c.call(ingress.MethodSubscribe, "logs", map[string]any{"address": accesslist.CrossL2InboxAddress}); r.Error != nil || json.Unmarshal(r.Result, &logs) != nil {
		t.Fatalf("logs: %+v %s", r.Error, r.Result)
	}
	e := s.emit(901, "over the socket")
	valid, err := s.net.Chain(902).ValidateMessageTx(s.ctx, s.net.Accounts[1], 0, e.ID, e.PayloadHash) // emits ExecutingMessage
	if err != nil {
		t.Fatal(err)
	}
	if r := c.call(ingress.MethodSendRawTransaction, txHex(t, valid)); r.Error != nil || string(r.Result) != `"`+valid.Hash().Hex()+`"` {
		t.Fatalf("a valid interop tx over the socket: %+v %s", r.Error, r.Result)
	}
	s.net.Commit()
	c.note(heads, func(json.RawMessage) bool { return true })
	c.note(logs, func(res json.RawMessage) bool {
		var l struct {
			TxHash common.Hash   `json:"transactionHash"`
			Topics []common.Hash `json:"topics"`
		}
		return json.Unmarshal(res, &l) == nil && l.TxHash == valid.Hash() && len(l.Topics) > 0 && l.Topics[0] == devnet.ExecutingMessageTopic
	})
	// An access list naming a log that does not exist: refused, and the sentry never sees it.
	bad := e.Keys()
	bad[len(bad)-1][31] ^= 0xff
	invalid := s.execTx(2, 0, bad)
	if r := c.call(ingress.MethodSendRawTransaction, txHex(t, invalid)); r.Error == nil || r.Error.Code != -320600 {
		t.Fatalf("an invalid interop tx over the socket: %+v %s", r.Error, r.Result)
	}
	if s.inPool(invalid.Hash()) {
		t.Fatal("the invalid tx reached the sentry")
	}
	var ok bool
	if r := c.call(ingress.MethodUnsubscribe, heads); r.Error != nil || json.Unmarshal(r.Result, &ok) != nil || !ok {
		t.Fatalf("unsubscribe: %+v %s", r.Error, r.Result)
	}
	// A batch over the socket, with a subscription in it (single calls only).
	_ = c.conn.WriteMessage(websocket.TextMessage, []byte(`[{"jsonrpc":"2.0","id":"a","method":"eth_chainId"},{"jsonrpc":"2.0","id":"b","method":"eth_subscribe","params":["newHeads"]}]`))
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, raw, err := c.conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), `"eth_subscription"`) {
			continue
		}
		if !strings.Contains(string(raw), `"id":"a","result":"0x386"`) || !strings.Contains(string(raw), `"id":"b","error":{"code":-32601`) {
			t.Fatalf("a batch over the socket: %s", raw)
		}
		break
	}
}

// The socket's bounds: a message above max_body_bytes closes it with 1009; subscriptions beyond
// max_ws_subscriptions are refused with -32005; connections beyond max_ws_conns get HTTP 503.
func TestWebSocketBounds(t *testing.T) {
	s := newStack(t, func(c *ingress.Config) {
		c.MaxBodyBytes = 300 << 10
		c.MaxWSSubscriptions = 2
		c.MaxWSConns = 2
	}, nil)
	c := dialWS(t, s.gw.URL())
	for range 2 {
		if r := c.call(ingress.MethodSubscribe, "newHeads"); r.Error != nil {
			t.Fatalf("subscribe: %+v", r.Error)
		}
	}
	if r := c.call(ingress.MethodSubscribe, "newHeads"); r.Error == nil || r.Error.Code != ingress.CodeLimitExceeded {
		t.Fatalf("a third subscription: %+v %s", r.Error, r.Result)
	}
	if r := c.call(ingress.MethodSubscribe, "syncing"); r.Error == nil || r.Error.Code != -32602 {
		t.Fatalf("a subscription kind not relayed: %+v %s", r.Error, r.Result)
	}
	other := dialWS(t, s.gw.URL())
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+strings.TrimPrefix(s.gw.URL(), "http://"), nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a third connection with max_ws_conns 2: %v %v", err, resp)
	}
	big := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["` + strings.Repeat("a", 400<<10) + `"]}`
	if err := other.conn.WriteMessage(websocket.TextMessage, []byte(big)); err != nil {
		t.Fatal(err)
	}
	_ = other.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := other.conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("a message above max_body_bytes: %v, want close 1009", err)
	}
}

// A sentry socket that drops closes the client's subscriptions with a clear close (1012), never
// a silent stall.
func TestWebSocketSentryDropClosesTheClient(t *testing.T) {
	up := websocket.Upgrader{}
	drop := make(chan struct{})
	sentryWS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		var call struct {
			ID json.RawMessage `json:"id"`
		}
		if conn.ReadJSON(&call) != nil {
			return
		}
		_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":`+string(call.ID)+`,"result":"0xabc"}`))
		<-drop // then the sentry goes away
	}))
	defer sentryWS.Close()
	f := newFakes(t, 0, nil)
	gw := gatewayOnGroup(t, f.filter.URL, ingress.GroupConfig{Backends: []ingress.BackendConfig{{Name: "s", URL: f.sentry.URL,
		WSURL: "ws://" + strings.TrimPrefix(sentryWS.URL, "http://")}}})
	c := dialWS(t, gw.URL())
	if r := c.call(ingress.MethodSubscribe, "newHeads"); r.Error != nil || string(r.Result) != `"0xabc"` {
		t.Fatalf("subscribe: %+v %s", r.Error, r.Result)
	}
	close(drop)
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := c.conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseServiceRestart {
		t.Fatalf("after the sentry's socket dropped: %v, want close 1012", err)
	}
}

// A client that sends calls and never reads is disconnected (1008) once its answers pile up
// (ws_write_queue, or one not taken within write_stall_timeout), not buffered without end; what
// was charged for its answers is given back.
func TestWebSocketSlowReaderIsDisconnected(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFakesWith(t, 0, func(c *ingress.Config) {
		c.WSWriteQueue = 4
		c.WriteStallTimeout = d(300 * time.Millisecond)
	}, ingress.NewMetrics(reg))
	big := strings.Repeat("ab", 64<<10) // 128 KiB answers
	f.sentry.SetHandler(func(method string, params json.RawMessage) (any, *rpctest.Error) {
		if method == "eth_getBlockByNumber" {
			return big, nil
		}
		return sentryHandler(method, params)
	})
	c := dialWS(t, f.gw.URL())
	const sent = 200
	for i := range sent {
		if err := c.conn.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_getBlockByNumber","params":["latest",false]}`, i))); err != nil {
			break // the gateway closed the socket already
		}
	}
	answers := 0
	var err error
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, _, err = c.conn.ReadMessage(); err != nil {
			break
		}
		answers++
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || answers >= sent {
		t.Fatalf("a client that did not read: %d of %d answers, then %v; want close 1008 before all", answers, sent, err)
	}
	rpctest.WaitFor(t, "the answers' charge given back", 10*time.Second, func() bool {
		return counter(t, reg, "interopgate_gateway_unread_answer_bytes", nil) == 0
	})
}

// Found by the review: sockets that begin a large message and never finish it held ~3.6 MB each
// for as long as they liked. A message must now arrive whole within read_timeout, and the bytes
// of messages being read count against max_ws_read_bytes across sockets.
func TestWebSocketUnfinishedMessagesAreBounded(t *testing.T) {
	f := newFakes(t, 0, func(c *ingress.Config) {
		c.ReadTimeout = d(300 * time.Millisecond)
		c.MaxWSReadBytes = 600 << 10
	})
	begin := func(c *wsClient, n int) {
		w, err := c.conn.NextWriter(websocket.TextMessage)
		if err != nil {
			t.Fatal(err)
		}
		// The writer is never closed: the message's last frame never comes. A write error is the
		// gateway closing the socket already, what the test waits for.
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["` + strings.Repeat("a", n)))
	}
	closeCode := func(c *wsClient) int {
		_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := c.conn.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("want a close, got %v", err)
		}
		return ce.Code
	}
	a := dialWS(t, f.gw.URL())
	begin(a, 400<<10)
	b := dialWS(t, f.gw.URL())
	begin(b, 400<<10) // the two together pass max_ws_read_bytes
	codes := []int{closeCode(a), closeCode(b)}
	if !slices.Contains(codes, websocket.CloseTryAgainLater) || !slices.Contains(codes, websocket.ClosePolicyViolation) {
		t.Fatalf("close codes %v: want one 1013 (the read budget) and one 1008 (read_timeout)", codes)
	}
}
