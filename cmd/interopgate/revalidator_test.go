package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"go.uber.org/zap/zaptest"

	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/internal/config"
	"github.com/interopgate/interopgate/internal/rpctest"
)

var revalidatorListening = regexp.MustCompile(`revalidator listening on (http://\S+)`)

// `interopgate revalidator` beside chain 902's node, asking a light filter: the execution
// client's check is answered, and the pending interop tx is tracked and known valid.
func TestRevalidatorCommand(t *testing.T) {
	net, err := devnet.Start(devnet.Config{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	ctx := context.Background()
	e, err := net.Chain(901).Emit(ctx, net.Accounts[0], common.Hash{5}, []byte("revalidator command"))
	if err != nil {
		t.Fatal(err)
	}
	filterOut, stopFilter := startCommand(t, "filter", "--metrics.enabled=false", "--rpc.port", "0", "--config", devnetFilterConfig(t, net))
	defer stopFilter()
	filterURL := waitForURL(t, "the filter", filterOut, listening)
	out, stop := startCommand(t, "revalidator", "--metrics.enabled=false", "--rpc.port", "0", "--config", writeFile(t, "revalidator.toml", fmt.Sprintf(`
[revalidator]
chain_id = 902
block_time = "1m"   # on-demand devnet chains run ahead of the clock
[node]
url = %q
[[filters.endpoints]]
name = "light"
url = %q
[interop]
chains = [901, 902]
`, net.Chain(902).RPCURL(), filterURL)))
	url := waitForURL(t, "the revalidator", out, revalidatorListening)
	tx, err := net.Chain(902).ExecutingTx(ctx, net.Accounts[1], 0, e.Keys())
	if err != nil {
		t.Fatal(err)
	}
	if err := net.Chain(902).Client().SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, len(e.Keys()))
	for i, k := range e.Keys() {
		keys[i] = `"` + k.Hex() + `"`
	}
	_, body := rpctest.Post(t, url, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"supervisor_checkAccessList","params":[[%s],"cross-unsafe",{"chainID":"902","timestamp":"0x%x","timeout":"0x15180"}]}`,
		strings.Join(keys, ","), e.ID.Timestamp+2))
	if !strings.Contains(string(body), `"result":null`) {
		t.Fatalf("op-geth's check: %s", body)
	}
	// The check fills the message table; the pool mirror picks the tx up within pool_poll.
	rpctest.WaitFor(t, "the pending tx to be tracked and known valid", 30*time.Second, func() bool {
		_, body := rpctest.Post(t, url, `{"jsonrpc":"2.0","id":1,"method":"interopgate_checkTransactions","params":[["`+tx.Hash().Hex()+`"]]}`)
		return strings.Contains(string(body), `"invalid":[],"unknown":[]`)
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestRevalidatorConfigErrors(t *testing.T) {
	if _, err := run(t, "revalidator", "--metrics.enabled=false", "--config", writeFile(t, "r.toml", "[revalidator]\nchain_id = 902\n[interop]\nchains=[901,902]\n")); err == nil || !strings.Contains(err.Error(), "node.url") {
		t.Fatalf("missing node.url: %v", err)
	}
	if _, err := run(t, "revalidator", "--metrics.enabled=false", "--config", writeFile(t, "r2.toml", "[revalidator]\nchain_idd = 902\n")); err == nil || !strings.Contains(err.Error(), `"revalidator.chain_idd"`) {
		t.Fatalf("typo: %v", err)
	}
	out, err := run(t, "revalidator", "--print-default-config")
	if err != nil {
		t.Fatal(err)
	}
	var back revalidatorConfig
	if err := config.Decode([]byte(out), &back); err != nil {
		t.Fatalf("the printed default does not decode strictly: %v\n%s", err, out)
	}
	if fmt.Sprint(back) != fmt.Sprint(*defaultRevalidatorConfig()) {
		t.Fatalf("round trip changed the defaults")
	}
}

// minimalGateway is a gateway config that checks: a sentry, a filter and the chains.
const minimalGateway = "[gateway]\nchain_id = 902\n[[sentries.backends]]\nname = \"s\"\nurl = \"http://127.0.0.1:1\"\n" +
	"[[filters.endpoints]]\nname = \"f\"\nurl = \"http://127.0.0.1:2\"\n[interop]\nchains = [901, 902]\n"

// --check-config validates a config as a start would, without connecting to anything.
func TestCheckConfig(t *testing.T) {
	gateway := writeFile(t, "gw.toml", `
[gateway]
chain_id = 902
[[sentries.backends]]
name = "s"
url = "http://127.0.0.1:1"
[[filters.endpoints]]
name = "f"
url = "http://127.0.0.1:1"
[interop]
chains = [901, 902]
`)
	reval := writeFile(t, "rv.toml", `
[revalidator]
chain_id = 902
[[filters.endpoints]]
name = "f"
url = "http://127.0.0.1:1"
[node]
url = "http://127.0.0.1:1"
[interop]
chains = [901, 902]
`)
	filter := writeFile(t, "f.toml", `
[[filter.chains]]
chain_id = 901
rpc = "http://127.0.0.1:1"
`)
	for _, c := range [][]string{{"gateway", gateway}, {"revalidator", reval}, {"filter", filter}} {
		out, err := run(t, c[0], "--metrics.enabled=false", "--check-config", "--config", c[1])
		if err != nil || !strings.Contains(out, "config ok") {
			t.Errorf("%s --check-config: %q %v", c[0], out, err)
		}
	}
	// Issue 18: a config with no filter endpoint would reject every interop tx: refused.
	noFilter := writeFile(t, "nf.toml", "[gateway]\nchain_id = 902\n[[sentries.backends]]\nname = \"s\"\nurl = \"http://127.0.0.1:1\"\n[interop]\nchains = [902]\n")
	if _, err := run(t, "gateway", "--metrics.enabled=false", "--check-config", "--config", noFilter); err == nil || !strings.Contains(err.Error(), "filters.endpoints: none configured") {
		t.Errorf("a gateway without filters: %v", err)
	}
	bad := writeFile(t, "bad.toml", "[gateway]\nchain_id = 902\nmin_safety = \"safe\"\n[[sentries.backends]]\nname = \"s\"\nurl = \"http://127.0.0.1:1\"\n[interop]\nchains = [902]\n")
	if _, err := run(t, "gateway", "--metrics.enabled=false", "--check-config", "--config", bad); err == nil || !strings.Contains(err.Error(), "min_safety") {
		t.Fatalf("a bad config passed --check-config: %v", err)
	}
}

// Issue 18: a config with several errors reported them one per run. The sections that need no
// connection are checked together: every error of a gateway's and a revalidator's config is
// named in one --check-config run.
func TestCheckConfigNamesEveryError(t *testing.T) {
	gateway := writeFile(t, "gw.toml", `
[gateway]
chain_id = 902
min_safety = "safe"
max_batch_size = 0
[[sentries.backends]]
name = "s"
url = "ftp://127.0.0.1:1"
[[sentries.backends]]
url = "http://127.0.0.1:2"
[[filters.endpoints]]
name = "f"
url = "not a url"
[interop]
chains = []
`)
	_, err := run(t, "gateway", "--metrics.enabled=false", "--check-config", "--config", gateway)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"gateway: min_safety", "gateway: max_batch_size must be positive", `sentries: backends[0].url "ftp://127.0.0.1:1"`,
		"sentries: backends[1].name is required", "filters.endpoints[0]", "interop: no chain configured"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q not named in:\n%v", want, err)
		}
	}
	// Redis and the dependency set are checked in the same run (a review needed five runs).
	gateway2 := writeFile(t, "gw2.toml", `
[gateway]
chain_id = 902
[[sentries.backends]]
name = "s"
url = "http://127.0.0.1:1"
[[filters.endpoints]]
name = "f"
url = "http://127.0.0.1:2"
[redis]
url = "http://127.0.0.1:6379"
mode = "clusterr"
[interop]
chains = [901]
`)
	_, err = run(t, "gateway", "--metrics.enabled=false", "--check-config", "--config", gateway2)
	for _, want := range []string{`redis mode "clusterr"`, "redis url", "want redis://host:port", "gateway: chain_id 902 is not in the dependency set"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q not named in:\n%v", want, err)
		}
	}
	// Method names and filter endpoints (found by a review: typos, empty names and one filter
	// twice passed).
	gateway3 := writeFile(t, "gw3.toml", `
[gateway]
chain_id = 902
methods = ["eth_cal ", "", "eth_chainId", "eth_chainId"]
[[sentries.backends]]
name = "s"
url = "http://127.0.0.1:1"
[[filters.endpoints]]
name = "f"
url = "http://127.0.0.1:2"
[[filters.endpoints]]
name = "f"
url = "http://127.0.0.1:2"
[interop]
chains = [901, 902]
`)
	_, err = run(t, "gateway", "--metrics.enabled=false", "--check-config", "--config", gateway3)
	for _, want := range []string{`methods: "eth_cal " is not a JSON-RPC method name`, `methods: "" is not`, "methods: eth_chainId is listed twice",
		`filters.endpoints[1]: name "f" is used by endpoints[0] too`, `filters.endpoints[1]: url "http://127.0.0.1:2" is endpoints[0]'s too`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q not named in:\n%v", want, err)
		}
	}
	reval := writeFile(t, "rv.toml", `
[revalidator]
chain_id = 0
execution_client = "erigon"
[[sources]]
chain_id = 901
`)
	_, err = run(t, "revalidator", "--metrics.enabled=false", "--check-config", "--config", reval)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"node.url is required", "revalidator: chain_id is required", `revalidator: execution_client "erigon"`,
		"interop: no chain configured", "filters.endpoints: none configured", "sources[0]: chain_id and url are required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q not named in:\n%v", want, err)
		}
	}
}

