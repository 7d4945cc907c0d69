package ingress_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap/zaptest"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/ingress"
	"github.com/interopgate/interopgate/internal/rpctest"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// fakes is a gateway in front of loopback fakes: a sentry and a filter that answer as scripted.
type fakes struct {
	sentry *rpctest.Server
	filter *rpctest.Server
	gw     *ingress.Gateway
}

func sentryHandler(method string, params json.RawMessage) (any, *rpctest.Error) {
	switch method {
	case "eth_chainId":
		return "0x386", nil
	case "eth_blockNumber":
		return "0x10", nil
	case ingress.MethodSendRawTransaction, ingress.MethodSendRawTransactionConditional:
		// The hash of the tx, as a node answers.
		var ps []string
		if json.Unmarshal(params, &ps) != nil || len(ps) == 0 {
			return nil, &rpctest.Error{Code: -32602, Message: "bad params"}
		}
		raw, err := hexutil.Decode(ps[0])
		if err != nil {
			return nil, &rpctest.Error{Code: -32602, Message: "bad hex"}
		}
		return crypto.Keccak256Hash(raw).Hex(), nil
	}
	return nil, &rpctest.Error{Code: -32601, Message: "no such method"}
}

// filterAnswer scripts the filter: valid (code 0) or an error code.
func filterAnswer(code int) rpctest.Handler {
	return func(method string, _ json.RawMessage) (any, *rpctest.Error) {
		if method == "admin_getFailsafeEnabled" {
			return false, nil
		}
		if code == 0 {
			return nil, nil
		}
		return nil, &rpctest.Error{Code: code, Message: "scripted"}
	}
}

func newFakes(t testing.TB, filterCode int, mutate func(*ingress.Config)) *fakes {
	return newFakesWith(t, filterCode, mutate, nil)
}

func newFakesWith(t testing.TB, filterCode int, mutate func(*ingress.Config), m *ingress.Metrics) *fakes {
	return newFakesFull(t, filterCode, mutate, m, nil)
}

// newFakesKeys is newFakes with API keys.
func newFakesKeys(t testing.TB, mutate func(*ingress.Config), keys []ingress.APIKey) *fakes {
	return newFakesFull(t, 0, mutate, nil, keys)
}

