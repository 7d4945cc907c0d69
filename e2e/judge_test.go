//go:build opgeth

package e2e

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/internal/rpctest"
	"github.com/interopgate/interopgate/loadtest"
)

// TestReferenceJudgesWhatIsMined: op-interop-filter cross-validates the executing messages in
// the blocks it ingests, and the devnet's CrossL2Inbox emits them as the real predeploy does.
// The messages a gateway asking the reference let through pass that judgement. A message the
// gateway refused, mined by going around it straight to the node, fails it: the reference turns
// its failsafe on for every check, and the gateway then refuses every interop tx, valid or not —
// what one invalid message in a block costs, and what the gateway is there to prevent. The light
// filter, which does not cross-validate blocks (docs/filter.md), keeps answering.
func TestReferenceJudgesWhatIsMined(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	d, mates := startMates(t, ctx)
	lightURL := startLight(t, ctx, d)
	started := uint64(time.Now().Unix()) // the reference cross-validates from its start time on
	ref := startReference(t, d, referenceOptions{expiryWindow: expiryWindow})
	gateway := startGateway(t, d, ref.url)
	gw := gateway.url
	chain := d.Chain(902)
	// Ready is not yet cross-validating: for one validation interval after it answers checks
	// the reference calls every cross-unsafe message -321100 ("cross-validated timestamp not
	// available"). Wait for it to accept one.
	probe := probe{name: "mates[0]", keys: mates[0].Keys(), exec: chain.Head().Time, chain: "902", safety: "cross-unsafe"}
	waitAnswer(t, ref.url, probe, time.Minute, func(a answer) bool { return a.Code == 0 })

	// Valid executing messages, through the gateway: mined.
	// (mates[1] is kept for the end: a message the gateway has not judged yet.)
	var lastValid uint64
	for i, m := range []devnet.Emitted{mates[0], mates[2]} {
		tx, err := chain.ValidateMessageTx(ctx, d.Accounts[3+i], 0, m.ID, m.PayloadHash)
		if err != nil {
			t.Fatal(err)
		}
		lastValid = mineExecuting(t, ctx, chain, gw, tx)
		if lastValid <= started {
			t.Fatalf("valid message mined at %d, before the reference started (%d): it would not be judged", lastValid, started)
		}
	}

	// An invalid one: the identifier of the log before mates[1]'s, with mates[1]'s payload (the
	// checksum recomputed, so the access list and the call agree). The gateway refuses it.
	id := mates[1].ID
	id.LogIndex--
	bad, err := chain.ValidateMessageTx(ctx, d.Accounts[6], 0, id, mates[1].PayloadHash)
	if err != nil {
		t.Fatal(err)
	}
	if code := sendRaw(t, gw, bad); code != -320600 {
		t.Fatalf("gateway answered %d to an invalid executing message, want -320600", code)
	}
	// Around the gateway, the node takes it and the inbox emits it: nothing on chain can know.
	badTS := mineExecuting(t, ctx, chain, chain.RPCURL(), bad)
	if badTS <= lastValid {
		t.Fatalf("invalid message mined at %d, not after the valid ones (%d)", badTS, lastValid)
	}

	probe.exec = chain.Head().Time
	is := func(class string) func(answer) bool { return func(a answer) bool { return a.class() == class } }
	waitAnswer(t, ref.url, probe, time.Minute, is("failsafe"))
	failedAt(t, ref, 902, badTS)

	// Every interop tx is refused now. First a message the gateway accepted before: its valid
	// verdict is cached, and the failsafe watcher's poll voids the cache. (Until that poll, or a
	// check that reaches the filter, the cached verdict is still served: docs/gateway.md.)
	rpctest.WaitFor(t, "the gateway's failsafe watcher to see the reference's failsafe", time.Minute, gateway.failsafe)
	cached, err := chain.ValidateMessageTx(ctx, d.Accounts[7], 0, mates[0].ID, mates[0].PayloadHash)
	if err != nil {
		t.Fatal(err)
	}
	if code := sendRaw(t, gw, cached); code != -320602 {
		t.Fatalf("gateway answered %d to a cached message while its filter is in failsafe, want -320602", code)
	}
	// Then one it never judged.
	fresh, err := chain.ValidateMessageTx(ctx, d.Accounts[7], 0, mates[1].ID, mates[1].PayloadHash)
	if err != nil {
		t.Fatal(err)
	}
	if code := sendRaw(t, gw, fresh); code != -320602 {
		t.Fatalf("gateway answered %d to a valid message while its filter is in failsafe, want -320602", code)
	}
	// The light filter does not cross-validate blocks: it still answers the valid message.
	waitAnswer(t, lightURL, probe, time.Minute, func(a answer) bool { return a.Code == 0 })
}