// A review found --check-config saying "config ok" for a port of 70000, an address that is none,
// or a negative metrics port: each then failed the start.
func TestCheckConfigNamesBadListenSettings(t *testing.T) {
	cfg := writeFile(t, "gw.toml", minimalGateway+"[rpc]\nport = 70000\n")
	_, err := run(t, "gateway", "--check-config", "--config", cfg, "--rpc.addr", "999.1.1.1", "--metrics.port", "-5")
	for _, want := range []string{"rpc: port 70000: want 0 to 65535", `rpc: addr "999.1.1.1"`, "--metrics: port -5"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q not named in: %v", want, err)
		}
	}
	if out, err := run(t, "gateway", "--check-config", "--config", cfg, "--rpc.port", "8545", "--rpc.addr", "localhost", "--metrics.enabled=false"); err != nil || !strings.Contains(out, "config ok") {
		t.Errorf("good listen settings: %v %s", err, out)
	}
}

// A review found environment overrides hard to trace: an error about a key the environment set
// sent the operator looking in the file, a list of tables set from the environment was "no
// config key", and so was the Redis password under the command's prefix.
func TestEnvironmentErrorsNameTheVariable(t *testing.T) {
	cfg := writeFile(t, "gw.toml", minimalGateway)
	t.Setenv("INTEROPGATE_GATEWAY_FILTERS_MIN_RESPONSES", "3")
	_, err := run(t, "gateway", "--metrics.enabled=false", "--check-config", "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "min_responses") || !strings.Contains(err.Error(), "keys set from the environment: INTEROPGATE_GATEWAY_FILTERS_MIN_RESPONSES (filters.min_responses)") {
		t.Errorf("an override's error: %v", err)
	}
	os.Unsetenv("INTEROPGATE_GATEWAY_FILTERS_MIN_RESPONSES")
	for k, want := range map[string]string{
		"INTEROPGATE_GATEWAY_SENTRIES_BACKENDS": "names sentries.backends, a list of tables ([[sentries.backends]]): those are set in the config file only",
		"INTEROPGATE_GATEWAY_REDIS_PASSWORD":    "the Redis password is INTEROPGATE_REDIS_PASSWORD",
	} {
		t.Setenv(k, "x")
		if _, err := run(t, "gateway", "--metrics.enabled=false", "--check-config", "--config", cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", k, err)
		}
		os.Unsetenv(k)
	}
}

