package ingress

// Found by a review (issue 16): what a sentry's head can make the lag bounds do.

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/interopgate/interopgate/internal/rpctest"
)

func headSentry(t *testing.T, result any, rpcErr *rpctest.Error) *rpctest.Server {
	return rpctest.New(t, func(method string, _ json.RawMessage) (any, *rpctest.Error) {
		if rpcErr != nil {
			return nil, rpcErr
		}
		return result, nil
	})
}

func headGroup(t *testing.T, urls map[string]string) *Group {
	var bs []BackendConfig
	for _, n := range []string{"a", "b", "c"} {
		if u, ok := urls[n]; ok {
			bs = append(bs, BackendConfig{Name: n, URL: u})
		}
	}
	g, err := NewGroup(GroupConfig{Backends: bs, MaxBlockLag: 8, MaxHeadAge: time.Minute}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// probeRound probes every backend health_failures times (enough to call a failing one
// unhealthy) and returns the rotation: the healthy backends in sync (order lists the others
// after them, as a last resort).
func (g *Group) probeRound() []string {
	for range g.cfg.HealthFailures {
		for _, b := range g.backends {
			g.probe(context.Background(), b)
		}
	}
	g.updateSync(time.Now())
	var names []string
	for _, b := range g.order() {
		if b.healthy.Load() && b.inSync.Load() {
			names = append(names, b.name)
		}
	}
	return names
}

// All at genesis (a fresh devnet): nobody leaves. (Passes: for contrast.)
func TestEverySentryAtGenesisStaysIn(t *testing.T) {
	g := headGroup(t, map[string]string{
		"a": headSentry(t, "0x0", nil).URL, "b": headSentry(t, "0x0", nil).URL, "c": headSentry(t, "0x0", nil).URL})
	if got := g.probeRound(); len(got) != 3 {
		t.Fatalf("at genesis the rotation is %v", got)
	}
}

// One sentry answers a garbage head (0xffffffffffffffff; or a node of another, older chain at a
// far larger height): every honest sentry is "behind the best" by more than max_block_lag and
// leaves the rotation; all reads and sends go to the one that answered garbage.
func TestOneImplausibleHeadTakesOnlyItselfOut(t *testing.T) {
	g := headGroup(t, map[string]string{
		"a": headSentry(t, "0x64", nil).URL, "b": headSentry(t, "0x64", nil).URL,
		"c": headSentry(t, "0xffffffffffffffff", nil).URL})
	got := g.probeRound()
	if len(got) != 2 || slices.Contains(got, "c") {
		t.Errorf("rotation %v: want the two honest sentries at block 100, not the one answering garbage", got)
	}
}

// A sentry that answers eth_blockNumber with HTTP 200 but no head (a JSON-RPC error: a proxy
// that blocks the method, a node still starting) is healthy and never has its lag measured
// (headAt stays 0): it stays in the rotation however far behind it is.
func TestASentryWithoutAHeadLeaves(t *testing.T) {
	g := headGroup(t, map[string]string{
		"a": headSentry(t, "0x3e8", nil).URL,
		"b": headSentry(t, nil, &rpctest.Error{Code: -32000, Message: "header not found"}).URL})
	if got := g.probeRound(); len(got) != 1 || got[0] != "a" {
		t.Errorf("rotation %v: a sentry that reports no head is failing", got)
	}
}
