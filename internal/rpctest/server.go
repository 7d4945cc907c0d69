package rpctest

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Error is a JSON-RPC error a handler returns.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// Handler answers one call. A nil *Error with a nil result answers `"result":null`.
type Handler func(method string, params json.RawMessage) (result any, err *Error)

// RawHandler answers a whole HTTP request body with a whole response body, for tests that need
// answers no well-behaved server would give (out of order, missing, malformed).
type RawHandler func(body []byte) []byte

// Server is a loopback JSON-RPC server. Its settings may be changed while it runs.
type Server struct {
	URL string

	handler   atomic.Pointer[Handler]
	raw       atomic.Pointer[RawHandler]
	latency   atomic.Int64 // nanoseconds added before each HTTP response
	status    atomic.Int64 // when non-zero, every HTTP response has this status and no JSON body
	requests  atomic.Int64 // HTTP requests received
	calls     atomic.Int64 // JSON-RPC calls received (a batch of n counts n)
	mu        sync.Mutex
	bodies    [][]byte
	keepBodys bool
	methods   map[string]int // JSON-RPC calls by method, always recorded
	addr      string
	srv       *http.Server
}

// NewRaw starts a server whose responses h writes byte for byte.
func NewRaw(t testing.TB, h RawHandler) *Server {
	s := New(t, nil)
	s.raw.Store(&h)
	return s
}

// New starts a server on 127.0.0.1 with a random port; it stops when the test ends.
func New(t testing.TB, h Handler) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), keepBodys: true, methods: map[string]int{}, addr: ln.Addr().String()}
	s.SetHandler(h)
	s.serve(ln)
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.srv.Close()
	})
	return s
}

func (s *Server) serve(ln net.Listener) {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go srv.Serve(ln) //nolint:errcheck // returns on Close
}

// Stop closes the server and every connection: its address refuses connections until Restart.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv.Close()
}

// Restart stops the server, closing every connection (as a process restart does), and serves
// again on the same address: clients' pooled keep-alive connections are now dead.
func (s *Server) Restart() error {
	s.mu.Lock()
	old := s.srv
	s.mu.Unlock()
	if err := old.Close(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.serve(ln)
	return nil
}

// MethodCalls is the number of JSON-RPC calls of method received (batch elements included).
// It is recorded even when body recording is off.
func (s *Server) MethodCalls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.methods[method]
}

// SetHandler replaces the handler.
func (s *Server) SetHandler(h Handler) { s.handler.Store(&h) }

// SetLatency delays every response by d.
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// SetHTTPStatus makes every response an HTTP error with this status (0 turns it off).
func (s *Server) SetHTTPStatus(code int) { s.status.Store(int64(code)) }

// KeepBodies turns recording of request bodies on or off (on by default; benchmarks turn it off).
func (s *Server) KeepBodies(on bool) {
	s.mu.Lock()
	s.keepBodys = on
	s.mu.Unlock()
}

// Requests is the number of HTTP requests received.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Calls is the number of JSON-RPC calls received, counting each batch element.
func (s *Server) Calls() int64 { return s.calls.Load() }

// Bodies returns copies of the request bodies received so far, in order.
func (s *Server) Bodies() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, len(s.bodies))
	copy(out, s.bodies)
	return out
}

type request struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result"`
	Error   *Error          `json:"error,omitempty"`
}

// errorResponse omits the result field, as JSON-RPC requires when there is an error.
type errorResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   *Error          `json:"error"`
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	if s.keepBodys {
		s.bodies = append(s.bodies, body)
	}
	s.mu.Unlock()
	if d := time.Duration(s.latency.Load()); d > 0 {
		time.Sleep(d) // the injected latency itself, not a wait for a condition
	}
	if code := int(s.status.Load()); code != 0 {
		http.Error(w, http.StatusText(code), code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if raw := s.raw.Load(); raw != nil {
		_, _ = w.Write((*raw)(body))
		return
	}
	h := *s.handler.Load()
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var reqs []request
		if err := json.Unmarshal(body, &reqs); err != nil {
			writeJSON(w, errorResponse{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: &Error{Code: -32700, Message: "parse error"}})
			return
		}
		out := make([]any, len(reqs))
		for i, req := range reqs {
			out[i] = s.call(h, req)
		}
		writeJSON(w, out)
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, errorResponse{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: &Error{Code: -32700, Message: "parse error"}})
		return
	}
	writeJSON(w, s.call(h, req))
}

func (s *Server) call(h Handler, req request) any {
	s.calls.Add(1)
	s.mu.Lock()
	s.methods[req.Method]++
	s.mu.Unlock()
	result, err := h(req.Method, req.Params)
	if err != nil {
		return errorResponse{JSONRPC: "2.0", ID: req.ID, Error: err}
	}
	return response{JSONRPC: "2.0", ID: req.ID, Result: result}
}

func writeJSON(w http.ResponseWriter, v any) {
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}
