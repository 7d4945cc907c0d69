//go:build opgeth

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/ingress"
	"github.com/interopgate/interopgate/internal/config"
	"github.com/interopgate/interopgate/internal/rpctest"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// expiryWindow of the dependency set in the differential suites: short, so the expiry
// boundary is an ordinary case, and long enough that every message of a run stays alive.
const expiryWindow = 600

// divergences are the cases where the light filter answers a different class than the
// reference on purpose; docs/filter.md gives the reasons. Each maps to "light/reference".
// None today: the two that were (a message newer than the slowest chain, and a future block
// executed before its timestamp) went when the light filter took the reference's lockstep rule.
var divergences = map[string]string{}

// corpus is every probe of the differential suite for m, a log of a block holding logs from
// several txs (block mates), checked at head (a timestamp after m's). Mutated identifiers get
// their checksum recomputed, so each variant is wrong in that field only.
func corpus(mates []devnet.Emitted, m devnet.Emitted, head uint64) []probe {
	id := m.ID
	keysOf := func(msgs ...accesslist.Message) []common.Hash { return accesslist.EncodeMessages(msgs) }
	mutated, flipped := mutator(m), flippedChecksum(m)
	var all []accesslist.Message
	for _, e := range mates {
		all = append(all, e.Message())
	}
	reserved := keysOf(m.Message())
	reserved[0][2] = 1
	p := func(name string, keys []common.Hash) probe {
		return probe{name: name, keys: keys, exec: head, chain: "902", safety: "cross-unsafe"}
	}
	at := func(pr probe, exec, timeout uint64) probe { pr.exec, pr.timeout = exec, timeout; return pr }
	valid := p("valid", m.Keys())
	hex := valid
	hex.name, hex.chain = "valid, executing chain ID in hex", "0x386"
	unsafe := valid
	unsafe.name, unsafe.safety = "valid, safety unsafe", "unsafe"
	safe := valid
	safe.name, safe.safety = "safety safe (unsupported)", "safe"
	unknownExec := valid
	unknownExec.name, unknownExec.chain = "unknown executing chain", "999"
	init := id.Timestamp
	return []probe{
		valid, hex, unsafe,
		p("valid, every log of the block", keysOf(all...)),
		p("empty access list", []common.Hash{}),
		p("wrong checksum", flipped),
		p("log index of the previous tx's log", mutated(func(i *accesslist.Identifier) { i.LogIndex-- })),
		p("log index of the next tx's log", mutated(func(i *accesslist.Identifier) { i.LogIndex++ })),
		p("log index beyond the block", mutated(func(i *accesslist.Identifier) { i.LogIndex = 7 })),
		p("block - 1", mutated(func(i *accesslist.Identifier) { i.BlockNumber-- })),
		p("block + 1", mutated(func(i *accesslist.Identifier) { i.BlockNumber++ })),
		p("timestamp - 1", mutated(func(i *accesslist.Identifier) { i.Timestamp-- })),
		p("timestamp + 1", mutated(func(i *accesslist.Identifier) { i.Timestamp++ })),
		p("source chain 902 instead of 901", mutated(func(i *accesslist.Identifier) { i.ChainID = *uint256.NewInt(902) })),
		p("unknown source chain", mutated(func(i *accesslist.Identifier) { i.ChainID = *uint256.NewInt(999) })),
		p("another origin", mutated(func(i *accesslist.Identifier) { i.Origin = common.HexToAddress("0x1234") })),
		p("the payload of a block mate", keysOf(id.Message(mates[0].PayloadHash))),
		unknownExec, safe,
		at(p("same timestamp", m.Keys()), init, 0),
		at(p("executing before initiating", m.Keys()), init-1, 0),
		at(p("expiry boundary - 1", m.Keys()), init+expiryWindow-1, 0),
		at(p("expiry boundary", m.Keys()), init+expiryWindow, 0),
		at(p("expiry boundary + 1", m.Keys()), init+expiryWindow+1, 0),
		at(p("timeout crossing the expiry", m.Keys()), init+expiryWindow-5, 10),
		at(p("timeout ending at the expiry", m.Keys()), init+expiryWindow-10, 10),
		at(p("future block, executing later still", mutated(func(i *accesslist.Identifier) { i.BlockNumber += 1000; i.Timestamp += 1000 })), init+1001, 0),
		p("future block, executing now", mutated(func(i *accesslist.Identifier) { i.BlockNumber += 1000; i.Timestamp += 1000 })),
		p("malformed: checksum first", []common.Hash{m.Message().Checksum}),
		p("malformed: reserved byte", reserved),
	}
}

