package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/devnet/opreth"
	"github.com/interopgate/interopgate/filterapi"
	"github.com/interopgate/interopgate/ingress"
	"github.com/interopgate/interopgate/loadtest"
	"github.com/interopgate/interopgate/revalidator"
	"github.com/interopgate/interopgate/supervisorclient/light"
)

func loadtestCommand(st *appState) *cli.Command {
	return &cli.Command{
		Name:  "loadtest",
		Usage: "attack a JSON-RPC endpoint (this gateway, proxyd, a node) with the traffic the gateway exists to survive",
		Description: "Open-loop load at a target rate, latency from each request's intended send time, every answer " +
			"classified against what its scenario expects. Exits 1 when any outcome is wrong (above all an invalid " +
			"tx accepted). Scenarios: " + strings.Join(loadtest.Scenarios().Names(), ", ") + "; join names with + to mix them.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target", Usage: "JSON-RPC URL to attack (explicitly given; see --devnet)"},
			&cli.BoolFlag{Name: "devnet", Usage: "start the devnet (chains 901 and 902, light filter, a gateway for 902) in-process and attack its gateway"},
			&cli.StringFlag{Name: "scenario", Value: "mix", Usage: "scenario name, or names joined with +"},
			&cli.Float64Flag{Name: "rate", Value: 100, Usage: "requests per second (open loop)"},
			&cli.Float64SliceFlag{Name: "ramp", Usage: "ramp the rate in equal steps of --duration instead, e.g. --ramp 100 --ramp 200 --ramp 400"},
			&cli.DurationFlag{Name: "duration", Value: 10 * time.Second, Usage: "how long to send"},
			&cli.IntFlag{Name: "requests", Usage: "stop after this many requests (0: only --duration bounds the run)"},
			&cli.IntFlag{Name: "max-in-flight", Value: 512, Usage: "outstanding requests; one due beyond it is counted as missed"},
			&cli.IntFlag{Name: "txs", Value: 2000, Usage: "distinct transactions a scenario prepares (beyond, it cycles)"},
			&cli.Uint64Flag{Name: "chain-id", Value: 902, Usage: "the chain the target serves"},
			&cli.IntFlag{Name: "max-batch", Value: 100, Usage: "the target's batch limit (the batch bomb sends one more)"},
			&cli.IntFlag{Name: "max-inbox-entries", Value: 256, Usage: "the target's access-list limit"},
			&cli.StringFlag{Name: "json", Usage: "also write the report as JSON to this file"},
			&cli.StringFlag{Name: "plot", Usage: "also draw the latency over time and its distribution to this PNG file"},
			&cli.StringFlag{Name: "compare", Usage: "a second target (URL, or \"node\": with --devnet, chain 902's node itself): the same scenario against both in alternating rounds, with ratios"},
			&cli.IntFlag{Name: "rounds", Value: 4, Usage: "with --compare: rounds per target"},
			&cli.StringFlag{Name: "metrics", Usage: "the target's Prometheus metrics URL: the report adds filter checks and requests per interop tx and sentry requests per request (with --devnet: its gateway's, by default)"},
			&cli.BoolFlag{Name: "ws", Usage: "with --devnet: send over the gateway's WebSocket instead of HTTP (with --target, give a ws:// URL)"},
			&cli.StringFlag{Name: "eviction", Value: revalidator.EvictClearTxpool, Usage: "with --source-reorgs: how the revalidator makes the op-reth pool drop a tx found invalid: clear-txpool or failsafe-pulse"},
			&cli.IntFlag{Name: "source-reorgs", Usage: "with --devnet: this many times during the run, emit a message on chain 901, send a tx executing it through the gateway, and reorg the message's block away; chain 902's pool is then the op-reth model asking a revalidator, and the report says how many such txs were mined (must be 0) and how soon they left the pool"},
		},
		Action: func(c *cli.Context) error { return runLoadtest(c, st) },
	}
}