func newFakesFull(t testing.TB, filterCode int, mutate func(*ingress.Config), m *ingress.Metrics, keys []ingress.APIKey) *fakes {
	f := &fakes{sentry: rpctest.New(t, sentryHandler), filter: rpctest.New(t, filterAnswer(filterCode))}
	f.sentry.KeepBodies(false)
	f.filter.KeepBodies(false)
	client, err := sc.NewClient(sc.ClientConfig{URL: f.filter.URL, Name: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	pool, _ := sc.NewPool([]sc.Endpoint{{Name: "fake", Checker: client}}, sc.PoolConfig{})
	deps, _ := accesslist.NewDependencySet([]uint64{901, 902}, 0)
	group, err := ingress.NewGroup(ingress.GroupConfig{Backends: []ingress.BackendConfig{{Name: "s", URL: f.sentry.URL}}}, zaptest.NewLogger(t), m)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ingress.DefaultConfig()
	cfg.ChainID = 902
	cfg.SenderRateLimit = 0
	if mutate != nil {
		mutate(&cfg)
	}
	gw, err := ingress.New(cfg, ingress.Deps{Checker: pool, Dependencies: deps, Backends: group, Log: zaptest.NewLogger(t), Metrics: m, APIKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	f.gw = gw
	return f
}

// message is a well-formed message from chain 901, a minute old.
func message(i int) accesslist.Message {
	m := accesslist.Message{BlockNumber: uint64(100 + i), Timestamp: uint64(time.Now().Unix() - 60), LogIndex: uint32(i)}
	m.ChainID.SetUint64(901)
	m.Checksum = common.Hash{accesslist.PrefixChecksum, byte(i), byte(i >> 8), byte(i >> 16)}
	return m
}

// interopTx signs a type-2 tx for chainID with the given inbox keys.
func interopTx(t testing.TB, account int, nonce uint64, chainID uint64, keys []common.Hash) *types.Transaction {
	to := accesslist.CrossL2InboxAddress
	tx, err := types.SignNewTx(devnet.DevAccount(account).Key, types.LatestSignerForChainID(new(big.Int).SetUint64(chainID)), &types.DynamicFeeTx{
		ChainID: new(big.Int).SetUint64(chainID), Nonce: nonce, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(1e9), Gas: 100000, To: &to,
		AccessList: types.AccessList{{Address: accesslist.CrossL2InboxAddress, StorageKeys: keys}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func keysOf(msgs ...accesslist.Message) []common.Hash { return accesslist.EncodeMessages(msgs) }

func reply(t *testing.T, body []byte) rpcReply {
	t.Helper()
	var r rpcReply
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("reply %s: %v", body, err)
	}
	return r
}

func TestLimitsAndErrorCodes(t *testing.T) {
	f := newFakes(t, 0, func(c *ingress.Config) {
		c.MaxBodyBytes = 64 << 10
		c.MaxBatchSize = 3
		c.MaxTxBytes = 4 << 10
		c.MaxInboxEntries = 4
	})
	valid := interopTx(t, 1, 0, 902, keysOf(message(1)))
	tooManyKeys := interopTx(t, 1, 0, 902, keysOf(message(1), message(2), message(3)))
	bigTx := func() *types.Transaction {
		to := common.Address{1}
		tx, _ := types.SignNewTx(devnet.DevAccount(1).Key, types.LatestSignerForChainID(big.NewInt(902)), &types.DynamicFeeTx{
			ChainID: big.NewInt(902), Gas: 1e6, GasFeeCap: big.NewInt(1), To: &to, Data: make([]byte, 8<<10)})
		return tx
	}()
	malformedKeys := interopTx(t, 1, 0, 902, []common.Hash{{0x03}, {0x01}})
	tests := []struct {
		name   string
		body   string
		status int
		code   int
	}{
		{"valid interop tx", sendRawBody(1, valid), 200, 0},
		{"method not allowed", `{"jsonrpc":"2.0","id":1,"method":"debug_traceTransaction","params":[]}`, 403, -32601},
		{"admin method not allowed", `{"jsonrpc":"2.0","id":1,"method":"admin_addPeer","params":[]}`, 403, -32601},
		{"batch too large", "[" + strings.Repeat(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},`, 3) + `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}]`, 413, ingress.CodeBatchTooLarge},
		{"body too large", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["` + strings.Repeat("a", 70<<10) + `"]}`, 413, ingress.CodeTxTooLarge},
		{"not JSON", `{"jsonrpc`, 200, -32700},
		{"tx not hex", `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0xzz"]}`, 200, -32602},
		{"tx not RLP", `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x02c0ffee"]}`, 200, -32602},
		{"no params", `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":[]}`, 200, -32602},
		{"tx too large", sendRawBody(1, bigTx), 413, ingress.CodeTxTooLarge},
		{"access list too large", sendRawBody(1, tooManyKeys), 413, ingress.CodeAccessListTooLarge},
		{"malformed access list", sendRawBody(1, malformedKeys), 400, -32602},
		{"wrong chain", sendRawBody(1, interopTx(t, 1, 0, 901, keysOf(message(1)))), 400, ingress.CodeServerError},
		{"unknown source chain (local)", sendRawBody(1, interopTx(t, 1, 0, 902, keysOf(func() accesslist.Message { m := message(1); m.ChainID.SetUint64(5); return m }()))), 404, sc.CodeUnknownChain},
		{"message from the future (local)", sendRawBody(1, interopTx(t, 1, 0, 902, keysOf(func() accesslist.Message { m := message(1); m.Timestamp += 3600; return m }()))), 409, sc.CodeConflict},
		{"expired (local)", sendRawBody(1, interopTx(t, 1, 0, 902, keysOf(func() accesslist.Message { m := message(1); m.Timestamp -= 8 * 24 * 3600; return m }()))), 409, sc.CodeConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, f.gw.URL(), tc.body)
			r := reply(t, body)
			if status != tc.status || (tc.code == 0) != (r.Error == nil) || (r.Error != nil && r.Error.Code != tc.code) {
				t.Fatalf("status %d body %s, want %d / code %d", status, body, tc.status, tc.code)
			}
		})
	}
	if got := f.filter.Calls(); got != 1 {
		t.Fatalf("the filter was called %d times; only the valid tx needs it", got)
	}
}

func TestFilterVerdictsBecomeClientErrors(t *testing.T) {
	for code, status := range map[int]int{
		sc.CodeConflict: 409, sc.CodeFuture: 422, sc.CodeSkipped: 422, sc.CodeUnknownChain: 404,
		sc.CodeUninitialized: 400, sc.CodeOutOfScope: 400, sc.CodeFailsafe: 503, sc.CodeInternal: 503,
	} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			f := newFakes(t, code, func(c *ingress.Config) { c.RetryDelay = d(time.Millisecond); c.RetryAttempts = 2 })
			st, body := post(t, f.gw.URL(), sendRawBody(7, interopTx(t, 1, 0, 902, keysOf(message(1)))))
			r := reply(t, body)
			wantCode := code
			if code == sc.CodeInternal {
				wantCode = ingress.CodeServerError // unavailable: fail closed, retryable
			}
			if st != status || r.Error == nil || r.Error.Code != wantCode || string(r.ID) != "7" {
				t.Fatalf("got %d %s", st, body)
			}
			// Counted by method even with body recording off (it is off in newFakes).
			if n := f.sentry.MethodCalls(ingress.MethodSendRawTransaction); n > 0 {
				t.Fatalf("a rejected tx was forwarded (%d sends reached the sentry)", n)
			}
		})
	}
}

