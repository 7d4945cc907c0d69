package devnet

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"

	"github.com/interopgate/interopgate/accesslist"
)

// EmitterAddress holds the emitter contract on every devnet chain (in genesis).
var EmitterAddress = common.HexToAddress("0x00000000000000000000000000000000000e1117")

// emitterCode is the emitter's runtime bytecode: it emits one log whose only topic is the first
// 32 bytes of the calldata and whose data is the rest.
//
//	CALLDATASIZE PUSH0 PUSH0 CALLDATACOPY      mem[0:] = calldata
//	PUSH0 MLOAD                                topic = mem[0:32]
//	PUSH1 32 CALLDATASIZE SUB                  size  = calldatasize - 32
//	PUSH1 32                                   offset = 32
//	LOG1 STOP
var emitterCode = []byte{0x36, 0x5f, 0x5f, 0x37, 0x5f, 0x51, 0x60, 0x20, 0x36, 0x03, 0x60, 0x20, 0xa1, 0x00}

// Emitted is an initiating message: a log on a devnet chain.
type Emitted struct {
	ID          accesslist.Identifier
	Topics      []common.Hash
	Data        []byte
	PayloadHash common.Hash
	BlockHash   common.Hash
	TxHash      common.Hash
}

// Message is the access-list message that names the log.
func (e Emitted) Message() accesslist.Message { return e.ID.Message(e.PayloadHash) }

// Keys are the inbox keys of an executing tx that names only this log.
func (e Emitted) Keys() []common.Hash {
	return accesslist.EncodeMessages([]accesslist.Message{e.Message()})
}

const (
	gasTipCap = 1_000_000_000       // 1 gwei
	gasFeeCap = 1_000_000_000 * 100 // 100 gwei
)

// emitTx builds the signed tx that makes the emitter log topic and data, at from's pending nonce.
func (c *Chain) emitTx(ctx context.Context, from Account, topic common.Hash, data []byte) (*types.Transaction, error) {
	nonce, err := c.client.PendingNonceAt(ctx, from.Address)
	if err != nil {
		return nil, err
	}
	return c.EmitTx(from, nonce, topic, data)
}

// EmitTx builds, without sending it, the signed tx at nonce that makes the emitter log topic
// and data (for callers that send it themselves and keep their own nonces).
func (c *Chain) EmitTx(from Account, nonce uint64, topic common.Hash, data []byte) (*types.Transaction, error) {
	to := EmitterAddress
	return c.sign(from, &types.DynamicFeeTx{
		Nonce: nonce, GasTipCap: big.NewInt(gasTipCap), GasFeeCap: big.NewInt(gasFeeCap),
		Gas: 100_000, To: &to, Data: append(topic.Bytes(), data...),
	})
}

func (c *Chain) sign(from Account, inner types.TxData) (*types.Transaction, error) {
	return types.SignNewTx(from.Key, types.LatestSignerForChainID(new(big.Int).SetUint64(c.id)), inner)
}

// Emit makes the emitter log (topic, data), waits for it to be mined (committing a block on an
// on-demand chain) and returns the initiating message.
func (c *Chain) Emit(ctx context.Context, from Account, topic common.Hash, data []byte) (Emitted, error) {
	tx, err := c.emitTx(ctx, from, topic, data)
	if err != nil {
		return Emitted{}, err
	}
	if err := c.client.SendTransaction(ctx, tx); err != nil {
		return Emitted{}, fmt.Errorf("chain %d: sending emit tx: %w", c.id, err)
	}
	receipt, err := c.WaitReceipt(ctx, tx.Hash())
	if err != nil {
		return Emitted{}, err
	}
	return c.emittedFrom(ctx, receipt, topic, data)
}

// EmitBlock sends one emit tx from each account (topic i+1, data "log i") and has them mined
// together in one block, so the block holds several logs from several txs; commit makes that
// block (Devnet.Commit, to keep an on-demand devnet in lockstep; nil on a timed chain). It
// returns the messages in log-index order.
func (c *Chain) EmitBlock(ctx context.Context, from []Account, commit func()) ([]Emitted, error) {
	txs := make([]*types.Transaction, len(from))
	topic := func(i int) common.Hash { return common.BigToHash(big.NewInt(int64(i + 1))) }
	data := func(i int) []byte { return fmt.Appendf(nil, "log %d", i) }
	for i, a := range from {
		tx, err := c.emitTx(ctx, a, topic(i), data(i))
		if err != nil {
			return nil, err
		}
		if err := c.client.SendTransaction(ctx, tx); err != nil {
			return nil, fmt.Errorf("chain %d: sending emit tx: %w", c.id, err)
		}
		txs[i] = tx
	}
	if commit != nil {
		commit()
	}
	out := make([]Emitted, len(txs))
	for i, tx := range txs {
		r, err := c.WaitReceipt(ctx, tx.Hash())
		if err != nil {
			return nil, err
		}
		e, err := c.emittedFrom(ctx, r, topic(i), data(i))
		if err != nil {
			return nil, err
		}
		if i > 0 && e.BlockHash != out[0].BlockHash {
			return nil, fmt.Errorf("chain %d: the emit txs were mined in different blocks", c.id)
		}
		out[i] = e
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID.LogIndex < out[j].ID.LogIndex })
	return out, nil
}

