package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/holiman/uint256"
	"go.uber.org/zap/zaptest"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/internal/config"
	"github.com/interopgate/interopgate/internal/rpctest"
	sc "github.com/interopgate/interopgate/supervisorclient"
	"github.com/interopgate/interopgate/supervisorclient/light"
)

// syncBuffer is an io.Writer the command writes from its goroutine while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startCommand runs the app with args until the test ends; the returned func stops it and
// returns its error.
func startCommand(t *testing.T, args ...string) (*syncBuffer, func() error) {
	t.Helper()
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- newApp(out, out).RunContext(ctx, append([]string{"interopgate"}, args...)) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = fmt.Errorf("command did not stop within 30 s of cancellation")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return out, stop
}

func TestDevnetCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "endpoints.json")
	out, stop := startCommand(t, "devnet", "--chain.port", "0", "--filter.port", "0", "--gateway.port", "0", "--revalidator.port", "0", "--control.port", "0", "--metrics.enabled=false",
		"--block-time", "1s", "--endpoints-file", file, "--rollup-configs", filepath.Join(dir, "rollup"))
	rpctest.WaitFor(t, "the endpoints file", 60*time.Second, func() bool { _, err := os.Stat(file); return err == nil })
	var ep endpointsFile
	data, _ := os.ReadFile(file)
	if err := json.Unmarshal(data, &ep); err != nil {
		t.Fatalf("endpoints file: %v\n%s", err, data)
	}
	if len(ep.Chains) != 2 || ep.Filter == "" || len(ep.Gateways) != 2 || ep.Revalidator == "" || ep.Control == "" || len(ep.Accounts) != 4 ||
		ep.SampleMessage == nil || len(ep.RollupConfigs) != 2 || len(ep.RollupConfigFiles) != 2 {
		t.Fatalf("endpoints file: %s", data)
	}
	// The rollup configs on disk are the ones in the file: what op-interop-filter reads.
	for i, ch := range ep.Chains {
		var rc devnet.RollupConfig
		disk, err := os.ReadFile(ep.RollupConfigFiles[i])
		if err != nil || json.Unmarshal(disk, &rc) != nil {
			t.Fatalf("rollup config %s: %v", ep.RollupConfigFiles[i], err)
		}
		want := ep.RollupConfigs[fmt.Sprint(ch.ChainID)]
		if rc.L2ChainID.Uint64() != ch.ChainID || rc.BlockTime != 1 || rc.Genesis.L2Time != want.Genesis.L2Time || rc.Genesis.L2.Hash != want.Genesis.L2.Hash {
			t.Fatalf("rollup config of chain %d: %+v, endpoints file says %+v", ch.ChainID, rc, want)
		}
	}
	// The control namespace emits a message that the filter then proves.
	ctl, err := rpc.Dial(ep.Control)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	var emitted devnet.Message
	if err := ctl.Call(&emitted, "devnet_emit", 901, "0x6869"); err != nil || emitted.ChainID != 901 {
		t.Fatalf("devnet_emit: %+v %v", emitted, err)
	}
	rpctest.WaitFor(t, "the banner", 10*time.Second, func() bool { return strings.Contains(out.String(), "answers error -320600") })
	client, err := sc.NewClient(sc.ClientConfig{URL: ep.Filter})
	if err != nil {
		t.Fatal(err)
	}
	m := ep.SampleMessage
	req := sc.Request{InboxKeys: m.InboxKeys, MinSafety: sc.SafetyCrossUnsafe,
		Executing: sc.ExecutingDescriptor{ChainID: *uint256.NewInt(902), Timestamp: m.Timestamp + 2}}
	if v := client.CheckAccessList(context.Background(), req); !v.Valid() {
		t.Fatalf("sample message: %v", v)
	}
	req.InboxKeys = append([]common.Hash(nil), m.InboxKeys...)
	req.InboxKeys[1][31] ^= 1
	if v := client.CheckAccessList(context.Background(), req); v.Code != sc.CodeConflict {
		t.Fatalf("flipped checksum: %v", v)
	}
	// The revalidator beside chain 902 answers the same checks (cache-first).
	reval, err := sc.NewClient(sc.ClientConfig{URL: ep.Revalidator, Namespace: sc.NamespaceSupervisor})
	if err != nil {
		t.Fatal(err)
	}
	req.InboxKeys = m.InboxKeys
	if v := reval.CheckAccessList(context.Background(), req); !v.Valid() {
		t.Fatalf("sample message through the revalidator: %v", v)
	}
	req.InboxKeys = emitted.InboxKeys
	req.Executing.Timestamp = emitted.Timestamp + 2
	rpctest.WaitFor(t, "the message emitted through devnet_emit to be valid", 10*time.Second, func() bool {
		return client.CheckAccessList(context.Background(), req).Valid()
	})
	// Chain 902's pool is the op-reth model asking the revalidator: an invalid interop tx sent
	// straight to its node, around the gateway, is refused there.
	if ep.SequencerPool != "op-reth" || !strings.Contains(out.String(), "around the gateway, is refused") {
		t.Fatalf("sequencer pool %q, or the banner does not show it", ep.SequencerPool)
	}
	node, err := ethclient.Dial(ep.Chains[1].RPC)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	key, _ := crypto.HexToECDSA(strings.TrimPrefix(ep.Accounts[3].PrivateKey, "0x"))
	nonce, err := node.PendingNonceAt(context.Background(), ep.Accounts[3].Address)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]common.Hash(nil), m.InboxKeys...)
	bad[len(bad)-1][31] ^= 1
	tx, _ := types.SignTx(types.NewTx(&types.DynamicFeeTx{ChainID: big.NewInt(902), Nonce: nonce, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(1e12),
		Gas: 100_000, To: &accesslist.CrossL2InboxAddress, AccessList: types.AccessList{{Address: accesslist.CrossL2InboxAddress, StorageKeys: bad}}}),
		types.LatestSignerForChainID(big.NewInt(902)), key)
	if err := node.SendTransaction(context.Background(), tx); err == nil || !strings.Contains(err.Error(), "invalid cross chain tx") {
		t.Fatalf("an invalid interop tx sent straight to chain 902's node: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("devnet did not shut down cleanly: %v", err)
	}
}

