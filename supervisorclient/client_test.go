package supervisorclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/interopgate/interopgate/internal/rpctest"
)

// vectorE is the request of protocol.md §6.
func vectorE() Request {
	return Request{
		InboxKeys: []common.Hash{
			common.HexToHash("0x0100000000000000000003850000000000000064000000006553f10000000003"),
			common.HexToHash("0x035f3b3e09a51ad32f5485630af6dc5943e531de0de5682569e05ddeb60e4849"),
		},
		MinSafety: SafetyCrossUnsafe,
		Executing: ExecutingDescriptor{ChainID: *uint256.NewInt(902), Timestamp: 0x6553f164, Timeout: 0x1c20},
	}
}

func okHandler(string, json.RawMessage) (any, *rpctest.Error) { return nil, nil }

func newClient(t testing.TB, url string, mutate func(*ClientConfig)) *Client {
	t.Helper()
	cfg := ClientConfig{URL: url}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRequestBytes(t *testing.T) {
	for _, ns := range []string{NamespaceInterop, NamespaceSupervisor} {
		t.Run(ns, func(t *testing.T) {
			srv := rpctest.New(t, okHandler)
			c := newClient(t, srv.URL, func(c *ClientConfig) { c.Namespace = ns })
			if v := c.CheckAccessList(context.Background(), vectorE()); !v.Valid() {
				t.Fatalf("verdict %v", v)
			}
			want := `{"jsonrpc":"2.0","id":1,"method":"` + ns + `_checkAccessList","params":[` +
				`["0x0100000000000000000003850000000000000064000000006553f10000000003",` +
				`"0x035f3b3e09a51ad32f5485630af6dc5943e531de0de5682569e05ddeb60e4849"],` +
				`"cross-unsafe",{"chainID":"902","timestamp":"0x6553f164","timeout":"0x1c20"}]}`
			if got := string(srv.Bodies()[0]); got != want {
				t.Fatalf("request body\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestRequestBytesDefaultsAndZeroTimeout(t *testing.T) {
	srv := rpctest.New(t, okHandler)
	c := newClient(t, srv.URL, nil)
	req := vectorE()
	req.MinSafety = ""
	req.Executing.Timeout = 0
	req.Executing.ChainID = *uint256.MustFromDecimal("115792089237316195423570985008687907853269984665640564039457584007913129639935")
	c.CheckAccessList(context.Background(), req)
	got := string(srv.Bodies()[0])
	for _, want := range []string{`"cross-unsafe"`, `"timeout":"0x0"`, `"chainID":"115792089237316195423570985008687907853269984665640564039457584007913129639935"`} {
		if !strings.Contains(got, want) {
			t.Errorf("body %s lacks %s", got, want)
		}
	}
}

func TestClassification(t *testing.T) {
	tests := []struct {
		code       int
		message    string
		outOfScope bool
		want       Class
	}{
		{CodeUninitialized, "uninitialized", false, ClassRetryLater},
		{CodeSkipped, "skipped", false, ClassInvalid},
		{CodeUnknownChain, "unknown chain", false, ClassInvalid},
		{CodeConflict, "conflicting data", false, ClassInvalid},
		{CodeIneffective, "ineffective", false, ClassInvalid},
		{CodeFailsafe, "failsafe enabled", false, ClassFailsafe},
		{CodeInvalidParams, "failsafe is enabled, rejecting all interop messages", false, ClassFailsafe},
		{CodeOutOfOrder, "out of order", false, ClassInvalid},
		{CodeAwaitingReplacement, "awaiting replacement", false, ClassRetryLater},
		{CodeOutOfScope, "out of scope", false, ClassRetryLater},
		{CodeOutOfScope, "out of scope", true, ClassInvalid},
		{CodeFuture, "future data", false, ClassRetryLater},
		{CodeMissedData, "missed data", false, ClassUnavailable},
		{CodeDataCorruption, "data corruption", false, ClassUnavailable},
		{CodeInvalidParams, "invalid params", false, ClassInvalid},
		{CodeInternal, "internal error", false, ClassUnavailable},
		{CodeServerError, "server error", false, ClassUnavailable},
		{-12345, "who knows", false, ClassUnavailable},
	}
	srv := rpctest.New(t, okHandler)
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d/%v", tc.code, tc.outOfScope), func(t *testing.T) {
			srv.SetHandler(func(string, json.RawMessage) (any, *rpctest.Error) {
				return nil, &rpctest.Error{Code: tc.code, Message: tc.message}
			})
			c := newClient(t, srv.URL, func(c *ClientConfig) { c.Classifier.OutOfScopeInvalid = tc.outOfScope })
			v := c.CheckAccessList(context.Background(), vectorE())
			if v.Class != tc.want || v.Code != tc.code || v.Message != tc.message {
				t.Fatalf("got %v, want class %v code %d", v, tc.want, tc.code)
			}
			if IsTransport(v) {
				t.Fatal("a JSON-RPC error is not a transport failure")
			}
		})
	}
}

func TestTransportFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("unreachable", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		v := newClient(t, "http://"+addr, nil).CheckAccessList(ctx, vectorE())
		if v.Class != ClassUnavailable || !IsTransport(v) {
			t.Fatalf("got %v", v)
		}
	})
	t.Run("HTTP 503", func(t *testing.T) {
		srv := rpctest.New(t, okHandler)
		srv.SetHTTPStatus(503)
		v := newClient(t, srv.URL, nil).CheckAccessList(ctx, vectorE())
		var te *TransportError
		if !errors.As(v.Err, &te) || te.StatusCode != 503 || v.Class != ClassUnavailable {
			t.Fatalf("got %v", v)
		}
	})
	t.Run("HTTP 400 without JSON", func(t *testing.T) {
		srv := rpctest.New(t, okHandler)
		srv.SetHTTPStatus(400)
		if v := newClient(t, srv.URL, nil).CheckAccessList(ctx, vectorE()); !IsTransport(v) {
			t.Fatalf("got %v", v)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		srv := rpctest.New(t, okHandler)
		srv.SetLatency(300 * time.Millisecond)
		v := newClient(t, srv.URL, func(c *ClientConfig) { c.Timeout = 50 * time.Millisecond }).CheckAccessList(ctx, vectorE())
		if !IsTransport(v) {
			t.Fatalf("got %v", v)
		}
	})
	t.Run("context deadline shorter than the timeout", func(t *testing.T) {
		srv := rpctest.New(t, okHandler)
		srv.SetLatency(300 * time.Millisecond)
		cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancel()
		if v := newClient(t, srv.URL, nil).CheckAccessList(cctx, vectorE()); !IsTransport(v) {
			t.Fatalf("got %v", v)
		}
	})
	t.Run("response too large", func(t *testing.T) {
		srv := rpctest.New(t, func(string, json.RawMessage) (any, *rpctest.Error) {
			return nil, &rpctest.Error{Code: CodeConflict, Message: strings.Repeat("x", 4096)}
		})
		if v := newClient(t, srv.URL, func(c *ClientConfig) { c.MaxResponseBytes = 1024 }).CheckAccessList(ctx, vectorE()); !IsTransport(v) {
			t.Fatalf("got %v", v)
		}
	})
	t.Run("non-null result", func(t *testing.T) {
		srv := rpctest.New(t, func(string, json.RawMessage) (any, *rpctest.Error) { return true, nil })
		if v := newClient(t, srv.URL, nil).CheckAccessList(ctx, vectorE()); v.Class != ClassUnavailable {
			t.Fatalf("a non-null result must not count as valid: got %v", v)
		}
	})
}

func TestConfigCheck(t *testing.T) {
	bad := []ClientConfig{
		{URL: ""},
		{URL: "ftp://x"},
		{URL: "http://x", Namespace: "op"},
		{URL: "http://x", Timeout: -1},
	}
	for _, cfg := range bad {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// TestBatch: 250 checks with a maximum batch of 100 go out as 3 HTTP requests; verdicts come
// back in request order even when the server answers a batch out of order, and a call the
// server leaves unanswered is unavailable.
func TestBatch(t *testing.T) {
	srv := rpctest.New(t, func(_ string, params json.RawMessage) (any, *rpctest.Error) {
		var p []json.RawMessage
		_ = json.Unmarshal(params, &p)
		var desc struct{ Timestamp string }
		_ = json.Unmarshal(p[2], &desc)
		if strings.HasSuffix(desc.Timestamp, "3") {
			return nil, &rpctest.Error{Code: CodeConflict, Message: "conflict"}
		}
		return nil, nil
	})
	c := newClient(t, srv.URL, nil)
	reqs := make([]Request, 250)
	for i := range reqs {
		reqs[i] = vectorE()
		reqs[i].Executing.Timestamp = uint64(0x1000 + i)
	}
	vs := c.CheckAccessLists(context.Background(), reqs)
	if srv.Requests() != 3 || srv.Calls() != 250 {
		t.Fatalf("%d HTTP requests carrying %d calls, want 3 carrying 250", srv.Requests(), srv.Calls())
	}
	for i, v := range vs {
		want := ClassValid
		if (0x1000+i)%16 == 3 {
			want = ClassInvalid
		}
		if v.Class != want {
			t.Fatalf("verdict %d = %v, want %v", i, v, want)
		}
	}
	for _, body := range srv.Bodies() {
		var calls []json.RawMessage
		if err := json.Unmarshal(body, &calls); err != nil || len(calls) > 100 {
			t.Fatalf("batch of %d calls (%v)", len(calls), err)
		}
	}
}

func TestBatchOutOfOrderAndMissing(t *testing.T) {
	reversed := rpctest.NewRaw(t, func(body []byte) []byte {
		var calls []struct{ ID int }
		_ = json.Unmarshal(body, &calls)
		// Answer in reverse order, and leave out the first call.
		var parts []string
		for i := len(calls) - 1; i >= 1; i-- {
			parts = append(parts, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"error":{"code":%d,"message":"m%d"}}`, calls[i].ID, CodeConflict-i, i))
		}
		return []byte("[" + strings.Join(parts, ",") + "]")
	})
	c := newClient(t, reversed.URL, nil)
	vs := c.CheckAccessLists(context.Background(), []Request{vectorE(), vectorE(), vectorE()})
	if vs[0].Class != ClassUnavailable {
		t.Errorf("unanswered call: %v", vs[0])
	}
	for i := 1; i < 3; i++ {
		if vs[i].Code != CodeConflict-i || vs[i].Message != fmt.Sprintf("m%d", i) {
			t.Errorf("call %d matched to the wrong answer: %v", i, vs[i])
		}
	}
}

func TestFailsafeEnabled(t *testing.T) {
	srv := rpctest.New(t, func(method string, _ json.RawMessage) (any, *rpctest.Error) {
		if method != "admin_getFailsafeEnabled" {
			return nil, &rpctest.Error{Code: CodeMethodNotFound, Message: "nope"}
		}
		return true, nil
	})
	on, err := newClient(t, srv.URL, nil).FailsafeEnabled(context.Background())
	if err != nil || !on {
		t.Fatalf("got %v, %v", on, err)
	}
	if got := string(srv.Bodies()[0]); got != `{"jsonrpc":"2.0","id":1,"method":"admin_getFailsafeEnabled","params":[]}` {
		t.Fatalf("request %s", got)
	}
}