func (c *Chain) emittedFrom(ctx context.Context, r *types.Receipt, topic common.Hash, data []byte) (Emitted, error) {
	if r.Status != types.ReceiptStatusSuccessful || len(r.Logs) != 1 {
		return Emitted{}, fmt.Errorf("chain %d: emit tx %s failed (status %d, %d logs)", c.id, r.TxHash, r.Status, len(r.Logs))
	}
	header, err := c.client.HeaderByHash(ctx, r.BlockHash)
	if err != nil {
		return Emitted{}, err
	}
	lg := r.Logs[0]
	e := Emitted{
		ID: accesslist.Identifier{
			Origin: lg.Address, BlockNumber: lg.BlockNumber, LogIndex: uint32(lg.Index),
			Timestamp: header.Time, ChainID: *uint256.NewInt(c.id),
		},
		Topics: lg.Topics, Data: lg.Data, BlockHash: r.BlockHash, TxHash: r.TxHash,
	}
	e.PayloadHash = accesslist.PayloadHash(e.Topics, e.Data)
	return e, nil
}

// Pending is a message whose block is not mined yet: ID predicts where it will be.
type Pending struct {
	Emitted
	chain *Chain
	topic common.Hash
	data  []byte
}

// EmitPending sends an emit tx without mining it and predicts its identifier: the next block,
// log index 0, at the next block's timestamp (the head's plus the block time). Only on-demand
// chains, with no other pending tx.
func (c *Chain) EmitPending(ctx context.Context, from Account, topic common.Hash, data []byte) (*Pending, error) {
	if !c.OnDemand() {
		return nil, errors.New("EmitPending needs an on-demand chain (block_time 0)")
	}
	head := c.Head()
	tx, err := c.emitTx(ctx, from, topic, data)
	if err != nil {
		return nil, err
	}
	if err := c.client.SendTransaction(ctx, tx); err != nil {
		return nil, err
	}
	p := &Pending{chain: c, topic: topic, data: data}
	p.Emitted = Emitted{
		ID: accesslist.Identifier{
			Origin: EmitterAddress, BlockNumber: head.Number.Uint64() + 1, LogIndex: 0,
			Timestamp: head.Time + c.step, ChainID: *uint256.NewInt(c.id),
		},
		Topics: []common.Hash{topic}, Data: data, TxHash: tx.Hash(),
	}
	p.PayloadHash = accesslist.PayloadHash(p.Topics, p.Data)
	return p, nil
}

// Mine commits the pending message's block and checks that the prediction held.
func (p *Pending) Mine(ctx context.Context) (Emitted, error) {
	p.chain.Commit()
	r, err := p.chain.client.TransactionReceipt(ctx, p.TxHash)
	if err != nil {
		return Emitted{}, fmt.Errorf("chain %d: pending message not mined: %w", p.chain.id, err)
	}
	got, err := p.chain.emittedFrom(ctx, r, p.topic, p.data)
	if err != nil {
		return Emitted{}, err
	}
	if got.ID != p.ID {
		return got, fmt.Errorf("chain %d: predicted %+v, mined %+v", p.chain.id, p.ID, got.ID)
	}
	return got, nil
}

// ExecutingTx builds a signed type-2 tx on this chain that executes the given inbox keys: its
// access list names the CrossL2Inbox with those keys, and it calls the inbox with no data (the
// devnet's inbox does nothing then; the point is the access list). Nonce 0 means the account's
// pending nonce.
func (c *Chain) ExecutingTx(ctx context.Context, from Account, nonce uint64, keys []common.Hash) (*types.Transaction, error) {
	return c.inboxTx(ctx, from, nonce, inboxCall{keys: keys, gas: 50_000 + 2_000*uint64(len(keys))})
}