// mineExecuting sends tx to url, expects it accepted, waits for it to be mined and checks that
// the inbox emitted one ExecutingMessage; it returns the block's timestamp.
func mineExecuting(t *testing.T, ctx context.Context, chain *devnet.Chain, url string, tx *types.Transaction) uint64 {
	t.Helper()
	if code := sendRaw(t, url, tx); code != 0 {
		t.Fatalf("tx refused by %s: %d", url, code)
	}
	r, err := chain.WaitReceipt(ctx, tx.Hash()) // on an on-demand devnet this makes the block
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != types.ReceiptStatusSuccessful || len(r.Logs) != 1 || r.Logs[0].Topics[0] != devnet.ExecutingMessageTopic {
		t.Fatalf("executing tx mined with status %d and %d logs", r.Status, len(r.Logs))
	}
	return chain.HeaderByNumber(r.BlockNumber.Uint64()).Time
}

// failedAt asserts that the reference's cross-validation failed first at timestamp ts, on chain.
// The cross-validator goes one timestamp at a time from its start and stops at the first
// failure: failing at ts means every executing message mined before ts passed.
func failedAt(t *testing.T, ref reference, chain uint64, ts uint64) {
	t.Helper()
	var failure string
	rpctest.WaitFor(t, "the reference to log its cross-validation failure", time.Minute, func() bool {
		for line := range strings.Lines(ref.log.String()) {
			if strings.Contains(line, "Cross-validation failed") {
				failure = line
				return true
			}
		}
		return false
	})
	if !strings.Contains(failure, fmt.Sprintf("timestamp=%d ", ts)) || !strings.Contains(failure, fmt.Sprintf("chain %d ", chain)) {
		t.Fatalf("want the reference's cross-validation to fail first at timestamp %d on chain %d, got %q", ts, chain, failure)
	}
	t.Logf("reference: %s", strings.TrimSpace(failure))
}

// TestReferenceJudgesALoadTest: a short load test through a gateway asking the reference, on a
// devnet making a block a second — valid interop txs (each calling validateMessage, so mined
// ones carry ExecutingMessage), batches of them, one tx repeated, invalid ones and a flood of
// unique invalid ones — has no wrong outcome, and everything it got mined passes the
// reference's cross-validation: an invalid message mined around the gateway afterwards is the
// first thing the reference fails on.
func TestReferenceJudgesALoadTest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	needReference(t)
	d, err := devnet.Start(devnet.Config{Accounts: 40, BlockTime: time.Second, ExpiryWindow: expiryWindow}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	m, err := d.Chain(901).Emit(ctx, d.Accounts[0], common.Hash{0x1d}, []byte("judge"))
	if err != nil {
		t.Fatal(err)
	}
	started := uint64(time.Now().Unix())
	ref := startReference(t, d, referenceOptions{expiryWindow: expiryWindow})
	gw := startGateway(t, d, ref.url)
	chain := d.Chain(902)
	probe := probe{name: "m", keys: m.Keys(), exec: m.ID.Timestamp + 1, chain: "902", safety: "cross-unsafe"}
	waitAnswer(t, ref.url, probe, time.Minute, func(a answer) bool { return a.Code == 0 })

	env := &loadtest.Env{Devnet: d, ChainID: 902, SourceChain: 901, Txs: 150, MaxBatch: 10, MaxInboxEntries: 256}
	s, err := loadtest.Build(ctx, env, "valid+interop-batch+duplicate-flood+invalid-checksum+unique-invalid-flood")
	if err != nil {
		t.Fatal(err)
	}
	first := chain.Head().Number.Uint64() + 1
	report, err := loadtest.Run(ctx, gw.url, s, loadtest.Options{Rate: 50, Duration: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	report.Print(&out)
	t.Logf("load test through the gateway asking the reference:\n%s", out.String())
	if report.Failed() || report.Total.Accepted == 0 {
		t.Fatalf("load test: %d wrong outcomes, %d accepted", report.Total.Wrong, report.Total.Accepted)
	}
	// Everything accepted gets mined: wait for chain 902's pool to drain.
	rpctest.WaitFor(t, "chain 902's pool to drain", time.Minute, func() bool {
		var status map[string]hexutil.Uint
		return chain.RPC().Call(&status, "txpool_status") == nil && status["pending"] == 0 && status["queued"] == 0
	})
	last := chain.Head().Number.Uint64()
	logs, err := chain.Client().FilterLogs(ctx, ethereum.FilterQuery{FromBlock: new(big.Int).SetUint64(first), ToBlock: new(big.Int).SetUint64(last),
		Addresses: []common.Address{accesslist.CrossL2InboxAddress}, Topics: [][]common.Hash{{devnet.ExecutingMessageTopic}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) == 0 || chain.HeaderByNumber(first).Time <= started {
		t.Fatalf("%d executing messages mined from block %d (timestamp %d, reference started at %d)", len(logs), first, chain.HeaderByNumber(first).Time, started)
	}
	t.Logf("%d executing messages mined in blocks %d–%d", len(logs), first, last)

	// Then an invalid message, around the gateway: the first thing the reference fails on.
	id := m.ID
	id.LogIndex++
	bad, err := chain.ValidateMessageTx(ctx, d.Accounts[0], 0, id, m.PayloadHash)
	if err != nil {
		t.Fatal(err)
	}
	failedAt(t, ref, 902, mineExecuting(t, ctx, chain, chain.RPCURL(), bad))
}
