package filterapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/interopgate/interopgate/internal/rpctest"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
	"github.com/valyala/fasthttp"

	sc "github.com/interopgate/interopgate/supervisorclient"
)

// recorder is a Checker that records what it is asked and answers with a scripted verdict.
type recorder struct {
	mu      sync.Mutex
	calls   [][]sc.Request
	verdict func(sc.Request) sc.Verdict
}

func (r *recorder) CheckAccessList(ctx context.Context, req sc.Request) sc.Verdict {
	return r.CheckAccessLists(ctx, []sc.Request{req})[0]
}

func (r *recorder) CheckAccessLists(_ context.Context, reqs []sc.Request) []sc.Verdict {
	r.mu.Lock()
	r.calls = append(r.calls, reqs)
	r.mu.Unlock()
	out := make([]sc.Verdict, len(reqs))
	for i, req := range reqs {
		if r.verdict != nil {
			out[i] = r.verdict(req)
		} else {
			out[i] = sc.Verdict{Class: sc.ClassValid}
		}
	}
	return out
}

func (r *recorder) last() []sc.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		return nil
	}
	return r.calls[len(r.calls)-1]
}

func startServer(t *testing.T, c sc.Checker, cfg Config, opts ...Option) *Server {
	t.Helper()
	s, err := New(c, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	status, b := rpctest.Post(t, url, body)
	return status, string(b)
}

const (
	lookupE   = "0x0100000000000000000003850000000000000064000000006553f10000000003"
	checksumE = "0x035f3b3e09a51ad32f5485630af6dc5943e531de0de5682569e05ddeb60e4849"
)

func call(method, chainID, ts, timeout string) string {
	desc := fmt.Sprintf(`{"chainID":%s,"timestamp":%q,"timeout":%q}`, chainID, ts, timeout)
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":[[%q,%q],"cross-unsafe",%s]}`, method, lookupE, checksumE, desc)
}

// TestClientDialects: the requests of op-geth, op-reth and proxyd decode to the same check.
func TestClientDialects(t *testing.T) {
	rec := &recorder{}
	s := startServer(t, rec, Config{})
	dialects := map[string]struct {
		body    string
		timeout uint64
	}{
		"op-geth (supervisor_, decimal chainID, timeout 86400)": {call(MethodSupervisorCheck, `"902"`, "0x6553f164", "0x15180"), 86400},
		"op-reth (interop_, hex chainID, timeout 7200)":         {call(MethodInteropCheck, `"0x386"`, "0x6553f164", "0x1c20"), 7200},
		"proxyd (interop_, decimal chainID, timeout 7200)":      {call(MethodInteropCheck, `"902"`, "0x6553f164", "0x1c20"), 7200},
	}
	for name, d := range dialects {
		status, body := post(t, s.URL(), d.body)
		if status != 200 || body != `{"jsonrpc":"2.0","id":1,"result":null}` {
			t.Fatalf("%s: %d %s", name, status, body)
		}
		got := rec.last()[0]
		want := sc.Request{
			InboxKeys: []common.Hash{common.HexToHash(lookupE), common.HexToHash(checksumE)},
			MinSafety: sc.SafetyCrossUnsafe,
			Executing: sc.ExecutingDescriptor{ChainID: *uint256.NewInt(902), Timestamp: 0x6553f164, Timeout: d.timeout},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s decoded to\n%+v\nwant\n%+v", name, got, want)
		}
	}
}

func TestParamErrors(t *testing.T) {
	rec := &recorder{}
	s := startServer(t, rec, Config{MaxInboxEntries: 4})
	bad := map[string]string{
		"bare number chainID":      call(MethodInteropCheck, `902`, "0x6553f164", "0x1c20"),
		"hex chainID leading zero": call(MethodInteropCheck, `"0x0386"`, "0x6553f164", "0x1c20"),
		"decimal leading zero":     call(MethodInteropCheck, `"0902"`, "0x6553f164", "0x1c20"),
		"not a number":             call(MethodInteropCheck, `"nine"`, "0x6553f164", "0x1c20"),
		"timestamp leading zero":   call(MethodInteropCheck, `"902"`, "0x06553f164", "0x1c20"),
		"timestamp decimal":        call(MethodInteropCheck, `"902"`, "1700000100", "0x1c20"),
		"missing timestamp":        `{"jsonrpc":"2.0","id":1,"method":"interop_checkAccessList","params":[["` + lookupE + `"],"cross-unsafe",{"chainID":"902"}]}`,
		"safety in upper case":     strings.Replace(call(MethodInteropCheck, `"902"`, "0x6553f164", "0x1c20"), "cross-unsafe", "CROSS-UNSAFE", 1),
		"short key":                strings.Replace(call(MethodInteropCheck, `"902"`, "0x6553f164", "0x1c20"), lookupE, lookupE[:64], 1),
		"key without 0x":           strings.Replace(call(MethodInteropCheck, `"902"`, "0x6553f164", "0x1c20"), lookupE, lookupE[2:], 1),
		"two params":               `{"jsonrpc":"2.0","id":1,"method":"interop_checkAccessList","params":[["` + lookupE + `"],"cross-unsafe"]}`,
		"params object":            `{"jsonrpc":"2.0","id":1,"method":"interop_checkAccessList","params":{}}`,
		"descriptor is an array":   `{"jsonrpc":"2.0","id":1,"method":"interop_checkAccessList","params":[[],"cross-unsafe",[]]}`,
		"too many entries":         `{"jsonrpc":"2.0","id":1,"method":"interop_checkAccessList","params":[["` + strings.Repeat(lookupE+`","`, 4) + lookupE + `"],"cross-unsafe",{"chainID":"902","timestamp":"0x1"}]}`,
	}
	for name, body := range bad {
		_, resp := post(t, s.URL(), body)
		if !strings.Contains(resp, `"code":-32602`) || !strings.Contains(resp, "invalid params") {
			t.Errorf("%s: %s", name, resp)
		}
	}
	if len(rec.calls) != 0 {
		t.Fatalf("the checker was called %d times for invalid params", len(rec.calls))
	}
}

func TestMissingOrZeroChainIDReachesTheCheckerAsZero(t *testing.T) {
	rec := &recorder{verdict: func(r sc.Request) sc.Verdict {
		if r.Executing.ChainID.IsZero() {
			return sc.Verdict{Class: sc.ClassInvalid, Code: sc.CodeUnknownChain, Message: "unknown chain"}
		}
		return sc.Verdict{Class: sc.ClassValid}
	}}
	s := startServer(t, rec, Config{})
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"interop_checkAccessList","params":[["` + lookupE + `"],"cross-unsafe",{"timestamp":"0x1"}]}`,
		call(MethodInteropCheck, `"0"`, "0x1", "0x0"),
		call(MethodInteropCheck, `"0x0"`, "0x1", "0x0"),
	} {
		if _, resp := post(t, s.URL(), body); !strings.Contains(resp, `"code":-320501`) {
			t.Errorf("%s: %s", body, resp)
		}
	}
}

func TestBatchIsOneCheckerCall(t *testing.T) {
	rec := &recorder{verdict: func(r sc.Request) sc.Verdict {
		if r.Executing.Timestamp == 2 {
			return sc.Verdict{Class: sc.ClassInvalid, Code: sc.CodeConflict, Message: "conflict"}
		}
		return sc.Verdict{Class: sc.ClassValid}
	}}
	s := startServer(t, rec, Config{})
	body := "[" + strings.Join([]string{
		strings.Replace(call(MethodInteropCheck, `"902"`, "0x1", "0x0"), `"id":1`, `"id":"a"`, 1),
		strings.Replace(call(MethodSupervisorCheck, `"902"`, "0x2", "0x0"), `"id":1`, `"id":2`, 1),
		`{"jsonrpc":"2.0","id":3,"method":"admin_getFailsafeEnabled","params":[]}`,
		`{"jsonrpc":"2.0","id":4,"method":"eth_chainId","params":[]}`,
		strings.Replace(call(MethodInteropCheck, `"902"`, "0x3", "0x0"), `"id":1,`, ``, 1), // a notification
		`17`,
	}, ",") + "]"
	status, resp := post(t, s.URL(), body)
	want := `[{"jsonrpc":"2.0","id":"a","result":null},` +
		`{"jsonrpc":"2.0","id":2,"error":{"code":-320600,"message":"conflict"}},` +
		`{"jsonrpc":"2.0","id":3,"result":false},` +
		`{"jsonrpc":"2.0","id":4,"error":{"code":-32601,"message":"the method eth_chainId does not exist/is not available"}},` +
		`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request: not a call object with a string method and a valid id"}}]`
	if status != 200 || resp != want {
		t.Fatalf("status %d\n got %s\nwant %s", status, resp, want)
	}
	if len(rec.calls) != 1 || len(rec.calls[0]) != 3 {
		t.Fatalf("checker calls %d (sizes %v), want one call of 3", len(rec.calls), len(rec.calls))
	}
}

func TestFailsafe(t *testing.T) {
	rec := &recorder{}
	var upstream atomic.Bool
	s := startServer(t, rec, Config{AllowSetFailsafe: true}, WithFailsafeSource(upstream.Load))
	check := call(MethodInteropCheck, `"902"`, "0x6553f164", "0x1c20")
	get := `{"jsonrpc":"2.0","id":9,"method":"admin_getFailsafeEnabled","params":[]}`
	if _, resp := post(t, s.URL(), `{"jsonrpc":"2.0","id":1,"method":"admin_setFailsafeEnabled","params":[true]}`); !strings.Contains(resp, `"result":null`) {
		t.Fatal(resp)
	}
	if _, resp := post(t, s.URL(), get); !strings.Contains(resp, `"result":true`) {
		t.Fatal(resp)
	}
	if _, resp := post(t, s.URL(), check); !strings.Contains(resp, `"code":-320602`) {
		t.Fatal(resp)
	}
	s.SetFailsafe(false)
	if _, resp := post(t, s.URL(), check); !strings.Contains(resp, `"result":null`) {
		t.Fatal(resp)
	}
	upstream.Store(true)
	if _, resp := post(t, s.URL(), check); !strings.Contains(resp, `"code":-320602`) {
		t.Fatal("the upstream failsafe source is ignored:", resp)
	}
	// Off by default.
	s2 := startServer(t, rec, Config{})
	if _, resp := post(t, s2.URL(), `{"jsonrpc":"2.0","id":1,"method":"admin_setFailsafeEnabled","params":[true]}`); !strings.Contains(resp, `-32601`) {
		t.Fatal(resp)
	}
}

func TestUnavailableDoesNotLeakUpstream(t *testing.T) {
	rec := &recorder{verdict: func(sc.Request) sc.Verdict {
		return sc.Unavailable("x", fmt.Errorf("Post \"http://10.1.2.3:8545\": connection refused"))
	}}
	s := startServer(t, rec, Config{})
	_, resp := post(t, s.URL(), call(MethodInteropCheck, `"902"`, "0x6553f164", "0x1c20"))
	if !strings.Contains(resp, `"code":-32603`) || strings.Contains(resp, "10.1.2.3") {
		t.Fatal(resp)
	}
}

func TestEnvelopeErrors(t *testing.T) {
	s := startServer(t, &recorder{}, Config{MaxBodyBytes: 1024, MaxBatchSize: 2})
	cases := map[string]struct {
		body   string
		status int
		code   int
	}{
		"not JSON":      {`{"jsonrpc"`, 200, -32700},
		"empty batch":   {`[]`, 200, -32600},
		"batch too big": {`[1,2,3]`, 200, -32600},
		"body too big":  {strings.Repeat(" ", 2048) + "{}", 413, -32600},
		"wrong version": {`{"jsonrpc":"1.0","id":1,"method":"admin_getFailsafeEnabled"}`, 200, -32600},
	}
	for name, c := range cases {
		status, resp := post(t, s.URL(), c.body)
		var e struct{ Error struct{ Code int } }
		_ = json.Unmarshal([]byte(resp), &e)
		if status != c.status || e.Error.Code != c.code {
			t.Errorf("%s: %d %s", name, status, resp)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	var notReady atomic.Bool
	notReady.Store(true)
	s := startServer(t, &recorder{}, Config{}, WithReadiness(func(context.Context) error {
		if notReady.Load() {
			return fmt.Errorf("chain 901 not answering")
		}
		return nil
	}))
	get := func(path string) (int, string) {
		status, body, err := fasthttp.Get(nil, s.URL()+path)
		if err != nil {
			t.Fatal(err)
		}
		return status, string(body)
	}
	if status, _ := get("/healthz"); status != 200 {
		t.Fatal(status)
	}
	if status, body := get("/readyz"); status != 503 || !strings.Contains(body, "chain 901") {
		t.Fatal(status, body)
	}
	notReady.Store(false)
	if status, _ := get("/readyz"); status != 200 {
		t.Fatal(status)
	}
}

// A review smuggled admin_setFailsafeEnabled(true) behind POST /healthz: the rest of a body the
// handler did not read was parsed as the next request. It closes the connection instead.
func TestABodyNotReadIsNeverTheNextRequest(t *testing.T) {
	s := startServer(t, &recorder{}, Config{AllowSetFailsafe: true})
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	call := `{"jsonrpc":"2.0","id":7,"method":"admin_setFailsafeEnabled","params":[true]}`
	smuggled := fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(call), call)
	body := strings.Repeat(" ", 8192) + smuggled
	fmt.Fprintf(c, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	answers, _ := io.ReadAll(c)
	if n := strings.Count(string(answers), "HTTP/1.1 "); n != 1 || s.failsafe.Load() {
		t.Fatalf("%d answers, failsafe %v:\n%s", n, s.failsafe.Load(), answers)
	}
}
