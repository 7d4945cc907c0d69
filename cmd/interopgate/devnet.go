package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/devnet/opreth"
	"github.com/interopgate/interopgate/filterapi"
	"github.com/interopgate/interopgate/ingress"
	"github.com/interopgate/interopgate/internal/config"
	"github.com/interopgate/interopgate/revalidator"
	"github.com/interopgate/interopgate/store"
	"github.com/interopgate/interopgate/supervisorclient/light"
)

// endpointsFile is what --endpoints-file writes, for scripts and the load test.
type endpointsFile struct {
	Chains      []light.ChainRPC  `json:"chains"`
	Filter      string            `json:"filter"`
	Gateways    []gatewayEndpoint `json:"gateways"`
	Revalidator string            `json:"revalidator"`
	// SequencerPool is the last chain's pool: op-reth (the model, asking the revalidator) or geth.
	SequencerPool string `json:"sequencerPool"`
	// Eviction is the revalidator's lever on that pool (clear-txpool, failsafe-pulse, none).
	Eviction      string          `json:"eviction"`
	Control       string          `json:"control"` // the devnet_ namespace
	DependencySet json.RawMessage `json:"dependencySet"`
	// RollupConfigs is each chain's OP Stack rollup config, by chain ID: what
	// op-interop-filter's --rollup-configs reads. RollupConfigFiles are the files
	// --rollup-configs wrote, in chain order.
	RollupConfigs     map[string]devnet.RollupConfig `json:"rollupConfigs"`
	RollupConfigFiles []string                       `json:"rollupConfigFiles,omitempty"`
	Accounts          []endpointAccount              `json:"accounts"`
	SampleMessage     *devnet.Message                `json:"sampleMessage,omitempty"`

	expiryWindow uint64 // for the banner
}

// gatewayEndpoint is the gateway in front of one chain.
type gatewayEndpoint struct {
	ChainID uint64 `json:"chainID"`
	URL     string `json:"url"`
}

type endpointAccount struct {
	Address    common.Address `json:"address"`
	PrivateKey string         `json:"privateKey"`
}

func devnetCommand(st *appState) *cli.Command {
	return &cli.Command{
		Name:  "devnet",
		Usage: "run in-process geth chains with a light filter in front (the one-command demo)",
		Description: "Starts real geth chains in this process (default 901 and 902, a block a second), a light " +
			"filter over them, emits one initiating message, and prints the endpoints with ready-to-paste " +
			"curl commands. Runs until interrupted (Ctrl-C).",
		Flags: []cli.Flag{
			&cli.Uint64SliceFlag{Name: "chains", Value: cli.NewUint64Slice(901, 902), Usage: "chain IDs", EnvVars: []string{"INTEROPGATE_DEVNET_CHAINS"}},
			&cli.DurationFlag{Name: "block-time", Value: time.Second, Usage: "time between blocks, whole seconds: block n of every chain is at genesis + n·block-time (0: only on demand, through devnet_commit)", EnvVars: []string{"INTEROPGATE_DEVNET_BLOCK_TIME"}},
			&cli.IntFlag{Name: "accounts", Value: 4, Usage: "funded accounts with known keys", EnvVars: []string{"INTEROPGATE_DEVNET_ACCOUNTS"}},
			&cli.Uint64Flag{Name: "expiry-window", Usage: "message expiry window in seconds (0: 7 days)", EnvVars: []string{"INTEROPGATE_DEVNET_EXPIRY_WINDOW"}},
			&cli.StringFlag{Name: "rpc.addr", Value: "127.0.0.1", Usage: "listen address of the chains and the filter", EnvVars: []string{"INTEROPGATE_DEVNET_RPC_ADDR"}},
			&cli.IntFlag{Name: "chain.port", Value: 9545, Usage: "RPC port of the first chain, the next ones counting up (0: free ports)", EnvVars: []string{"INTEROPGATE_DEVNET_CHAIN_PORT"}},
			&cli.IntFlag{Name: "filter.port", Value: 8560, Usage: "port of the light filter (0: a free port)", EnvVars: []string{"INTEROPGATE_DEVNET_FILTER_PORT"}},
			&cli.IntFlag{Name: "revalidator.port", Value: 8561, Usage: "port of the revalidator beside the last chain's mempool (0: a free port)", EnvVars: []string{"INTEROPGATE_DEVNET_REVALIDATOR_PORT"}},
			&cli.IntFlag{Name: "gateway.port", Value: 8545, Usage: "port of the first chain's gateway, the next ones counting up (0: free ports)", EnvVars: []string{"INTEROPGATE_DEVNET_GATEWAY_PORT"}},
			&cli.StringFlag{Name: "sequencer-pool", Value: "op-reth", Usage: "the last chain's pool: op-reth (the model of op-reth's interop pool, asking the revalidator) or geth (geth's pool, which asks no one)", EnvVars: []string{"INTEROPGATE_DEVNET_SEQUENCER_POOL"}},
			&cli.StringFlag{Name: "eviction", Value: revalidator.EvictClearTxpool, Usage: "with the op-reth pool: how the revalidator makes it drop a tx found invalid: clear-txpool (admin_clearTxpool, the rest sent back; opens the last chain's admin namespace, so only on a loopback --rpc.addr) or failsafe-pulse", EnvVars: []string{"INTEROPGATE_DEVNET_EVICTION"}},
			&cli.IntFlag{Name: "control.port", Value: 8562, Usage: "port of the devnet_ control namespace: devnet_emit, devnet_commit, devnet_commitAlone, devnet_reorg, devnet_heads (0: a free port)", EnvVars: []string{"INTEROPGATE_DEVNET_CONTROL_PORT"}},
			&cli.StringFlag{Name: "rollup-configs", Usage: "write each chain's OP Stack rollup config to DIR/rollup-<chain ID>.json (for op-interop-filter --rollup-configs)", EnvVars: []string{"INTEROPGATE_DEVNET_ROLLUP_CONFIGS"}},
			&cli.StringFlag{Name: "endpoints-file", Usage: "write the endpoints, accounts and a sample message as JSON to this file", EnvVars: []string{"INTEROPGATE_DEVNET_ENDPOINTS_FILE"}},
		},
		Action: func(c *cli.Context) error { return runDevnet(c, st) },
	}
}