func TestRetryLaterIsRetestedThenRejected(t *testing.T) {
	f := newFakes(t, sc.CodeFuture, func(c *ingress.Config) { c.RetryDelay = d(time.Millisecond); c.RetryAttempts = 3 })
	_, body := post(t, f.gw.URL(), sendRawBody(1, interopTx(t, 1, 0, 902, keysOf(message(1)))))
	r := reply(t, body)
	if r.Error == nil || r.Error.Code != sc.CodeFuture || !strings.Contains(r.Error.Message, "after 3 re-tests") {
		t.Fatalf("%s", body)
	}
	if f.filter.Calls() != 4 {
		t.Fatalf("%d filter calls, want 1 + 3 re-tests", f.filter.Calls())
	}
}

func TestIdenticalInvalidFloodCostsOneFilterCall(t *testing.T) {
	f := newFakes(t, sc.CodeConflict, nil)
	f.filter.SetLatency(20 * time.Millisecond)
	body := sendRawBody(1, interopTx(t, 1, 0, 902, keysOf(message(9))))
	var wg sync.WaitGroup
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				st, b := post(t, f.gw.URL(), body)
				if st != 409 {
					t.Errorf("status %d %s", st, b)
					return
				}
			}
		}()
	}
	wg.Wait()
	if calls := f.filter.Calls(); calls < 1 || calls > 2 {
		t.Fatalf("500 identical txs cost %d filter calls, want 1 (2 at most across a cache race)", calls)
	}
}

func TestShedWhenInFlightBoundIsReached(t *testing.T) {
	f := newFakes(t, 0, func(c *ingress.Config) { c.MaxInFlightChecks = 1 })
	f.filter.SetLatency(300 * time.Millisecond)
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, body := post(t, f.gw.URL(), sendRawBody(1, interopTx(t, 1, uint64(i), 902, keysOf(message(20+i)))))
			if r := reply(t, body); r.Error != nil {
				codes <- r.Error.Code
			} else {
				codes <- 0
			}
		}()
	}
	wg.Wait()
	close(codes)
	shed, ok := 0, 0
	for c := range codes {
		switch c {
		case ingress.CodeLimitExceeded:
			shed++
		case 0:
			ok++
		default:
			t.Fatalf("unexpected code %d", c)
		}
	}
	if shed == 0 || ok == 0 {
		t.Fatalf("%d shed, %d accepted: want both with a bound of 1", shed, ok)
	}
}

