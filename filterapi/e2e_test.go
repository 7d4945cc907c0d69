package filterapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/interopgate/interopgate/internal/rpctest"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
	"github.com/valyala/fasthttp"
	"go.uber.org/zap/zaptest"

	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/filterapi"
	sc "github.com/interopgate/interopgate/supervisorclient"
	"github.com/interopgate/interopgate/supervisorclient/light"
)

// lightFilter is the whole filter stack on a devnet: real chains, the light checker, the API.
type lightFilter struct {
	net *devnet.Devnet
	api *filterapi.Server
	ctx context.Context
}

func startLightFilter(t *testing.T) *lightFilter {
	t.Helper()
	net, err := devnet.Start(devnet.Config{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })
	var chains []light.ChainRPC
	for _, c := range net.Chains {
		chains = append(chains, light.ChainRPC{ChainID: c.ID(), RPC: c.RPCURL()})
	}
	checker, err := light.New(light.Config{Chains: chains, Dependencies: net.DependencySet(), CrossUnsafeHead: light.HeadLatest})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(checker.Close)
	api, err := filterapi.New(checker, filterapi.Config{AllowSetFailsafe: true}, filterapi.WithReadiness(checker.Ready))
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Shutdown(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return &lightFilter{net: net, api: api, ctx: ctx}
}

func (f *lightFilter) client(t *testing.T, ns string) *sc.Client {
	c, err := sc.NewClient(sc.ClientConfig{URL: f.api.URL(), Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func req(keys []common.Hash, ts uint64) sc.Request {
	return sc.Request{InboxKeys: keys, MinSafety: sc.SafetyCrossUnsafe,
		Executing: sc.ExecutingDescriptor{ChainID: *uint256.NewInt(902), Timestamp: ts, Timeout: 0}}
}

func TestEndToEndEveryCase(t *testing.T) {
	f := startLightFilter(t)
	e, err := f.net.Chain(901).Emit(f.ctx, f.net.Accounts[0], common.Hash{0x77}, []byte("end to end"))
	if err != nil {
		t.Fatal(err)
	}
	cases := devnet.Cases(e, e.ID.Timestamp+2, f.net.DependencySet().ExpiryWindow(), 999)
	for _, ns := range []string{sc.NamespaceInterop, sc.NamespaceSupervisor} {
		client := f.client(t, ns)
		for _, c := range cases {
			v := client.CheckAccessList(f.ctx, req(c.Keys, c.ExecTimestamp))
			if (c.WantCode == 0 && !v.Valid()) || (c.WantCode != 0 && v.Code != c.WantCode) {
				t.Errorf("%s %s: got %v, want code %d", ns, c.Name, v, c.WantCode)
			}
		}
		// The same cases as one mixed JSON-RPC batch.
		reqs := make([]sc.Request, len(cases))
		for i, c := range cases {
			reqs[i] = req(c.Keys, c.ExecTimestamp)
		}
		for i, v := range client.CheckAccessLists(f.ctx, reqs) {
			if c := cases[i]; (c.WantCode == 0 && !v.Valid()) || (c.WantCode != 0 && v.Code != c.WantCode) {
				t.Errorf("%s batch %s: got %v, want code %d", ns, c.Name, v, c.WantCode)
			}
		}
	}
}

func TestEndToEndFutureThenMined(t *testing.T) {
	f := startLightFilter(t)
	p, err := f.net.Chain(901).EmitPending(f.ctx, f.net.Accounts[1], common.Hash{0x78}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := f.client(t, sc.NamespaceInterop)
	r := req(p.Keys(), p.ID.Timestamp+1)
	if v := client.CheckAccessList(f.ctx, r); v.Code != sc.CodeOutOfScope || v.Class != sc.ClassRetryLater {
		t.Fatalf("before mining: %v, want -321100 (as op-interop-filter)", v)
	}
	if _, err := p.Mine(f.ctx); err != nil {
		t.Fatal(err)
	}
	if v := client.CheckAccessList(f.ctx, r); !v.Valid() {
		t.Fatalf("after mining: %v", v)
	}
}

// TestEndToEndDialects posts each client's exact request bytes for a real devnet message.
func TestEndToEndDialects(t *testing.T) {
	f := startLightFilter(t)
	e, err := f.net.Chain(901).Emit(f.ctx, f.net.Accounts[0], common.Hash{0x79}, []byte("dialects"))
	if err != nil {
		t.Fatal(err)
	}
	keys := e.Keys()
	ts := e.ID.Timestamp + 2
	body := func(method, chainID string, timeout uint64) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"%s","params":[["%s","%s"],"cross-unsafe",{"chainID":"%s","timestamp":"0x%x","timeout":"0x%x"}]}`,
			method, keys[0].Hex(), keys[1].Hex(), chainID, ts, timeout)
	}
	for name, b := range map[string]string{
		"op-geth": body("supervisor_checkAccessList", "902", 86400),
		"op-reth": body("interop_checkAccessList", "0x386", 7200),
		"proxyd":  body("interop_checkAccessList", "902", 7200),
	} {
		// With a 7-day window and a timeout of hours, the message is valid.
		status, resp := postJSON(t, f.api.URL(), b)
		if status != 200 || resp != `{"jsonrpc":"2.0","id":1,"result":null}` {
			t.Errorf("%s: %d %s", name, status, resp)
		}
	}
	// Failsafe, switched through the admin API, rejects everything with -320602.
	postJSON(t, f.api.URL(), `{"jsonrpc":"2.0","id":1,"method":"admin_setFailsafeEnabled","params":[true]}`)
	_, resp := postJSON(t, f.api.URL(), body("interop_checkAccessList", "902", 7200))
	var out struct{ Error struct{ Code int } }
	if err := json.Unmarshal([]byte(resp), &out); err != nil || out.Error.Code != sc.CodeFailsafe {
		t.Fatalf("failsafe: %s", resp)
	}
	on, err := f.client(t, sc.NamespaceInterop).FailsafeEnabled(f.ctx)
	if err != nil || !on {
		t.Fatalf("admin_getFailsafeEnabled: %v %v", on, err)
	}
	status, rbody, err := fasthttp.Get(nil, f.api.URL()+"/readyz")
	if err != nil || status != 200 || !strings.Contains(string(rbody), "ready") {
		t.Fatalf("readyz: %d %s %v", status, rbody, err)
	}
}

func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	status, b := rpctest.Post(t, url, body)
	return status, string(b)
}