// TestReferenceAgreesWithTheLightFilter runs the corpus against op-interop-filter and the
// light filter, one call at a time and as one batch, and asserts the same class for each
// (valid / invalid / not yet / failsafe) and, for invalid answers, the same code — except the
// divergences listed above, which must still be what they are said to be.
func TestReferenceAgreesWithTheLightFilter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	d, mates := startMates(t, ctx)
	d.Commit()
	lightURL := startLight(t, ctx, d)
	ref := startReference(t, d, referenceOptions{expiryWindow: expiryWindow})
	refURL, ready := ref.url, ref.ready
	head := d.Chain(902).Head().Time
	m := mates[1]
	valid := probe{name: "valid", keys: m.Keys(), exec: head, chain: "902", safety: "cross-unsafe"}
	accepted := func(a answer) bool { return a.Code == 0 }
	caughtUp := waitAnswer(t, refURL, valid, time.Minute, accepted)
	waitAnswer(t, lightURL, valid, time.Minute, accepted)

	// A fresh message: how long until each accepts it.
	fresh, err := d.Chain(901).EmitBlock(ctx, d.Accounts[3:4], d.Commit)
	if err != nil {
		t.Fatal(err)
	}
	d.Commit()
	freshProbe := probe{name: "fresh", keys: fresh[0].Keys(), exec: d.Chain(902).Head().Time, chain: "902", safety: "cross-unsafe"}
	refFresh := waitAnswer(t, refURL, freshProbe, time.Minute, accepted)
	lightFresh := waitAnswer(t, lightURL, freshProbe, time.Minute, accepted)
	t.Logf("reference: ready %s after start, accepted an old message %s later; a fresh message accepted %s after its block (light: %s)",
		ready.Round(time.Millisecond), caughtUp.Round(time.Millisecond), refFresh.Round(time.Millisecond), lightFresh.Round(time.Millisecond))

	probes := corpus(mates, m, d.Chain(902).Head().Time)
	var table strings.Builder
	fmt.Fprintf(&table, "| case | light | reference |\n|---|---|---|\n")
	compare := func(how string, ps []probe, lightAns, refAns []answer) {
		for i, p := range ps {
			l, r := lightAns[i], refAns[i]
			if how == "single" {
				fmt.Fprintf(&table, "| %s | %s %s | %s %s |\n", p.name, l.class(), codeText(l), r.class(), codeText(r))
			}
			got := l.class() + "/" + r.class()
			if want, ok := divergences[p.name]; ok {
				if got != want {
					t.Errorf("%s (%s): light/reference %s, the listed divergence is %s (light %+v, reference %+v)", p.name, how, got, want, l, r)
				}
				continue
			}
			if l.class() != r.class() {
				t.Errorf("%s (%s): light %s %+v, reference %s %+v", p.name, how, l.class(), l, r.class(), r)
			} else if l.class() == "invalid" && l.Code != r.Code && r.Code != -32602 {
				t.Errorf("%s (%s): light code %d, reference %d (%s)", p.name, how, l.Code, r.Code, r.Message)
			}
		}
	}
	var lightAns, refAns []answer
	for _, p := range probes {
		l, err := ask(lightURL, p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ask(refURL, p)
		if err != nil {
			t.Fatal(err)
		}
		lightAns, refAns = append(lightAns, l), append(refAns, r)
	}
	compare("single", probes, lightAns, refAns)
	lightBatch, err := askBatch(lightURL, probes)
	if err != nil {
		t.Fatal(err)
	}
	refBatch, err := askBatch(refURL, probes)
	if err != nil {
		t.Fatal(err)
	}
	compare("batch", probes, lightBatch, refBatch)

	// One chain ahead of the other: a message in 901's newest block, 902 a block behind.
	ahead, err := d.Chain(901).EmitBlock(ctx, d.Accounts[6:7], func() { d.Chain(901).CommitAlone() })
	if err != nil {
		t.Fatal(err)
	}
	lag := probe{name: "message newer than the slowest chain", keys: ahead[0].Keys(), exec: ahead[0].ID.Timestamp + 1, chain: "902", safety: "cross-unsafe"}
	// Both have read 901's new block (so a "not yet" is about 902, not about 901).
	for _, url := range []string{lightURL, refURL} {
		rpctest.WaitFor(t, "the filter at "+url+" to have 901's newest block", time.Minute, func() bool {
			h, err := latestHash(url, 901)
			return err == nil && h == ahead[0].BlockHash
		})
	}
	l, err := ask(lightURL, lag)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ask(refURL, lag)
	if err != nil {
		t.Fatal(err)
	}
	compare("single", []probe{lag}, []answer{l}, []answer{r})
	d.Chain(902).CommitAlone() // 902 catches up: both accept it
	waitAnswer(t, refURL, lag, time.Minute, accepted)
	waitAnswer(t, lightURL, lag, time.Minute, accepted)
	// The same transactions through a gateway asking each filter: the same outcome.
	gwLight, gwRef := startGateway(t, d, lightURL).url, startGateway(t, d, refURL).url
	fmt.Fprintf(&table, "\n| tx case | gateway → light | gateway → reference |\n|---|---|---|\n")
	for i, c := range txCases(mates, m) {
		l := sendTx(t, ctx, d, gwLight, d.Accounts[4], c.keys)
		r := sendTx(t, ctx, d, gwRef, d.Accounts[5], c.keys)
		fmt.Fprintf(&table, "| %s | %s | %s |\n", c.name, outcomeText(l), outcomeText(r))
		if l != r {
			t.Errorf("tx case %d %s: through the light filter %s, through the reference %s", i, c.name, outcomeText(l), outcomeText(r))
		}
		if (l == 0) != c.valid {
			t.Errorf("tx case %s: outcome %s, valid %v", c.name, outcomeText(l), c.valid)
		}
	}
	t.Logf("agreement table:\n%s", table.String())
	if f := os.Getenv("INTEROPGATE_AGREEMENT_TABLE"); f != "" {
		_ = os.WriteFile(f, []byte(table.String()), 0o644)
	}
}