func TestRateLimits(t *testing.T) {
	f := newFakes(t, 0, func(c *ingress.Config) {
		c.IPRateLimit = 5
		c.IPRateWindow = d(time.Hour)
	})
	limited := 0
	for range 8 {
		st, body := post(t, f.gw.URL(), `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}`)
		if st == 429 {
			if r := reply(t, body); r.Error.Code != ingress.CodeOverRateLimit {
				t.Fatalf("%s", body)
			}
			limited++
		}
	}
	if limited != 3 {
		t.Fatalf("%d of 8 limited, want 3", limited)
	}

	g := newFakes(t, 0, func(c *ingress.Config) {
		c.SenderRateLimit = 2
		c.SenderRateWindow = d(time.Hour)
	})
	codes := []int{}
	for i := range 4 {
		_, body := post(t, g.gw.URL(), sendRawBody(1, interopTx(t, 3, uint64(i), 902, keysOf(message(40+i)))))
		r := reply(t, body)
		if r.Error != nil {
			codes = append(codes, r.Error.Code)
		}
	}
	if len(codes) != 2 || codes[0] != ingress.CodeSenderRateLimit {
		t.Fatalf("sender limit codes %v, want two -32017", codes)
	}
}

func TestMixedBatchKeepsOrderAndIDs(t *testing.T) {
	f := newFakes(t, sc.CodeConflict, nil)
	bad := interopTx(t, 1, 0, 902, keysOf(message(1)))
	body := "[" + strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`,
		strings.Replace(sendRawBody(1, bad), `"id":1`, `"id":2`, 1),
		`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}`,
		`{"jsonrpc":"2.0","id":"s","method":"interopgate_getTransactionStatus","params":["` + bad.Hash().Hex() + `"]}`,
		`{"jsonrpc":"2.0","id":5,"method":"eth_mining"}`,
	}, ",") + "]"
	st, out := post(t, f.gw.URL(), body)
	var rs []rpcReply
	if err := json.Unmarshal(out, &rs); err != nil || st != 200 || len(rs) != 5 {
		t.Fatalf("%d %s", st, out)
	}
	if string(rs[0].ID) != "1" || string(rs[0].Result) != `"0x386"` ||
		string(rs[1].ID) != "2" || rs[1].Error == nil || rs[1].Error.Code != sc.CodeConflict ||
		string(rs[2].ID) != "1" || string(rs[2].Result) != `"0x10"` ||
		string(rs[3].ID) != `"s"` || !strings.Contains(string(rs[3].Result), `"status":"unknown"`) ||
		rs[4].Error == nil || rs[4].Error.Code != -32601 {
		t.Fatalf("batch replies: %s", out)
	}
}

func TestFailoverAndReadiness(t *testing.T) {
	down := rpctest.New(t, sentryHandler)
	down.SetHTTPStatus(503)
	up := rpctest.New(t, sentryHandler)
	group, err := ingress.NewGroup(ingress.GroupConfig{Backends: []ingress.BackendConfig{{Name: "down", URL: down.URL}, {Name: "up", URL: up.URL}}}, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		status, body, err := group.Do(context.Background(), []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`))
		if err != nil || status != 200 || !strings.Contains(string(body), "0x386") {
			t.Fatalf("%d %s %v", status, body, err)
		}
	}
	if group.Healthy() != 1 {
		t.Fatalf("%d healthy, want 1 after repeated failures of one backend", group.Healthy())
	}
	up.SetHTTPStatus(503)
	if _, _, err := group.Do(context.Background(), []byte(`{}`)); err == nil {
		t.Fatal("all backends down must be an error")
	}
}