func runDevnet(c *cli.Context, st *appState) error {
	ctx, cancel := signalContext(c.Context)
	defer cancel()
	log := st.log
	ids := c.Uint64Slice("chains")
	if len(ids) == 0 {
		ids = []uint64{901, 902}
	}
	revalidatorLn, err := reserveAddr(c.String("rpc.addr"), c.Int("revalidator.port"))
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	defer revalidatorLn.Close() // served by the revalidator, which closes it first
	policies, model, err := sequencerPool(c.String("sequencer-pool"), ids[len(ids)-1], "http://"+revalidatorLn.Addr().String(), log)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	eviction := revalidator.EvictNone // geth's pool asks no one: no lever to pull
	var admin []uint64
	if model != nil {
		switch eviction = c.String("eviction"); eviction {
		case revalidator.EvictClearTxpool:
			if ip := net.ParseIP(c.String("rpc.addr")); ip == nil || !ip.IsLoopback() {
				return cli.Exit(fmt.Sprintf("--eviction clear-txpool opens chain %d's admin namespace: use it on a loopback --rpc.addr, or --eviction failsafe-pulse", ids[len(ids)-1]), 2)
			}
			admin = ids[len(ids)-1:]
		case revalidator.EvictFailsafePulse:
		default:
			return cli.Exit(fmt.Sprintf("--eviction %q: want clear-txpool or failsafe-pulse", eviction), 2)
		}
	}
	if model != nil {
		defer model.Close()
	}
	dn, err := devnet.Start(devnet.Config{
		ChainIDs: ids, BlockTime: c.Duration("block-time"), Accounts: c.Int("accounts"),
		HTTPHost: c.String("rpc.addr"), ExpiryWindow: c.Uint64("expiry-window"), BasePort: c.Int("chain.port"),
		PoolPolicies: policies, AdminAPI: admin,
	}, log)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	defer dn.Close()

	reg := newRegistry()
	var chains []light.ChainRPC
	for _, ch := range dn.Chains {
		chains = append(chains, light.ChainRPC{ChainID: ch.ID(), RPC: ch.RPCURL()})
	}
	// Every devnet block is safe at once, so cross-unsafe is checked against latest.
	checker, err := light.New(light.Config{Chains: chains, Dependencies: dn.DependencySet(), CrossUnsafeHead: light.HeadLatest},
		light.WithMetrics(light.NewMetrics(reg)))
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	defer checker.Close()
	checker.StartWatch(ctx, time.Second, 30*time.Second)
	api, err := filterapi.New(coalesce(checker, 8, 256), filterapi.Config{AllowSetFailsafe: true},
		filterapi.WithLogger(log), filterapi.WithMetrics(filterapi.NewMetrics(reg)), filterapi.WithReadiness(checker.Ready),
		filterapi.WithFailsafeSource(checker.Failsafe), filterapi.WithBlockHashes(checker.BlockHash))
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	if err := api.Start(net.JoinHostPort(c.String("rpc.addr"), strconv.Itoa(c.Int("filter.port")))); err != nil {
		return cli.Exit(err.Error(), 2)
	}
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = api.Shutdown(sctx)
	}()
	gateways, feeds, stopGateways, err := startDevnetGateways(ctx, c, dn, api.URL(), reg, log)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	defer stopGateways()
	last := dn.Chains[len(dn.Chains)-1]
	lastStores := feeds[last.ID()]
	reval, err := startDevnetRevalidator(ctx, dn, last, revalidatorLn, api.URL(), &lastStores,
		c.Duration("block-time"), eviction, log)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	defer reval.stop()
	if model != nil {
		defer model.Close() // before the revalidator's server stops: its failsafe poll holds a connection
	}
	if !c.IsSet(flagMetricsAddr) {
		// Everything the devnet serves is on loopback; so are its metrics unless asked
		// otherwise (issue 18: they listened on every interface).
		if err := c.Set(flagMetricsAddr, "127.0.0.1"); err != nil {
			return err
		}
	}
	stopMetrics, err := startMetrics(c, reg, log, metricsPath{"/metrics/revalidator", reval.reg})
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	defer stopMetrics()

	ectx, ecancel := context.WithTimeout(ctx, 30*time.Second)
	sample, err := dn.Chains[0].Emit(ectx, dn.Accounts[0], common.HexToHash("0x1d"), []byte("hello from interopgate devnet"))
	ecancel()
	if err != nil {
		return cli.Exit(fmt.Sprintf("emitting the sample message: %v", err), 1)
	}
	control, err := dn.ServeControl(net.JoinHostPort(c.String("rpc.addr"), strconv.Itoa(c.Int("control.port"))))
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	defer control.Close()
	deps, _ := dn.DependencySet().MarshalJSON()
	msg := devnet.MessageOf(sample)
	ep := endpointsFile{Chains: chains, Filter: api.URL(), Gateways: gateways, Revalidator: reval.url, Control: control.URL(), SequencerPool: c.String("sequencer-pool"), Eviction: eviction,
		DependencySet: deps, RollupConfigs: map[string]devnet.RollupConfig{}, SampleMessage: &msg, expiryWindow: dn.DependencySet().ExpiryWindow()}
	for _, ch := range dn.Chains {
		ep.RollupConfigs[strconv.FormatUint(ch.ID(), 10)] = ch.RollupConfig()
	}
	if dir := c.String("rollup-configs"); dir != "" {
		if ep.RollupConfigFiles, err = writeRollupConfigs(dir, dn); err != nil {
			return cli.Exit(fmt.Sprintf("--rollup-configs: %v", err), 2)
		}
	}
	for _, a := range dn.Accounts {
		ep.Accounts = append(ep.Accounts, endpointAccount{Address: a.Address, PrivateKey: a.KeyHex()})
	}
	if path := c.String("endpoints-file"); path != "" {
		data, _ := json.MarshalIndent(ep, "", "  ")
		if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
			return cli.Exit(fmt.Sprintf("--endpoints-file: %v", err), 2)
		}
		log.Info("endpoints written", zap.String("file", path))
	}
	txs, err := sampleTxs(ctx, dn, sample)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	txs.gateway = gateways[len(gateways)-1].URL
	// op-reth's pool asks as of its head's timestamp: the sample is executable once chain 902 has
	// a block after the message's, so the banner comes then, and its commands work as printed.
	if c.Duration("block-time") > 0 {
		for deadline := time.Now().Add(10 * time.Second); last.Head().Time <= sample.ID.Timestamp && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond) // polling the head against a deadline
		}
	}
	printBanner(st.stdout, &ep, txs)
	<-ctx.Done()
	log.Info("shutting down the devnet")
	return nil
}