func runLoadtest(c *cli.Context, st *appState) error {
	ctx, cancel := signalContext(c.Context)
	defer cancel()
	env := &loadtest.Env{ChainID: c.Uint64("chain-id"), SourceChain: 901, Txs: c.Int("txs"),
		MaxBatch: c.Int("max-batch"), MaxInboxEntries: c.Int("max-inbox-entries")}
	if c.String("compare") != "" {
		for _, f := range []string{"json", "plot", "source-reorgs"} {
			if c.IsSet(f) {
				// Refused, not ignored (found by a review: no file and no word).
				return cli.Exit(fmt.Sprintf("--%s is not available with --compare (it reports one target's run)", f), 2)
			}
		}
	}
	target := c.String("target")
	var reorgs *loadtestDevnet
	switch {
	case c.Bool("devnet") && target != "":
		return cli.Exit("give --target or --devnet, not both", 2)
	case c.Bool("devnet"):
		var reth *opreth.Config
		if c.Int("source-reorgs") > 0 {
			cfg := opreth.DefaultConfig() // op-reth's own timing: its failsafe poll is 1 s
			reth = &cfg
			if e := c.String("eviction"); e != revalidator.EvictClearTxpool && e != revalidator.EvictFailsafePulse {
				return cli.Exit(fmt.Sprintf("--eviction %q: want clear-txpool or failsafe-pulse", e), 2)
			}
		}
		d, stop, err := startLoadtestDevnet(ctx, st.log, reth, c.String("eviction"))
		if err != nil {
			return cli.Exit(err.Error(), 2)
		}
		defer stop()
		target, env.Devnet, env.ChainID, env.ScenarioAccounts = d.url, d.net, 902, scenarioAccounts
		if c.Bool("ws") {
			target = "ws://" + strings.TrimPrefix(d.url, "http://") // the gateway's WebSocket, same port
		}
		reorgs = d
		if !c.IsSet("metrics") {
			_ = c.Set("metrics", d.metrics)
		}
		if c.String("compare") == "node" {
			_ = c.Set("compare", d.net.Chain(902).RPCURL())
		}
	case c.Int("source-reorgs") > 0:
		return cli.Exit("--source-reorgs needs --devnet", 2)
	case target == "":
		return cli.Exit("give --target URL or --devnet", 2)
	default:
		if u, err := url.Parse(target); err != nil || !loadtestScheme(u.Scheme) || u.Host == "" {
			return cli.Exit(fmt.Sprintf("--target %q: want an http://, https://, ws:// or wss:// URL", target), 2)
		}
	}
	fmt.Fprintf(st.stderr, "preparing scenario %s (signing its txs; with --devnet, emitting their initiating messages and waiting for their blocks) …\n", c.String("scenario"))
	stopPreparing := everyFewSeconds(st.stderr, "  still preparing")
	// With --compare the scenario is built once per target from disjoint accounts: a signed tx
	// sent to one must not reach the other (issue 18: the second read "nonce too low").
	sides := 1
	if c.String("compare") != "" {
		sides = 2
	}
	var built []loadtest.Scenario
	for side := range sides {
		e := *env
		e.Side, e.Sides = side, sides
		s, err := loadtest.Build(ctx, &e, c.String("scenario"))
		if err != nil {
			stopPreparing()
			return cli.Exit(err.Error(), 2)
		}
		built = append(built, s)
	}
	stopPreparing()
	s := built[0]
	opt := loadtest.Options{Rate: c.Float64("rate"), Steps: c.Float64Slice("ramp"), Duration: c.Duration("duration"),
		Requests: c.Int("requests"), MaxInFlight: c.Int("max-in-flight"), Progress: st.stderr, ProgressLines: !isTerminal(st.stderr)}
	if other := c.String("compare"); other != "" {
		if u, err := url.Parse(other); err != nil || !loadtestScheme(u.Scheme) || u.Host == "" {
			return cli.Exit(fmt.Sprintf("--compare %q: want an http://, https://, ws:// or wss:// URL (or \"node\" with --devnet)", other), 2)
		}
		cmp, err := loadtest.Compare(ctx, target, other, built[0], built[1], opt, c.Int("rounds"))
		if err != nil {
			return cli.Exit(err.Error(), 2)
		}
		cmp.Print(st.stdout)
		if cmp.Failed() {
			return cli.Exit("the comparison failed: the target's wrong outcomes, or a side that never answered (see above)", 1)
		}
		return nil
	}
	var driver *sourceReorgs
	runOnce := func() (*loadtest.Report, error) {
		if n := c.Int("source-reorgs"); n > 0 && reorgs != nil {
			driver = startSourceReorgs(ctx, reorgs, target, n, opt.Duration)
		}
		return loadtest.Run(ctx, target, s, opt)
	}
	var report *loadtest.Report
	var err error
	if m := c.String("metrics"); m != "" {
		report, err = loadtest.WithCost(ctx, m, runOnce)
	} else {
		report, err = runOnce()
	}
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	report.Print(st.stdout)
	var reorged reorgResult
	if driver != nil {
		reorged = driver.wait()
		reorged.print(st.stdout)
	}
	if path := c.String("json"); path != "" {
		if err := report.WriteJSON(path); err != nil {
			return cli.Exit(fmt.Sprintf("--json: %v", err), 2)
		}
	}
	if path := c.String("plot"); path != "" {
		if err := report.Plot(path); err != nil {
			return cli.Exit(fmt.Sprintf("--plot: %v", err), 2)
		}
	}
	if report.Failed() {
		return cli.Exit(fmt.Sprintf("%d wrong outcomes", report.Total.Wrong), 1)
	}
	if reorged.mined > 0 {
		return cli.Exit(fmt.Sprintf("%d txs executing reorged-away messages were mined", reorged.mined), 1)
	}
	return nil
}

// everyFewSeconds prints what, with the time since it began, every 5 s until stopped: a long
// preparation is not silent (issue 18: ~33 s without a word).
func everyFewSeconds(w io.Writer, what string) (stop func()) {
	start := time.Now()
	return loadtest.Every(5*time.Second, func() { fmt.Fprintf(w, "%s: %s\n", what, time.Since(start).Round(time.Second)) })
}