// The light filter's config names every error in one run too (found by a review: one per run).
func TestFilterCheckConfigNamesEveryError(t *testing.T) {
	cfg := writeFile(t, "f.toml", "[filter]\ncross_unsafe_head = \"newest\"\n[[filter.chains]]\nchain_id = 901\nrpc = \"ftp://x\"\n"+
		"[[filter.chains]]\nchain_id = 901\nrpc = \"http://a\"\n[api]\nmax_batch_size = -1\n")
	_, err := run(t, "filter", "--metrics.enabled=false", "--check-config", "--config", cfg)
	for _, want := range []string{`filter: cross_unsafe_head "newest"`, `filter: chains: chain 901 rpc "ftp://x"`, "filter: chains: chain 901 listed twice", "api: max_batch_size must not be negative"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q not named in: %v", want, err)
		}
	}
}

// A review found --check-config dialling a ws:// node (refused when the node was down, hung
// when it accepted and never answered): it makes no connection.
func TestRevalidatorCheckConfigDialsNoNode(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var dialled atomic.Bool
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dialled.Store(true) // and never answers
			defer c.Close()
		}
	}()
	cfg := writeFile(t, "rv.toml", fmt.Sprintf("[revalidator]\nchain_id = 902\n[[filters.endpoints]]\nname = \"f\"\nurl = \"http://127.0.0.1:1\"\n[node]\nurl = \"ws://%s\"\n[interop]\nchains = [901, 902]\n", ln.Addr()))
	out, err := run(t, "revalidator", "--metrics.enabled=false", "--check-config", "--config", cfg)
	if err != nil || !strings.Contains(out, "config ok") || dialled.Load() {
		t.Fatalf("check-config: %v %q; the node was dialled: %v", err, out, dialled.Load())
	}
}