// writeRollupConfigs writes each chain's rollup config to dir/rollup-<chain ID>.json.
func writeRollupConfigs(dir string, dn *devnet.Devnet) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, ch := range dn.Chains {
		data, err := json.MarshalIndent(ch.RollupConfig(), "", "  ")
		if err != nil {
			return nil, err
		}
		f := filepath.Join(dir, fmt.Sprintf("rollup-%d.json", ch.ID()))
		if err := os.WriteFile(f, append(data, '\n'), 0o644); err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// printBanner tells a newcomer what runs where and how to try it.
func printBanner(w io.Writer, ep *endpointsFile, txs *sampleTxPair) {
	execChain := ep.Chains[len(ep.Chains)-1].ChainID
	m := ep.SampleMessage
	check := func(keys []common.Hash) string {
		quoted := make([]string, len(keys))
		for i, k := range keys {
			quoted[i] = `"` + k.Hex() + `"`
		}
		return fmt.Sprintf(`curl -s %s -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"interop_checkAccessList","params":[[%s],"cross-unsafe",{"chainID":"%d","timestamp":"0x%x","timeout":"0x0"}]}'`,
			ep.Filter, strings.Join(quoted, ","), execChain, m.Timestamp+2)
	}
	bad := append([]common.Hash(nil), m.InboxKeys...)
	bad[len(bad)-1][31] ^= 0x01
	fmt.Fprintf(w, "\ninteropgate devnet is running. Press Ctrl-C to stop.\n\n")
	for _, ch := range ep.Chains {
		fmt.Fprintf(w, "  chain %-8d %s\n", ch.ChainID, ch.RPC)
	}
	fmt.Fprintf(w, "  light filter   %s  (/healthz, /readyz)\n", ep.Filter)
	for _, g := range ep.Gateways {
		fmt.Fprintf(w, "  gateway %-6d %s  (in front of chain %d)\n", g.ChainID, g.URL, g.ChainID)
	}
	fmt.Fprintf(w, "  revalidator    %s  (beside chain %d's mempool: point op-geth --rollup.interoprpc or op-reth --rollup.interop-http at it)\n", ep.Revalidator, execChain)
	fmt.Fprintf(w, "  control        %s  (devnet_emit, devnet_commit, devnet_commitAlone, devnet_reorg, devnet_heads)\n", ep.Control)
	fmt.Fprintf(w, "  account 0      %s  key %s\n\n", ep.Accounts[0].Address.Hex(), ep.Accounts[0].PrivateKey)
	fmt.Fprintf(w, "A message was emitted on chain %d: block %d, log %d, timestamp %d.\n\n", m.ChainID, m.BlockNumber, m.LogIndex, m.Timestamp)
	fmt.Fprintf(w, "Check it as executed on chain %d (answers \"result\":null):\n\n  %s\n\n", execChain, check(m.InboxKeys))
	fmt.Fprintf(w, "The same with one checksum bit flipped (answers error -320600, conflict):\n\n  %s\n\n", check(bad))
	send := func(raw string) string {
		return fmt.Sprintf(`curl -s %s -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["%s"]}'`, txs.gateway, raw)
	}
	fmt.Fprintf(w, "Send a signed transaction executing that message through the chain %d gateway (answers its hash; it is mined):\n\n  %s\n\n", execChain, send(txs.valid))
	fmt.Fprintf(w, "And one whose access list has the flipped checksum (answers -320600 with HTTP 409; the sentry never sees it):\n\n  %s\n\n", send(txs.invalid))
	if ep.SequencerPool == "op-reth" {
		node := ep.Chains[len(ep.Chains)-1].RPC
		fmt.Fprintf(w, "Chain %d's pool is a model of op-reth's (docs/devnet.md), asking the revalidator: the same invalid tx sent straight to its node, around the gateway, is refused:\n\n  %s\n\n",
			execChain, strings.Replace(send(txs.invalid), txs.gateway, node, 1))
		lever := "a failsafe pulse (its gate on until it evicted the tx)"
		if ep.Eviction == revalidator.EvictClearTxpool {
			lever = "admin_clearTxpool, every other tx sent back (its admin namespace is open on " + node + ", as op-reth's --http.api admin would open it: keep such a port private)"
		}
		fmt.Fprintf(w, "A tx there that a source reorg makes invalid is evicted by the revalidator with %s.\n\n", lever)
	}
	fmt.Fprintf(w, "Invalid txs the revalidator found in chain %d's pool (a builder's list of what to leave out):\n\n  curl -s %s -H 'content-type: application/json' -d '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"interopgate_invalidTransactions\",\"params\":[]}'\n\n", execChain, ep.Revalidator)
	fmt.Fprintf(w, "Emit a new message on chain %d (answers where it is and its inbox keys), or reorg away its last block:\n\n", m.ChainID)
	fmt.Fprintf(w, "  curl -s %s -H 'content-type: application/json' -d '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"devnet_emit\",\"params\":[%d,\"0x68656c6c6f\"]}'\n", ep.Control, m.ChainID)
	fmt.Fprintf(w, "  curl -s %s -H 'content-type: application/json' -d '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"devnet_reorg\",\"params\":[%d,1]}'\n\n", ep.Control, m.ChainID)
	if len(ep.RollupConfigFiles) > 0 {
		var flags []string
		for i, ch := range ep.Chains {
			flags = append(flags, "--l2-rpcs "+ch.RPC, "--rollup-configs "+ep.RollupConfigFiles[i])
		}
		fmt.Fprintf(w, "Run the reference op-interop-filter against this devnet (its rollup configs are written; see docs/devnet.md):\n\n  op-interop-filter %s --message-expiry-window %ds --backfill-duration 1h --poll-interval 250ms --validation-interval 250ms --rpc.port 8570 --data-dir /tmp/op-interop-filter\n\n",
			strings.Join(flags, " "), ep.expiryWindow)
	}
}

// sampleTxPair is a signed valid and a signed invalid executing tx for the banner.
type sampleTxPair struct {
	gateway        string
	valid, invalid string
}

// sampleTxs signs, on the last chain, a tx executing the sample message as an application does
// (a call to the inbox's validateMessage, which emits ExecutingMessage; account 1) and one that
// names it with a flipped checksum (account 2).
func sampleTxs(ctx context.Context, dn *devnet.Devnet, sample devnet.Emitted) (*sampleTxPair, error) {
	chain := dn.Chains[len(dn.Chains)-1]
	keys := sample.Keys()
	bad := append([]common.Hash(nil), keys...)
	bad[len(bad)-1][31] ^= 0x01
	valid, err := chain.ValidateMessageTx(ctx, dn.Accounts[1], 0, sample.ID, sample.PayloadHash)
	if err != nil {
		return nil, err
	}
	invalid, err := chain.ExecutingTx(ctx, dn.Accounts[2], 0, bad)
	if err != nil {
		return nil, err
	}
	v, _ := valid.MarshalBinary()
	i, _ := invalid.MarshalBinary()
	return &sampleTxPair{valid: hexutil.Encode(v), invalid: hexutil.Encode(i)}, nil
}

// startDevnetGateways starts one gateway per chain, each in front of its chain's node and
// checking against the devnet's light filter. Their metrics carry a chain label.
func startDevnetGateways(ctx context.Context, c *cli.Context, dn *devnet.Devnet, filterURL string, reg prometheus.Registerer, log *zap.Logger) ([]gatewayEndpoint, map[uint64]store.Stores, func(), error) {
	var out []gatewayEndpoint
	feeds := map[uint64]store.Stores{}
	var stops []func()
	stopAll := func() {
		for _, s := range stops {
			s()
		}
	}
	var ids []uint64
	for _, ch := range dn.Chains {
		ids = append(ids, ch.ID())
	}
	for i, ch := range dn.Chains {
		cfg := defaultGatewayConfig()
		cfg.RPC.Addr = c.String("rpc.addr")
		if base := c.Int("gateway.port"); base != 0 {
			cfg.RPC.Port = base + i
		} else {
			cfg.RPC.Port = 0
		}
		cfg.Gateway.ChainID = ch.ID()
		cfg.Sentries.Backends = []ingress.BackendConfig{{Name: fmt.Sprintf("chain%d", ch.ID()), URL: ch.RPCURL(), WSURL: ch.WSURL()}}
		cfg.Filters.Endpoints = []filterEndpoint{{Name: "light", URL: filterURL}}
		cfg.Interop.Chains = ids
		cfg.Interop.ExpiryWindow = dn.DependencySet().ExpiryWindow()
		// A short --expiry-window to try expiry: messages need only outlive a short timeout.
		cfg.Gateway.MessageTimeout = min(cfg.Gateway.MessageTimeout, cfg.Interop.ExpiryWindow/4)
		glog := log.With(zap.Uint64("gateway", ch.ID()))
		parts, err := buildGateway(cfg, glog, prometheus.WrapRegistererWith(prometheus.Labels{"chain": fmt.Sprint(ch.ID())}, reg))
		if err != nil {
			stopAll()
			return nil, nil, nil, err
		}
		wctx, cancel := context.WithCancel(ctx)
		go parts.watcher.Run(wctx)
		if err := parts.gw.Start(net.JoinHostPort(cfg.RPC.Addr, strconv.Itoa(cfg.RPC.Port))); err != nil {
			cancel()
			parts.stores.Close()
			stopAll()
			return nil, nil, nil, err
		}
		stops = append(stops, func() {
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			_ = parts.gw.Shutdown(sctx)
			cancel()
			parts.stores.Close()
		})
		out = append(out, gatewayEndpoint{ChainID: ch.ID(), URL: parts.gw.URL()})
		feeds[ch.ID()] = parts.stores
	}
	return out, feeds, stopAll, nil
}

// devnetRevalidator is the running revalidator of the devnet.
type devnetRevalidator struct {
	url  string
	r    *revalidator.Revalidator
	reg  *prometheus.Registry // served at /metrics/revalidator on the devnet's metrics port
	stop func()
}

// startDevnetRevalidator starts a revalidator on addr beside chain's node, reading its gateway's
// feed, asking the devnet's light filter and watching the other chains' heads. blockTime 0 keeps
// the default; eviction is the lever on the chain's pool (none: geth's pool, which asks no one).
func startDevnetRevalidator(ctx context.Context, dn *devnet.Devnet, chain *devnet.Chain, ln net.Listener, filterURL string, gw *store.Stores,
	blockTime time.Duration, eviction string, log *zap.Logger) (*devnetRevalidator, error) {
	cfg := defaultRevalidatorConfig()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	cfg.RPC.Addr = host
	cfg.RPC.Port, _ = strconv.Atoi(port)
	cfg.Revalidator.Eviction = eviction
	if eviction == revalidator.EvictNone {
		cfg.Revalidator.ExecutionClient = revalidator.ClientOpGeth
	}
	cfg.Revalidator.ChainID = chain.ID()
	if blockTime > 0 {
		cfg.Revalidator.BlockTime = config.Duration(blockTime)
	}
	cfg.Node.URL = chain.RPCURL()
	cfg.Filters.Endpoints = []filterEndpoint{{Name: "light", URL: filterURL}}
	for _, ch := range dn.Chains {
		cfg.Interop.Chains = append(cfg.Interop.Chains, ch.ID())
		if ch != chain {
			cfg.Sources = append(cfg.Sources, sourceConfig{ChainID: ch.ID(), URL: ch.RPCURL()})
		}
	}
	cfg.Interop.ExpiryWindow = dn.DependencySet().ExpiryWindow()
	// Its own registry: its filter-API and filter-client metrics would collide with the devnet
	// filter's and the gateways' on the shared one.
	reg := prometheus.NewRegistry()
	parts, err := buildRevalidator(ctx, cfg, log.With(zap.String("component", "revalidator")), reg, gw)
	if err != nil {
		return nil, fmt.Errorf("revalidator: %w", err)
	}
	parts.srv.Serve(ln)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go parts.watcher.Run(rctx)
	go func() {
		defer close(done)
		parts.r.Run(rctx)
	}()
	return &devnetRevalidator{url: parts.srv.URL(), r: parts.r, reg: reg, stop: func() {
		cancel()
		<-done
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = parts.srv.Shutdown(sctx)
		parts.close()
	}}, nil
}

// reserveAddr opens the revalidator's listener on host:port (port 0: a free one) now, before the
// revalidator exists: the op-reth model must know its URL first, and a port picked and closed
// could be taken by another listener meanwhile. startDevnetRevalidator serves on it.
func reserveAddr(host string, port int) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("the revalidator's port: %w", err)
	}
	return ln, nil
}

// sequencerPool is the last chain's pool: the op-reth model asking the revalidator, or geth's.
func sequencerPool(kind string, chainID uint64, revalidatorURL string, log *zap.Logger) (map[uint64]func(*devnet.Chain) (devnet.PoolPolicy, error), *opreth.Pool, error) {
	switch kind {
	case "geth":
		return nil, nil, nil
	case "op-reth":
		cfg := opreth.DefaultConfig()
		cfg.Endpoints = []string{revalidatorURL}
		build, model, err := opreth.New(cfg, log.With(zap.String("component", "op-reth-pool")))
		if err != nil {
			return nil, nil, err
		}
		return map[uint64]func(*devnet.Chain) (devnet.PoolPolicy, error){chainID: build}, model, nil
	}
	return nil, nil, fmt.Errorf("--sequencer-pool %q: want op-reth or geth", kind)
}
