//go:build opgeth

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/internal/rpctest"
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

	// mine sends tx to url, expects it accepted, mines it and checks that the inbox emitted
	// one ExecutingMessage; it returns the block's timestamp.
	mine := func(url string, tx *types.Transaction) uint64 {
		t.Helper()
		if code := sendRaw(t, url, tx); code != 0 {
			t.Fatalf("tx refused by %s: %d", url, code)
		}
		d.Commit()
		r, err := chain.WaitReceipt(ctx, tx.Hash())
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != types.ReceiptStatusSuccessful || len(r.Logs) != 1 || r.Logs[0].Topics[0] != devnet.ExecutingMessageTopic {
			t.Fatalf("executing tx mined with status %d and %d logs", r.Status, len(r.Logs))
		}
		return chain.HeaderByNumber(r.BlockNumber.Uint64()).Time
	}

	// Valid executing messages, through the gateway: mined.
	// (mates[1] is kept for the end: a message the gateway has not judged yet.)
	var lastValid uint64
	for i, m := range []devnet.Emitted{mates[0], mates[2]} {
		tx, err := chain.ValidateMessageTx(ctx, d.Accounts[3+i], 0, m.ID, m.PayloadHash)
		if err != nil {
			t.Fatal(err)
		}
		lastValid = mine(gw, tx)
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
	badTS := mine(chain.RPCURL(), bad)
	if badTS <= lastValid {
		t.Fatalf("invalid message mined at %d, not after the valid ones (%d)", badTS, lastValid)
	}

	probe.exec = chain.Head().Time
	is := func(class string) func(answer) bool { return func(a answer) bool { return a.class() == class } }
	waitAnswer(t, ref.url, probe, time.Minute, is("failsafe"))
	// The cross-validator goes one timestamp at a time and stops at the first failure: failing
	// at the invalid message's block means the valid ones before it passed.
	var failure string
	for line := range strings.Lines(ref.log.String()) {
		if strings.Contains(line, "Cross-validation failed") {
			failure = line
			break
		}
	}
	if !strings.Contains(failure, fmt.Sprintf("timestamp=%d ", badTS)) || !strings.Contains(failure, "chain 902") {
		t.Fatalf("want the reference's cross-validation to fail at the invalid message's block (timestamp %d), got %q", badTS, failure)
	}
	t.Logf("reference: %s", strings.TrimSpace(failure))

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