// txCase is an executing tx's access list for the gateway part of the suite.
type txCase struct {
	name  string
	keys  []common.Hash
	valid bool
}

// mutator returns the keys of m with its identifier changed by mut and the checksum recomputed
// for the change, so the variant is wrong in that field only.
func mutator(m devnet.Emitted) func(mut func(*accesslist.Identifier)) []common.Hash {
	return func(mut func(*accesslist.Identifier)) []common.Hash {
		id := m.ID
		mut(&id)
		return accesslist.EncodeMessages([]accesslist.Message{id.Message(m.PayloadHash)})
	}
}

// flippedChecksum returns the keys of m with one checksum bit flipped.
func flippedChecksum(m devnet.Emitted) []common.Hash {
	msg := m.Message()
	msg.Checksum[31] ^= 1
	return accesslist.EncodeMessages([]accesslist.Message{msg})
}

func txCases(mates []devnet.Emitted, m devnet.Emitted) []txCase {
	id := m.ID
	mutated := mutator(m)
	return []txCase{
		{"valid", m.Keys(), true},
		{"valid, two messages", accesslist.EncodeMessages([]accesslist.Message{mates[0].Message(), mates[2].Message()}), true},
		{"wrong checksum", flippedChecksum(m), false},
		{"log index of the previous tx's log", mutated(func(i *accesslist.Identifier) { i.LogIndex-- }), false},
		{"block - 1", mutated(func(i *accesslist.Identifier) { i.BlockNumber-- }), false},
		{"timestamp - 1", mutated(func(i *accesslist.Identifier) { i.Timestamp-- }), false},
		{"source chain 902 instead of 901", mutated(func(i *accesslist.Identifier) { i.ChainID = *uint256.NewInt(902) }), false},
		{"another origin", mutated(func(i *accesslist.Identifier) { i.Origin = common.HexToAddress("0x1234") }), false},
		{"the payload of a block mate", accesslist.EncodeMessages([]accesslist.Message{id.Message(mates[0].PayloadHash)}), false},
		{"unknown source chain", mutated(func(i *accesslist.Identifier) { i.ChainID = *uint256.NewInt(999) }), false},
		{"malformed: checksum first", []common.Hash{m.Message().Checksum}, false},
	}
}

// gateway is a running gateway in front of chain 902.
type gateway struct {
	url      string
	failsafe func() bool // its failsafe watcher's state
}

