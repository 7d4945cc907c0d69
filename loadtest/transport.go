package loadtest

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// transport sends one request body and reads its answer.
type transport interface {
	send(body []byte, timeout time.Duration) outcome
	close()
}

// newTransport is HTTP for an http(s):// target, WebSocket for a ws(s):// one.
func newTransport(target string, maxInFlight int, timeout time.Duration) (transport, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("loadtest: target %q: %w", target, err)
	}
	switch u.Scheme {
	case "http", "https":
		return &httpTransport{target: target, client: &fasthttp.Client{MaxConnsPerHost: maxInFlight, ReadTimeout: timeout, WriteTimeout: timeout,
			MaxResponseBodySize: 64 << 20, NoDefaultUserAgentHeader: true}}, nil
	case "ws", "wss":
		return &wsTransport{target: target, idle: make(chan *websocket.Conn, wsPoolSize(maxInFlight)), slots: make(chan struct{}, wsPoolSize(maxInFlight))}, nil
	}
	return nil, fmt.Errorf("loadtest: target %q: want http://, https://, ws:// or wss://", target)
}

type httpTransport struct {
	target string
	client *fasthttp.Client
}

func (t *httpTransport) send(body []byte, timeout time.Duration) outcome {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(t.target)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(body)
	if err := t.client.DoTimeout(req, resp, timeout); err != nil {
		return outcome{err: err}
	}
	code, message, err := classify(resp.StatusCode(), resp.Body())
	return outcome{status: resp.StatusCode(), code: code, message: message, err: err}
}

func (t *httpTransport) close() { t.client.CloseIdleConnections() }

// wsPoolSize bounds the sockets a WebSocket run opens: one request in flight on each, as HTTP
// keep-alive connections carry one at a time (the scenarios' ids repeat, so answers could not be
// told apart on a shared socket).
func wsPoolSize(maxInFlight int) int { return min(max(maxInFlight, 1), 256) }

type wsTransport struct {
	target string
	idle   chan *websocket.Conn // sockets with nothing in flight
	slots  chan struct{}        // sockets open or being opened
	mu     sync.Mutex
	all    []*websocket.Conn
}

func (t *wsTransport) conn(timeout time.Duration) (*websocket.Conn, error) {
	select {
	case c := <-t.idle:
		return c, nil
	default:
	}
	select {
	case c := <-t.idle:
		return c, nil
	case t.slots <- struct{}{}:
		d := websocket.Dialer{HandshakeTimeout: timeout}
		c, _, err := d.Dial(t.target, nil)
		if err != nil {
			<-t.slots
			return nil, err
		}
		c.SetReadLimit(64 << 20)
		t.mu.Lock()
		t.all = append(t.all, c)
		t.mu.Unlock()
		return c, nil
	case <-time.After(timeout):
		return nil, errors.New("no WebSocket free within the timeout")
	}
}

func (t *wsTransport) send(body []byte, timeout time.Duration) outcome {
	c, err := t.conn(timeout)
	if err != nil {
		return outcome{err: err}
	}
	deadline := time.Now().Add(timeout)
	_ = c.SetWriteDeadline(deadline)
	_ = c.SetReadDeadline(deadline)
	if err := c.WriteMessage(websocket.TextMessage, body); err != nil {
		t.drop(c)
		return outcome{err: err}
	}
	for {
		_, answer, err := c.ReadMessage()
		if err != nil {
			t.drop(c)
			return outcome{err: err}
		}
		if strings.Contains(string(answer[:min(len(answer), 64)]), `"method":"eth_subscription"`) {
			continue // a notification, not this call's answer
		}
		t.idle <- c
		code, message, err := classify(200, answer)
		return outcome{status: 200, code: code, message: message, err: err}
	}
}

// drop closes a socket that failed; its slot is free for a new one.
func (t *wsTransport) drop(c *websocket.Conn) {
	_ = c.Close()
	<-t.slots
}

func (t *wsTransport) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.all {
		_ = c.Close()
	}
}