func TestConfigCheck(t *testing.T) {
	deps, _ := accesslist.NewDependencySet([]uint64{901, 902}, 0)
	group, _ := ingress.NewGroup(ingress.GroupConfig{Backends: []ingress.BackendConfig{{Name: "s", URL: "http://127.0.0.1:1"}}}, zaptest.NewLogger(t), nil)
	pool, _ := sc.NewPool(nil, sc.PoolConfig{})
	bad := map[string]func(*ingress.Config){
		"no chain":                    func(c *ingress.Config) { c.ChainID = 0 },
		"chain not in deps":           func(c *ingress.Config) { c.ChainID = 7 },
		"bad safety":                  func(c *ingress.Config) { c.MinSafety = "CROSS-UNSAFE" },
		"safe is not served":          func(c *ingress.Config) { c.MinSafety = "safe" },
		"zero batch":                  func(c *ingress.Config) { c.MaxBatchSize = 0 },
		"send in reads":               func(c *ingress.Config) { c.Methods = append(c.Methods, ingress.MethodSendRawTransaction) },
		"lease below timeout":         func(c *ingress.Config) { c.AsyncRetry = true; c.QueueLease = d(time.Second) },
		"timeout outlives the window": func(c *ingress.Config) { c.MessageTimeout = accesslist.DefaultExpiryWindow },
	}
	for name, mutate := range bad {
		cfg := ingress.DefaultConfig()
		cfg.ChainID = 902
		mutate(&cfg)
		if _, err := ingress.New(cfg, ingress.Deps{Checker: pool, Dependencies: deps, Backends: group}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ingress.NewGroup(ingress.GroupConfig{}, zaptest.NewLogger(t), nil); err == nil {
		t.Error("no backends accepted")
	}
}

func TestOptionalSendMethods(t *testing.T) {
	f := newFakes(t, 0, func(c *ingress.Config) {
		c.EnableSendBundle = true
		c.EnableSendRawTransactionSync = true
	})
	f.sentry.SetHandler(func(method string, params json.RawMessage) (any, *rpctest.Error) {
		switch method {
		case ingress.MethodSendBundle:
			return map[string]string{"bundleHash": "0x01"}, nil
		case ingress.MethodSendRawTransactionSync:
			return map[string]string{"status": "0x1"}, nil
		}
		return sentryHandler(method, params)
	})
	f.sentry.KeepBodies(true)
	hexOf := func(tx *types.Transaction) string {
		raw, _ := tx.MarshalBinary()
		return fmt.Sprintf("0x%x", raw)
	}
	good1 := interopTx(t, 1, 0, 902, keysOf(message(61)))
	good2 := interopTx(t, 2, 0, 902, keysOf(message(62)))
	bad := interopTx(t, 3, 0, 902, keysOf(func() accesslist.Message { m := message(63); m.ChainID.SetUint64(5); return m }()))
	bundle := func(txs ...*types.Transaction) string {
		hs := make([]string, len(txs))
		for i, tx := range txs {
			hs[i] = `"` + hexOf(tx) + `"`
		}
		return `{"jsonrpc":"2.0","id":1,"method":"eth_sendBundle","params":[{"txs":[` + strings.Join(hs, ",") + `],"blockNumber":"0x10"}]}`
	}
	st, body := post(t, f.gw.URL(), bundle(good1, good2))
	if r := reply(t, body); st != 200 || r.Error != nil || !strings.Contains(string(r.Result), "bundleHash") {
		t.Fatalf("valid bundle: %d %s", st, body)
	}
	st, body = post(t, f.gw.URL(), bundle(good1, bad))
	if r := reply(t, body); st != 404 || r.Error == nil || r.Error.Code != sc.CodeUnknownChain {
		t.Fatalf("bundle with an invalid tx: %d %s", st, body)
	}
	st, body = post(t, f.gw.URL(), `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransactionSync","params":["`+hexOf(good1)+`"]}`)
	if r := reply(t, body); st != 200 || r.Error != nil || !strings.Contains(string(r.Result), "status") {
		t.Fatalf("sync: %d %s", st, body)
	}
	bundles := 0
	for _, b := range f.sentry.Bodies() {
		if strings.Contains(string(b), "eth_sendBundle") {
			bundles++
			if strings.Contains(string(b), hexOf(bad)[2:]) {
				t.Fatal("a bundle with an invalid tx reached the sentry")
			}
		}
	}
	if bundles != 1 {
		t.Fatalf("%d bundles forwarded, want 1", bundles)
	}
	// Disabled by default.
	g := newFakes(t, 0, nil)
	if st, _ := post(t, g.gw.URL(), bundle(good1)); st != 403 {
		t.Fatalf("eth_sendBundle without enable_send_bundle: %d", st)
	}
}

func TestForwardToAll(t *testing.T) {
	f := newFakes(t, 0, func(c *ingress.Config) { c.ForwardToAll = true })
	other := rpctest.New(t, sentryHandler)
	// Rebuild the gateway with two sentries.
	client, _ := sc.NewClient(sc.ClientConfig{URL: f.filter.URL})
	pool, _ := sc.NewPool([]sc.Endpoint{{Name: "fake", Checker: client}}, sc.PoolConfig{})
	deps, _ := accesslist.NewDependencySet([]uint64{901, 902}, 0)
	group, _ := ingress.NewGroup(ingress.GroupConfig{Backends: []ingress.BackendConfig{{Name: "a", URL: f.sentry.URL}, {Name: "b", URL: other.URL}}}, zaptest.NewLogger(t), nil)
	cfg := ingress.DefaultConfig()
	cfg.ChainID, cfg.ForwardToAll, cfg.SenderRateLimit = 902, true, 0
	gw, err := ingress.New(cfg, ingress.Deps{Checker: pool, Dependencies: deps, Backends: group})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer gw.Shutdown(context.Background())
	f.sentry.KeepBodies(true)
	tx := interopTx(t, 1, 0, 902, keysOf(message(70)))
	if st, body := post(t, gw.URL(), sendRawBody(1, tx)); st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	raw, _ := tx.MarshalBinary()
	needle := fmt.Sprintf("%x", raw)
	waitFor := func(s *rpctest.Server) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			for _, b := range s.Bodies() {
				if strings.Contains(string(b), needle) {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("a sentry never received the tx")
			}
			time.Sleep(10 * time.Millisecond) // polling the sentry's log against a deadline
		}
	}
	waitFor(f.sentry)
	waitFor(other)
}

func TestConcurrentRequestsShareFilterCalls(t *testing.T) {
	f := newFakes(t, 0, func(c *ingress.Config) { c.FilterCallsInFlight = 2 })
	f.filter.SetLatency(20 * time.Millisecond)
	bodies := make([]string, 100)
	for i := range bodies {
		bodies[i] = sendRawBody(i, interopTx(t, 1+i%4, uint64(i), 902, keysOf(message(3000+i))))
	}
	var wg sync.WaitGroup
	for _, b := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, out := post(t, f.gw.URL(), b); st != 200 {
				t.Errorf("%d %s", st, out)
			}
		}()
	}
	wg.Wait()
	if calls, reqs := f.filter.Calls(), f.filter.Requests(); calls != 100 || reqs > 30 {
		t.Fatalf("100 concurrent single-tx requests: %d checks in %d filter requests, want 100 in at most 30", calls, reqs)
	}
}