// startGateway runs a gateway in front of chain 902 asking the filter at url, with re-tests
// short enough for a test.
func startGateway(t *testing.T, d *devnet.Devnet, url string) gateway {
	t.Helper()
	client, err := sc.NewClient(sc.ClientConfig{URL: url, Name: "filter", Namespace: "interop"})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := sc.NewPool([]sc.Endpoint{{Name: "filter", Checker: client}}, sc.PoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// The failsafe watcher as `interopgate gateway` runs it (admin_getFailsafeEnabled), polled
	// often enough for a test.
	watcher := sc.NewFailsafeWatcher([]sc.NamedFailsafeSource{{Name: "filter", Source: client}}, sc.FailsafeWatcherConfig{Interval: 100 * time.Millisecond})
	wctx, stopWatcher := context.WithCancel(context.Background())
	t.Cleanup(stopWatcher)
	go watcher.Run(wctx)
	group, err := ingress.NewGroup(ingress.GroupConfig{Backends: []ingress.BackendConfig{{Name: "chain902", URL: d.Chain(902).RPCURL()}}}, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ingress.DefaultConfig()
	cfg.ChainID = 902
	cfg.SenderRateLimit = 0
	// The on-demand devnet runs a few seconds ahead of the wall clock.
	cfg.ExecTimestampOffset = config.Duration(30 * time.Second)
	cfg.RetryDelay, cfg.RetryAttempts = config.Duration(100*time.Millisecond), 3
	cfg.MessageTimeout = 60 // the messages must outlive the timeout: the suite's window is short
	gw, err := ingress.New(cfg, ingress.Deps{Checker: pool, CheckerID: url, Failsafe: watcher.Enabled, Dependencies: d.DependencySet(), Backends: group, Log: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		gw.Shutdown(sctx)
	})
	return gateway{url: gw.URL(), failsafe: watcher.Enabled}
}

// sendTx signs an executing tx with keys and sends it through the gateway: 0 when accepted,
// else the JSON-RPC error code.
func sendTx(t *testing.T, ctx context.Context, d *devnet.Devnet, gw string, from devnet.Account, keys []common.Hash) int {
	t.Helper()
	tx, err := d.Chain(902).ExecutingTx(ctx, from, 0, keys)
	if err != nil {
		t.Fatal(err)
	}
	code := sendRaw(t, gw, tx)
	if code == 0 {
		d.Commit() // mine it, so the next tx of the account has the next nonce
	}
	return code
}

// sendRaw sends tx with eth_sendRawTransaction to url: 0 when accepted, else the JSON-RPC
// error code.
func sendRaw(t *testing.T, url string, tx *types.Transaction) int {
	t.Helper()
	raw, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := post(url, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": []string{hexutil.Encode(raw)}})
	if err != nil {
		t.Fatal(err)
	}
	var r rpcReply
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if r.Error != nil {
		return r.Error.Code
	}
	return 0
}

func outcomeText(code int) string {
	if code == 0 {
		return "accepted"
	}
	return fmt.Sprintf("rejected %d", code)
}

func codeText(a answer) string {
	if a.Code == 0 {
		return ""
	}
	return fmt.Sprintf("(%d)", a.Code)
}

// TestReferenceAfterASourceReorg: a reorg of chain 901 takes a message away. The light filter
// calls it invalid at once and keeps answering for the rest; the reference without
// --reorg-recovery-enabled turns failsafe on for everything; with it, it rewinds and then
// agrees with the light filter.
func TestReferenceAfterASourceReorg(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	needReference(t)
	d, err := devnet.Start(devnet.Config{Accounts: 8, ExpiryWindow: expiryWindow}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for range 10 { // so the finalized block is above genesis
		d.Commit()
	}
	kept, err := d.Chain(901).EmitBlock(ctx, d.Accounts[:1], d.Commit)
	if err != nil {
		t.Fatal(err)
	}
	d.Commit()
	gone, err := d.Chain(901).EmitBlock(ctx, d.Accounts[1:2], d.Commit)
	if err != nil {
		t.Fatal(err)
	}
	d.Commit()
	lightURL := startLight(t, ctx, d)
	plainURL := startReference(t, d, referenceOptions{expiryWindow: expiryWindow}).url
	recoverURL := startReference(t, d, referenceOptions{expiryWindow: expiryWindow, reorgRecovery: true}).url
	exec := d.Chain(902).Head().Time + 1
	keptProbe := probe{name: "kept", keys: kept[0].Keys(), exec: exec, chain: "902", safety: "cross-unsafe"}
	goneProbe := probe{name: "reorged away", keys: gone[0].Keys(), exec: exec, chain: "902", safety: "cross-unsafe"}
	accepted := func(a answer) bool { return a.Code == 0 }
	for _, url := range []string{lightURL, plainURL, recoverURL} {
		waitAnswer(t, url, goneProbe, time.Minute, accepted)
	}

	// Replace the block of the second message (and the one after it), then move every chain on.
	if err := d.Chain(901).Reorg(d.Chain(901).Head().Number.Uint64() - gone[0].ID.BlockNumber + 1); err != nil {
		t.Fatal(err)
	}
	d.Chain(902).Commit()
	d.Commit()
	is := func(class string) func(answer) bool { return func(a answer) bool { return a.class() == class } }
	waitAnswer(t, lightURL, goneProbe, time.Minute, is("invalid"))
	waitAnswer(t, lightURL, keptProbe, time.Minute, accepted)
	waitAnswer(t, plainURL, keptProbe, time.Minute, is("failsafe"))
	waitAnswer(t, recoverURL, goneProbe, time.Minute, is("invalid"))
	waitAnswer(t, recoverURL, keptProbe, time.Minute, accepted)
}