// A review found redis.timeout = "0s" accepted (every operation then counted as slow, and a
// healthy Redis was skipped for good), and a slow_op the timeout cuts short, and URLs in addrs.
func TestRedisSettingsThatCannotWork(t *testing.T) {
	for redis, want := range map[string]string{
		"url = \"redis://127.0.0.1:1\"\ntimeout = \"0s\"\n":                     "redis timeout must be positive",
		"url = \"redis://127.0.0.1:1\"\nslow_op = \"300ms\"\n":                  "redis slow_op (300ms) must be below timeout (250ms)",
		"addrs = [\"redis://a:1\", \"b:2\"]\n":                                  `redis addrs "redis://a:1": want host:port`,
		"mode = \"clustr\"\n":                                                   `redis mode "clustr"`,
		"url = \"redis://a:1\"\naddrs = [\"b:2\"]\n":                            "url and addrs are both set",
		"addrs = [\"a:1\", \"b:2\"]\nmaster_name = \"m\"\nmode = \"cluster\"\n": "master_name is Sentinel's",
	} {
		cfg := writeFile(t, "gw.toml", minimalGateway+"[redis]\n"+redis)
		if _, err := run(t, "gateway", "--metrics.enabled=false", "--check-config", "--config", cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", redis, err, want)
		}
	}
}

// A review found [[sources]] naming the revalidator's own chain, a chain outside the set or no
// URL at all accepted, and an RPC port equal to the metrics port passing the check.
func TestSourcesAndPortsAreChecked(t *testing.T) {
	cfg := writeFile(t, "rv.toml", "[revalidator]\nchain_id = 902\n[rpc]\nport = 7300\n[[filters.endpoints]]\nname = \"f\"\nurl = \"http://127.0.0.1:1\"\n"+
		"[node]\nurl = \"http://127.0.0.1:2\"\n[interop]\nchains = [901, 902]\n"+
		"[[sources]]\nchain_id = 902\nurl = \"http://a:1\"\n[[sources]]\nchain_id = 905\nurl = \"http://a:1\"\n[[sources]]\nchain_id = 901\nurl = \"x\"\n")
	_, err := run(t, "revalidator", "--metrics.port", "7300", "--check-config", "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "rpc: port 7300 is the metrics port too") {
		t.Errorf("the same port twice: %v", err)
	}
	_, err = run(t, "revalidator", "--metrics.port", "7301", "--check-config", "--config", cfg)
	for _, want := range []string{"sources[0]: chain 902 is the revalidator's own chain", "sources[1]: chain 905 is not in the dependency set", `sources[2]: url "x"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q not named in: %v", want, err)
		}
	}
}
