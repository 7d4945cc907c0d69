package rpctest

import (
	"encoding/json"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// Fast is a minimal fasthttp JSON-RPC peer that answers every call, single or batch, with
// result (raw JSON) after delay per HTTP request: a filter or a sentry that costs a benchmark's
// cores almost nothing, as a remote one would. It counts the HTTP requests in requests.
func Fast(t testing.TB, delay time.Duration, result string, requests *atomic.Int64) string {
	return FastBy(t, delay, func(string) string { return result }, requests)
}

// FastBy is Fast answering each call with resultOf(method) (raw JSON).
func FastBy(t testing.TB, delay time.Duration, resultOf func(method string) string, requests *atomic.Int64) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	type call struct {
		ID     json.RawMessage
		Method string
	}
	srv := &fasthttp.Server{MaxRequestBodySize: 64 << 20, Handler: func(ctx *fasthttp.RequestCtx) {
		if requests != nil {
			requests.Add(1)
		}
		if delay > 0 {
			time.Sleep(delay) // the peer's injected latency
		}
		ctx.SetContentType("application/json")
		body := ctx.PostBody()
		if len(body) == 0 || body[0] != '[' {
			var one call
			_ = json.Unmarshal(body, &one)
			ctx.SetBodyString(`{"jsonrpc":"2.0","id":` + string(one.ID) + `,"result":` + resultOf(one.Method) + `}`)
			return
		}
		var calls []call
		_ = json.Unmarshal(body, &calls)
		out := []byte{'['}
		for i, c := range calls {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, `{"jsonrpc":"2.0","id":`...)
			out = append(out, c.ID...)
			out = append(out, `,"result":`...)
			out = append(out, resultOf(c.Method)...)
			out = append(out, '}')
		}
		ctx.SetBody(append(out, ']'))
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// CountingProxy forwards every HTTP request to target and counts them in n.
func CountingProxy(t testing.TB, target string, n *atomic.Int64) string {
	return proxy(t, target, func(*fasthttp.RequestCtx) { n.Add(1) })
}

// proxy serves a loopback HTTP proxy to target, telling seen of each request before it is
// forwarded; it stops with the test.
func proxy(t testing.TB, target string, seen func(*fasthttp.RequestCtx)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	client := &fasthttp.Client{}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		seen(ctx)
		req := &ctx.Request
		req.SetRequestURI(target)
		if err := client.Do(req, &ctx.Response); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

// MethodProxy forwards every HTTP request to a JSON-RPC node and counts the calls that pass
// through it by method (single calls and the elements of batches).
type MethodProxy struct {
	URL    string
	mu     sync.Mutex
	counts map[string]int
}

// NewMethodProxy starts a MethodProxy in front of target; it stops with the test.
func NewMethodProxy(t testing.TB, target string) *MethodProxy {
	p := &MethodProxy{counts: map[string]int{}}
	p.URL = proxy(t, target, func(ctx *fasthttp.RequestCtx) {
		var calls []struct{ Method string }
		body := ctx.PostBody()
		if len(body) > 0 && body[0] == '[' {
			_ = json.Unmarshal(body, &calls)
		} else {
			calls = make([]struct{ Method string }, 1)
			_ = json.Unmarshal(body, &calls[0])
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range calls {
			p.counts[c.Method]++
		}
	})
	return p
}

// Calls is how many calls of method passed so far.
func (p *MethodProxy) Calls(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[method]
}