var listening = regexp.MustCompile(`light filter listening on (http://\S+)`)

func TestFilterCommand(t *testing.T) {
	net, err := devnet.Start(devnet.Config{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	e, err := net.Chain(901).Emit(context.Background(), net.Accounts[0], common.Hash{3}, []byte("filter command"))
	if err != nil {
		t.Fatal(err)
	}
	out, stop := startCommand(t, "filter", "--config", devnetFilterConfig(t, net), "--rpc.addr", "127.0.0.1", "--rpc.port", "0", "--metrics.enabled=false")
	url := waitForURL(t, "the filter to listen", out, listening)
	client, _ := sc.NewClient(sc.ClientConfig{URL: url})
	req := sc.Request{InboxKeys: e.Keys(), MinSafety: sc.SafetyCrossUnsafe,
		Executing: sc.ExecutingDescriptor{ChainID: *uint256.NewInt(902), Timestamp: e.ID.Timestamp + 2}}
	if v := client.CheckAccessList(context.Background(), req); !v.Valid() {
		t.Fatalf("check through `interopgate filter`: %v\n%s", v, out.String())
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestFilterConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	typo := write("typo.toml", "[rpc]\nprot = 1\n")
	if _, err := run(t, "filter", "--config", typo, "--metrics.enabled=false"); err == nil || !strings.Contains(err.Error(), `line 2: unknown config key "rpc.prot"`) {
		t.Fatalf("typo: %v", err)
	}
	noChains := write("empty.toml", "")
	if _, err := run(t, "filter", "--config", noChains, "--metrics.enabled=false"); err == nil || !strings.Contains(err.Error(), "no chain") {
		t.Fatalf("no chains: %v", err)
	}
	t.Setenv("INTEROPGATE_FILTER_RPC_PROT", "1")
	if _, err := run(t, "filter", "--config", noChains, "--metrics.enabled=false"); err == nil || !strings.Contains(err.Error(), "INTEROPGATE_FILTER_RPC_PROT") {
		t.Fatalf("env typo: %v", err)
	}
}

func TestFilterPrintDefaultConfig(t *testing.T) {
	out, err := run(t, "filter", "--print-default-config")
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultFilterConfig()
	var back filterConfig
	if err := config.Decode([]byte(out), &back); err != nil {
		t.Fatalf("the printed default does not decode strictly: %v\n%s", err, out)
	}
	if fmt.Sprint(back) != fmt.Sprint(*cfg) {
		t.Fatalf("round trip changed the defaults:\n%+v\n%+v", back, *cfg)
	}
}

var gatewayListening = regexp.MustCompile(`gateway listening on (http://\S+)`)

func TestGatewayCommand(t *testing.T) {
	net, err := devnet.Start(devnet.Config{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	ctx := context.Background()
	e, err := net.Chain(901).Emit(ctx, net.Accounts[0], common.Hash{4}, []byte("gateway command"))
	if err != nil {
		t.Fatal(err)
	}
	// A light filter for the gateway to ask.
	filterOut, stopFilter := startCommand(t, "filter", "--metrics.enabled=false", "--rpc.port", "0", "--config", devnetFilterConfig(t, net))
	defer stopFilter()
	filterURL := waitForURL(t, "the filter", filterOut, listening)
	out, stop := startCommand(t, "gateway", "--metrics.enabled=false", "--rpc.addr", "127.0.0.1", "--rpc.port", "0", "--config", writeFile(t, "gateway.toml", fmt.Sprintf(`
[gateway]
chain_id = 902
exec_timestamp_offset = "1m"
[[sentries.backends]]
name = "geth902"
url = %q
[[filters.endpoints]]
name = "light"
url = %q
[interop]
chains = [901, 902]
`, net.Chain(902).RPCURL(), filterURL)))
	gwURL := waitForURL(t, "the gateway", out, gatewayListening)
	tx, err := net.Chain(902).ExecutingTx(ctx, net.Accounts[1], 0, e.Keys())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tx.MarshalBinary()
	client, err := rpcDial(gwURL)
	if err != nil {
		t.Fatal(err)
	}
	var hash common.Hash
	if err := client.CallContext(ctx, &hash, "eth_sendRawTransaction", hexutil.Encode(raw)); err != nil || hash != tx.Hash() {
		t.Fatalf("through `interopgate gateway`: %v %v", hash, err)
	}
	if _, err := net.Chain(902).WaitReceipt(ctx, tx.Hash()); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestGatewayConfigErrors(t *testing.T) {
	if _, err := run(t, "gateway", "--metrics.enabled=false", "--config", writeFile(t, "g.toml", "[gateway]\nchain_idd = 1\n")); err == nil || !strings.Contains(err.Error(), `"gateway.chain_idd"`) {
		t.Fatalf("typo: %v", err)
	}
	if _, err := run(t, "gateway", "--metrics.enabled=false", "--config", writeFile(t, "g2.toml", "[interop]\nchains=[901]\n")); err == nil || !strings.Contains(err.Error(), "chain_id") {
		t.Fatalf("missing chain_id: %v", err)
	}
	out, err := run(t, "gateway", "--print-default-config")
	if err != nil {
		t.Fatal(err)
	}
	var back gatewayConfig
	if err := config.Decode([]byte(out), &back); err != nil {
		t.Fatalf("default gateway config does not decode strictly: %v", err)
	}
	if fmt.Sprint(back) != fmt.Sprint(*defaultGatewayConfig()) {
		t.Fatal("default gateway config does not round-trip")
	}
}

func writeFile(t testing.TB, name, body string) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func rpcDial(url string) (*rpc.Client, error) { return rpc.Dial(url) }

// TestExamplesAreValid decodes the example configs strictly and validates them, so the
// examples a newcomer copies cannot rot.
func TestExamplesAreValid(t *testing.T) {
	g := defaultGatewayConfig()
	data, err := os.ReadFile("../../examples/gateway.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := config.Decode(data, g); err != nil {
		t.Fatalf("examples/gateway.toml: %v", err)
	}
	if err := g.Gateway.Check(); err != nil {
		t.Fatalf("examples/gateway.toml: %v", err)
	}
	if _, err := g.dependencySet(); err != nil {
		t.Fatalf("examples/gateway.toml: %v", err)
	}
	f := defaultFilterConfig()
	if data, err = os.ReadFile("../../examples/filter.toml"); err != nil {
		t.Fatal(err)
	}
	if err := config.Decode(data, f); err != nil {
		t.Fatalf("examples/filter.toml: %v", err)
	}
	deps, err := f.dependencySet()
	if err != nil {
		t.Fatalf("examples/filter.toml: %v", err)
	}
	if _, err := light.New(light.Config{Chains: f.Filter.Chains, Dependencies: deps, CrossUnsafeHead: light.HeadRule(f.Filter.CrossUnsafeHead)}); err != nil {
		t.Fatalf("examples/filter.toml: %v", err)
	}
	if data, err = os.ReadFile("../../examples/dependency-set.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := accesslist.ParseDependencySet(data); err != nil {
		t.Fatalf("examples/dependency-set.json: %v", err)
	}
	// The revalidator's, as --check-config reads it (run from the repository's root, as its
	// header says; the check makes no connection).
	root, _ := filepath.Abs("../../")
	t.Chdir(root)
	if out, err := run(t, "revalidator", "--metrics.enabled=false", "--check-config", "--config", "examples/revalidator.toml"); err != nil || !strings.Contains(out, "config ok") {
		t.Fatalf("examples/revalidator.toml: %v %s", err, out)
	}
}

// devnetFilterConfig writes a light-filter config for the devnet's chains 901 and 902.
func devnetFilterConfig(t *testing.T, net *devnet.Devnet) string {
	return writeFile(t, "filter.toml", fmt.Sprintf(`
[filter]
cross_unsafe_head = "latest"
[[filter.chains]]
chain_id = 901
rpc = %q
[[filter.chains]]
chain_id = 902
rpc = %q
`, net.Chain(901).RPCURL(), net.Chain(902).RPCURL()))
}

// waitForURL waits until the command's output has a line matching re and returns its URL.
func waitForURL(t *testing.T, what string, out *syncBuffer, re *regexp.Regexp) string {
	t.Helper()
	var url string
	rpctest.WaitFor(t, what, 30*time.Second, func() bool {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
			return true
		}
		return false
	})
	return url
}
