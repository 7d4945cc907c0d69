package devnet

import (
	"context"
	"encoding/binary"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"

	"github.com/interopgate/interopgate/accesslist"
)

// sendAndMine sends tx to chain 902 and mines it; it returns the receipt.
func sendAndMine(t *testing.T, ctx context.Context, d *Devnet, tx *types.Transaction) *types.Receipt {
	t.Helper()
	c := d.Chain(902)
	if err := c.Client().SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	r, err := c.WaitReceipt(ctx, tx.Hash())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestInboxEmitsExecutingMessage: validateMessage with the message in the access list emits
// ExecutingMessage(msgHash, id) in the layout op-supervisor and op-interop-filter decode; without
// it in the access list, or with an identifier out of range, the call reverts as the real
// predeploy's does; a call with no calldata is a no-op.
func TestInboxEmitsExecutingMessage(t *testing.T) {
	d := startDevnet(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := d.Chain(901).Emit(ctx, d.Accounts[0], common.Hash{0xee}, []byte("executed"))
	if err != nil {
		t.Fatal(err)
	}
	c := d.Chain(902)

	tx, err := c.ValidateMessageTx(ctx, d.Accounts[1], 0, e.ID, e.PayloadHash)
	if err != nil {
		t.Fatal(err)
	}
	r := sendAndMine(t, ctx, d, tx)
	if r.Status != types.ReceiptStatusSuccessful || len(r.Logs) != 1 {
		t.Fatalf("validateMessage of a message in the access list: status %d, %d logs", r.Status, len(r.Logs))
	}
	l := r.Logs[0]
	if l.Address != accesslist.CrossL2InboxAddress || len(l.Topics) != 2 || l.Topics[0] != ExecutingMessageTopic || l.Topics[1] != e.PayloadHash {
		t.Fatalf("log %+v", l)
	}
	// The data is the identifier's five words, each right-aligned with zero padding.
	if len(l.Data) != 160 {
		t.Fatalf("data is %d bytes", len(l.Data))
	}
	word := func(i int) []byte { return l.Data[32*i : 32*(i+1)] }
	got := accesslist.Identifier{
		Origin:      common.BytesToAddress(word(0)),
		BlockNumber: binary.BigEndian.Uint64(word(1)[24:]),
		LogIndex:    binary.BigEndian.Uint32(word(2)[28:]),
		Timestamp:   binary.BigEndian.Uint64(word(3)[24:]),
		ChainID:     *new(uint256.Int).SetBytes(word(4)),
	}
	if got != e.ID || new(big.Int).SetBytes(word(0)[:12]).Sign() != 0 || new(big.Int).SetBytes(word(1)[:24]).Sign() != 0 ||
		new(big.Int).SetBytes(word(2)[:28]).Sign() != 0 || new(big.Int).SetBytes(word(3)[:24]).Sign() != 0 {
		t.Fatalf("identifier in the log %+v (data %x), want %+v", got, l.Data, e.ID)
	}

	// The same call with another message's keys in the access list: the checksum slot is cold.
	other := e.ID
	other.LogIndex++
	tx, err = c.inboxTx(ctx, d.Accounts[1], tx.Nonce()+1, inboxCall{
		keys: accesslist.EncodeMessages([]accesslist.Message{other.Message(e.PayloadHash)}),
		data: ValidateMessageCalldata(e.ID, e.PayloadHash), gas: 100_000,
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := sendAndMine(t, ctx, d, tx); r.Status != types.ReceiptStatusFailed || len(r.Logs) != 0 {
		t.Fatalf("validateMessage without the checksum in the access list: status %d, %d logs", r.Status, len(r.Logs))
	}

	// An identifier out of range (block number ≥ 2^64), even with its slot warm.
	data := ValidateMessageCalldata(e.ID, e.PayloadHash)
	data[argBlockNumber+23] = 1
	tx, err = c.inboxTx(ctx, d.Accounts[1], tx.Nonce()+1, inboxCall{keys: e.Keys(), data: data, gas: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	if r := sendAndMine(t, ctx, d, tx); r.Status != types.ReceiptStatusFailed {
		t.Fatalf("validateMessage with block number ≥ 2^64: status %d", r.Status)
	}

	// Only an access list, no calldata (what the load test sends): mined, no log.
	tx, err = c.ExecutingTx(ctx, d.Accounts[1], tx.Nonce()+1, e.Keys())
	if err != nil {
		t.Fatal(err)
	}
	if r := sendAndMine(t, ctx, d, tx); r.Status != types.ReceiptStatusSuccessful || len(r.Logs) != 0 {
		t.Fatalf("a call with no calldata: status %d, %d logs", r.Status, len(r.Logs))
	}
}