// counter sums the samples of a metric family in reg whose labels include want.
func counter(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				total += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				total += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				total += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return total
}

func TestMetricsCount(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFakesWith(t, sc.CodeConflict, nil, ingress.NewMetrics(reg))
	body := sendRawBody(1, interopTx(t, 1, 0, 902, keysOf(message(80))))
	for range 5 {
		post(t, f.gw.URL(), body)
	}
	post(t, f.gw.URL(), `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}`)
	post(t, f.gw.URL(), `{"jsonrpc":"2.0","id":1,"method":"debug_x"}`)
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"interopgate_gateway_interop_verdicts_total", map[string]string{"result": "rejected", "reason": "conflict"}, 5},
		{"interopgate_gateway_verdict_cache_total", map[string]string{"result": "hit"}, 4},
		{"interopgate_gateway_verdict_cache_total", map[string]string{"result": "miss"}, 1},
		{"interopgate_gateway_calls_total", map[string]string{"method": "eth_blockNumber", "outcome": "forwarded"}, 1},
		{"interopgate_gateway_calls_total", map[string]string{"method": "other", "outcome": "method_not_allowed"}, 1},
		{"interopgate_gateway_request_duration_seconds", map[string]string{"method": "eth_sendRawTransaction"}, 5},
		{"interopgate_gateway_backend_requests_total", map[string]string{"backend": "s", "outcome": "ok"}, 1},
	}
	for _, c := range checks {
		if got := counter(t, reg, c.name, c.labels); got < c.want || (c.name != "interopgate_gateway_backend_requests_total" && got != c.want) {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

func TestAsyncQueueDropsWhatTurnsInvalid(t *testing.T) {
	var calls atomic.Int32
	f := newFakes(t, 0, func(c *ingress.Config) {
		c.AsyncRetry = true
		c.RetryDelay = d(10 * time.Millisecond)
		c.QueuePoll = d(5 * time.Millisecond)
		c.RetryAttempts = 10
	})
	// Not yet (twice), then a conflict: queued, re-tested, rescheduled, then dropped.
	f.filter.SetHandler(func(method string, _ json.RawMessage) (any, *rpctest.Error) {
		if method == "admin_getFailsafeEnabled" {
			return false, nil
		}
		if calls.Add(1) <= 2 {
			return nil, &rpctest.Error{Code: sc.CodeFuture, Message: "future data"}
		}
		return nil, &rpctest.Error{Code: sc.CodeConflict, Message: "conflicting data"}
	})
	tx := interopTx(t, 1, 0, 902, keysOf(message(90)))
	_, body := post(t, f.gw.URL(), sendRawBody(1, tx))
	if r := reply(t, body); r.Error != nil || string(r.Result) != `"`+tx.Hash().Hex()+`"` {
		t.Fatalf("async admission: %s", body)
	}
	var st map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, b := post(t, f.gw.URL(), `{"jsonrpc":"2.0","id":1,"method":"interopgate_getTransactionStatus","params":["`+tx.Hash().Hex()+`"]}`)
		var r struct{ Result map[string]any }
		_ = json.Unmarshal(b, &r)
		st = r.Result
		if st["status"] == ingress.StateDropped || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond) // polling the status against a deadline
	}
	if st["status"] != ingress.StateDropped || st["code"].(float64) != sc.CodeConflict || st["attempts"].(float64) != 2 {
		t.Fatalf("status %v, want dropped with -320600 after 2 re-tests", st)
	}
	if n := f.sentry.MethodCalls(ingress.MethodSendRawTransaction); n > 0 {
		t.Fatalf("a dropped tx reached the sentry (%d sends)", n)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	f := newFakes(t, 0, nil)
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200} {
		status, _, err := fasthttp.Get(nil, f.gw.URL()+path)
		if err != nil || status != want {
			t.Fatalf("%s: %d %v", path, status, err)
		}
	}
	f.sentry.SetHTTPStatus(503)
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, body, _ := fasthttp.Get(nil, f.gw.URL()+"/readyz")
		if status == 503 && strings.Contains(string(body), "no healthy sentry") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz still %d with the only sentry failing", status)
		}
		time.Sleep(50 * time.Millisecond) // health checks run every 2 s; polling against a deadline
	}
}

