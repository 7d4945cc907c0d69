package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/interopgate/interopgate/devnet/opreth"
	"github.com/interopgate/interopgate/internal/rpctest"
	"github.com/interopgate/interopgate/loadtest"
	"github.com/interopgate/interopgate/revalidator"
)

// loadtestRig starts the load test's devnet (chains, light filter, gateway) for one test, and
// the environment its scenarios are built for (40 txs each).
func loadtestRig(t *testing.T) (context.Context, *loadtestDevnet, *loadtest.Env) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the devnet")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	d, stop, err := startLoadtestDevnet(ctx, zaptest.NewLogger(t), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return ctx, d, &loadtest.Env{ChainID: 902, SourceChain: 901, Devnet: d.net, Txs: 40, MaxBatch: 100, MaxInboxEntries: 256}
}

// Every scenario, briefly, against the devnet's gateway: each gets exactly what it expects.
func TestLoadtestScenariosAgainstTheDevnet(t *testing.T) {
	ctx, d, env := loadtestRig(t)
	for _, name := range loadtest.Scenarios().Names() {
		t.Run(name, func(t *testing.T) {
			s, err := loadtest.Build(ctx, env, name)
			if err != nil {
				t.Fatal(err)
			}
			r, err := loadtest.Run(ctx, d.url, s, loadtest.Options{Rate: 200, Requests: 40})
			if err != nil {
				t.Fatal(err)
			}
			if r.Total.Sent != 40 || r.Failed() {
				var b strings.Builder
				r.Print(&b)
				t.Fatalf("%d sent, %d wrong:\n%s", r.Total.Sent, r.Total.Wrong, b.String())
			}
		})
	}
}

// Issue 16: the same mix over the gateway's WebSocket: every outcome as over HTTP.
func TestLoadtestMixOverWebSocket(t *testing.T) {
	ctx, d, env := loadtestRig(t)
	s, err := loadtest.Build(ctx, env, "mix")
	if err != nil {
		t.Fatal(err)
	}
	r, err := loadtest.Run(ctx, "ws://"+strings.TrimPrefix(d.url, "http://"), s, loadtest.Options{Rate: 200, Requests: 200})
	if err != nil {
		t.Fatal(err)
	}
	if r.Total.Sent != 200 || r.Failed() {
		var b strings.Builder
		r.Print(&b)
		t.Fatalf("the mix over WebSocket: %d sent, %d wrong:\n%s", r.Total.Sent, r.Total.Wrong, b.String())
	}
}

// Against a target that accepts everything, the wrong outcomes are counted, invalid txs
// accepted are named, and the command exits non-zero.
func TestLoadtestCountsWrongOutcomes(t *testing.T) {
	acceptAll := rpctest.New(t, func(string, json.RawMessage) (any, *rpctest.Error) { return "0x01", nil })
	report := filepath.Join(t.TempDir(), "report.json")
	plotFile := filepath.Join(t.TempDir(), "latency.png")
	_, err := run(t, "loadtest", "--target", acceptAll.URL, "--scenario", "reads+batch-bomb", "--rate", "200",
		"--requests", "40", "--json", report, "--plot", plotFile)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "wrong outcomes") {
		t.Fatalf("exit: %v", err)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if png, err := os.ReadFile(plotFile); err != nil || len(png) < 1000 || string(png[1:4]) != "PNG" {
		t.Fatalf("plot: %d bytes, %v", len(png), err)
	}
	var r loadtest.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if r.Total.Sent != 40 || r.Total.Wrong != 20 {
		t.Fatalf("sent %d, wrong %d: want 40 and the 20 batch bombs accepted", r.Total.Sent, r.Total.Wrong)
	}
	// With the devnet's keys, invalid txs the fake accepts are counted as such.
	ctx := context.Background()
	d, stop, err := startLoadtestDevnet(ctx, zaptest.NewLogger(t), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	env := &loadtest.Env{ChainID: 902, SourceChain: 901, Devnet: d.net, Txs: 10, MaxBatch: 100, MaxInboxEntries: 256}
	s, err := loadtest.Build(ctx, env, "unique-invalid-flood")
	if err != nil {
		t.Fatal(err)
	}
	res, err := loadtest.Run(ctx, acceptAll.URL, s, loadtest.Options{Rate: 200, Requests: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.InvalidAccepted != 10 || res.Total.Wrong != 10 {
		t.Fatalf("invalid accepted %d, wrong %d: want 10 and 10", res.Total.InvalidAccepted, res.Total.Wrong)
	}
}

// The borderline scenario sends txs before their initiating message's block exists: the devnet
// gateway re-tests them and accepts them all; a target that gives up at the first "not yet"
// has every one counted wrong.
func TestBorderlineTxsAreRetestedThenAccepted(t *testing.T) {
	ctx, d, env := loadtestRig(t)
	s, err := loadtest.Build(ctx, env, "borderline")
	if err != nil {
		t.Fatal(err)
	}
	r, err := loadtest.WithCost(ctx, d.metrics, func() (*loadtest.Report, error) {
		return loadtest.Run(ctx, d.url, s, loadtest.Options{Rate: 40, Requests: 40})
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Total.Sent != 40 || r.Total.Accepted != 40 || r.Failed() || r.Cost.Retests < 1 {
		var b strings.Builder
		r.Print(&b)
		t.Fatalf("borderline against the gateway: want 40 accepted after re-tests:\n%s", b.String())
	}
	giveUp := rpctest.New(t, func(string, json.RawMessage) (any, *rpctest.Error) {
		return nil, &rpctest.Error{Code: -321100, Message: "out of scope"}
	})
	r, err = loadtest.Run(ctx, giveUp.URL, s, loadtest.Options{Rate: 40, Requests: 10})
	if err != nil {
		t.Fatal(err)
	}
	if r.Total.Wrong != 10 {
		t.Fatalf("a target rejecting borderline txs for good: %d wrong of 10", r.Total.Wrong)
	}
}

// Issue 15: the load test's source reorgs against the whole stack (chain 902's pool the op-reth
// model asking a revalidator that watches 901): a tx accepted by the gateway whose message is then
// reorged away leaves 902's pool unmined.
func TestSourceReorgsUnderTheLoadtestDevnet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the devnet")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// op-reth's own timing (failsafe poll 1 s) and the load test's default lever, clear-txpool,
	// which does not wait for that poll (with failsafe-pulse, whether the pulse beats the next
	// block is a matter of phase: docs/loadtest.md).
	reth := opreth.DefaultConfig()
	d, stop, err := startLoadtestDevnet(ctx, zaptest.NewLogger(t), &reth, revalidator.EvictClearTxpool)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	res := startSourceReorgs(ctx, d, d.url, 3, 4*time.Second).wait()
	var out bytes.Buffer
	res.print(&out)
	t.Log(out.String())
	if len(res.errors) > 0 || res.rounds != 3 || res.mined != 0 || res.stuck != 0 || res.evicted+res.minedBefore+res.refused != 3 || res.evicted == 0 ||
		res.clears == 0 {
		t.Fatalf("source reorgs: %+v", res)
	}
}