// isTerminal reports whether w is a terminal (a character device), where progress may be
// rewritten in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// loadtestDevnet is the embedded target: the devnet, its light filter and a gateway for 902.
type loadtestDevnet struct {
	net     *devnet.Devnet
	url     string
	metrics string // the gateway's (and its filter clients') metrics
	// reval is the revalidator beside chain 902's pool (the op-reth model), with --source-reorgs.
	reval    *revalidator.Revalidator
	eviction string // its lever
}

// scenarioAccounts of the loadtest devnet's are the scenarios'; the rest the reorg driver's.
const scenarioAccounts = 320

// startLoadtestDevnet starts the embedded target; with reth, chain 902's pool is the op-reth model
// so configured (its endpoints set here), asking a revalidator that evicts with eviction.
func startLoadtestDevnet(ctx context.Context, log *zap.Logger, reth *opreth.Config, eviction string) (*loadtestDevnet, func(), error) {
	withReth := reth != nil
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	netCfg := devnet.Config{BlockTime: time.Second, Accounts: scenarioAccounts + reorgAccounts}
	var revalidatorLn net.Listener
	var model *opreth.Pool
	if withReth {
		var err error
		if revalidatorLn, err = reserveAddr("127.0.0.1", 0); err != nil {
			return nil, nil, err
		}
		mcfg := *reth
		stops = append(stops, func() { revalidatorLn.Close() })
		mcfg.Endpoints = []string{"http://" + revalidatorLn.Addr().String()}
		build, m, err := opreth.New(mcfg, log.Named("op-reth-pool"))
		if err != nil {
			return nil, nil, err
		}
		model = m
		netCfg.PoolPolicies = map[uint64]func(*devnet.Chain) (devnet.PoolPolicy, error){902: build}
		if eviction == revalidator.EvictClearTxpool {
			netCfg.AdminAPI = []uint64{902} // on 127.0.0.1
		}
	}
	dn, err := devnet.Start(netCfg, log)
	if err != nil {
		return nil, nil, err
	}
	stops = append(stops, func() { dn.Close() })
	var chains []light.ChainRPC
	for _, ch := range dn.Chains {
		chains = append(chains, light.ChainRPC{ChainID: ch.ID(), RPC: ch.RPCURL()})
	}
	checker, err := light.New(light.Config{Chains: chains, Dependencies: dn.DependencySet(), CrossUnsafeHead: light.HeadLatest})
	if err != nil {
		stop()
		return nil, nil, err
	}
	stops = append(stops, checker.Close)
	api, err := filterapi.New(coalesce(checker, 8, 256), filterapi.Config{})
	if err != nil {
		stop()
		return nil, nil, err
	}
	if err := api.Start("127.0.0.1:0"); err != nil {
		stop()
		return nil, nil, err
	}
	stops = append(stops, func() { _ = api.Shutdown(context.Background()) })
	cfg := defaultGatewayConfig()
	cfg.Gateway.ChainID = 902
	cfg.Sentries.Backends = []ingress.BackendConfig{{Name: "chain902", URL: dn.Chain(902).RPCURL(), WSURL: dn.Chain(902).WSURL()}}
	cfg.Filters.Endpoints = []filterEndpoint{{Name: "light", URL: api.URL()}}
	cfg.Interop.Chains = []uint64{901, 902}
	reg := prometheus.NewRegistry()
	parts, err := buildGateway(cfg, log, reg)
	if err != nil {
		stop()
		return nil, nil, err
	}
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		stop()
		return nil, nil, err
	}
	msrv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go msrv.Serve(mln) //nolint:errcheck // returns on Close
	stops = append(stops, func() { msrv.Close() })
	wctx, wcancel := context.WithCancel(ctx)
	go parts.watcher.Run(wctx)
	if err := parts.gw.Start(net.JoinHostPort("127.0.0.1", "0")); err != nil {
		wcancel()
		stop()
		return nil, nil, err
	}
	stops = append(stops, func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = parts.gw.Shutdown(sctx)
		wcancel()
		_ = parts.stores.Close()
	})
	d := &loadtestDevnet{net: dn, url: parts.gw.URL(), metrics: "http://" + mln.Addr().String() + "/metrics"}
	if withReth {
		rv, err := startDevnetRevalidator(ctx, dn, dn.Chain(902), revalidatorLn, api.URL(), &parts.stores, time.Second, eviction, log)
		if err != nil {
			stop()
			return nil, nil, err
		}
		stops = append(stops, func() {
			model.Close() // before the revalidator's server stops: its failsafe poll holds a connection
			rv.stop()
		})
		d.reval, d.eviction = rv.r, eviction
	}
	return d, stop, nil
}

// loadtestScheme is a target's scheme the load test speaks: HTTP or WebSocket.
func loadtestScheme(s string) bool { return s == "http" || s == "https" || s == "ws" || s == "wss" }