// Issue 19, item 5: a queued tx that a sentry refuses with "nonce too low" may be mined already
// (a replica forwarded it and died before recording it): it is looked up on the sentry, and
// only one neither in a block nor in the pool is called dropped.
func TestQueuedNonceTooLowIsResolvedAgainstTheChain(t *testing.T) {
	known := map[string]bool{} // tx hashes the sentry has (in a block)
	var mu sync.Mutex
	var calls atomic.Int32
	f := newFakes(t, 0, func(c *ingress.Config) {
		c.AsyncRetry = true
		c.RetryDelay = d(10 * time.Millisecond)
		c.QueuePoll = d(5 * time.Millisecond)
		c.RetryAttempts = 10
	})
	f.filter.SetHandler(func(method string, _ json.RawMessage) (any, *rpctest.Error) {
		if method == "admin_getFailsafeEnabled" {
			return false, nil
		}
		if calls.Add(1) <= 2 { // each tx's admission: not yet, so it is queued
			return nil, &rpctest.Error{Code: sc.CodeFuture, Message: "future data"}
		}
		return nil, nil
	})
	f.sentry.SetHandler(func(method string, params json.RawMessage) (any, *rpctest.Error) {
		switch method {
		case ingress.MethodSendRawTransaction:
			return nil, &rpctest.Error{Code: -32000, Message: "nonce too low: next nonce 5, tx nonce 0"}
		case "eth_getTransactionByHash":
			var ps []string
			_ = json.Unmarshal(params, &ps)
			mu.Lock()
			defer mu.Unlock()
			if len(ps) == 1 && known[ps[0]] {
				return map[string]any{"hash": ps[0], "blockNumber": "0x4"}, nil
			}
			return nil, nil
		}
		return sentryHandler(method, params)
	})
	mined := interopTx(t, 1, 0, 902, keysOf(message(91)))
	replaced := interopTx(t, 2, 0, 902, keysOf(message(92)))
	mu.Lock()
	known[mined.Hash().Hex()] = true
	mu.Unlock()
	for _, tx := range []*types.Transaction{mined, replaced} {
		if _, body := post(t, f.gw.URL(), sendRawBody(1, tx)); reply(t, body).Error != nil {
			t.Fatalf("async admission: %s", body)
		}
	}
	status := func(tx *types.Transaction) map[string]any {
		_, b := post(t, f.gw.URL(), `{"jsonrpc":"2.0","id":1,"method":"interopgate_getTransactionStatus","params":["`+tx.Hash().Hex()+`"]}`)
		var r struct{ Result map[string]any }
		_ = json.Unmarshal(b, &r)
		return r.Result
	}
	rpctest.WaitFor(t, "both txs settled", 10*time.Second, func() bool {
		return status(mined)["status"] != ingress.StateQueued && status(replaced)["status"] != ingress.StateQueued
	})
	if st := status(mined); st["status"] != ingress.StateForwarded {
		t.Fatalf("a queued tx the chain holds, refused by the sentry with nonce too low: %v, want forwarded", st)
	}
	if st := status(replaced); st["status"] != ingress.StateDropped || !strings.Contains(fmt.Sprint(st["reason"]), "nonce too low") {
		t.Fatalf("a queued tx whose nonce another tx used: %v, want dropped with nonce too low", st)
	}
}

// Issue 15 (found by the load test's source reorgs): a sentry whose pool gates interop txs
// (op-reth with its failsafe on, for instance during a revalidator's pulse) refuses a valid tx
// with "failsafe is enabled" for a moment. The gateway sends it again after retry_delay, within
// retry_attempts, instead of handing the client an error for a tx that is valid.
//
// The same for a message of the sentry's head block: op-reth asks its filter as of its head's
// timestamp, and the same-timestamp rule refuses the tx until the next block (found by the load
// test: 5 of 1,500 valid txs refused, the scenario's newest messages).
func TestASentrysFailsafeRefusalIsRetried(t *testing.T) {
	for i, refusal := range []string{
		"invalid cross chain tx: failsafe is enabled",
		"invalid cross chain tx: invalid (-320600): timing rule violated: initiating and executing timestamps are equal (message timestamp 1796057619)",
	} {
		t.Run(refusal[:40], func(t *testing.T) {
			var sends atomic.Int32
			f := newFakes(t, 0, func(c *ingress.Config) { c.RetryDelay = d(20 * time.Millisecond) })
			f.sentry.SetHandler(func(method string, params json.RawMessage) (any, *rpctest.Error) {
				if method == ingress.MethodSendRawTransaction && sends.Add(1) <= 2 {
					return nil, &rpctest.Error{Code: -32000, Message: refusal}
				}
				return sentryHandler(method, params)
			})
			tx := interopTx(t, 1, 0, 902, keysOf(message(93+2*i)))
			_, body := post(t, f.gw.URL(), sendRawBody(1, tx))
			if r := reply(t, body); r.Error != nil || string(r.Result) != `"`+tx.Hash().Hex()+`"` {
				t.Fatalf("a valid tx the sentry refused twice for a passing reason: %s", body)
			}
			if n := sends.Load(); n != 3 {
				t.Fatalf("the sentry got %d sends, want 3", n)
			}
			// Past retry_attempts the client gets the sentry's answer.
			sends.Store(-10)
			tx2 := interopTx(t, 2, 0, 902, keysOf(message(94+2*i)))
			_, body = post(t, f.gw.URL(), sendRawBody(1, tx2))
			if r := reply(t, body); r.Error == nil || r.Error.Message != refusal {
				t.Fatalf("a sentry still refusing after retry_attempts: %s", body)
			}
		})
	}
}
