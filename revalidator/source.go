package revalidator

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/interopgate/interopgate/accesslist"
)

// head is what a cycle needs of the node's latest block.
type head struct {
	Number   hexutil.Uint64 `json:"number"`
	Hash     common.Hash    `json:"hash"`
	Parent   common.Hash    `json:"parentHash"`
	Time     hexutil.Uint64 `json:"timestamp"`
	GasLimit hexutil.Uint64 `json:"gasLimit"`
	BaseFee  *hexutil.Big   `json:"baseFeePerGas"`
}

// poolTx is a transaction as txpool_content lists it.
type poolTx struct {
	Hash       common.Hash      `json:"hash"`
	From       common.Address   `json:"from"`
	Nonce      hexutil.Uint64   `json:"nonce"`
	Gas        hexutil.Uint64   `json:"gas"`
	GasPrice   *hexutil.Big     `json:"gasPrice"`
	MaxFee     *hexutil.Big     `json:"maxFeePerGas"`
	MaxTip     *hexutil.Big     `json:"maxPriorityFeePerGas"`
	AccessList types.AccessList `json:"accessList"`
}

// node reads the local execution client.
type node struct{ c *rpc.Client }

// nodeDialTimeout bounds the dial of the node (a ws:// node's handshake; an http:// one dials
// lazily): a peer that accepts and never answers must not hold the start (found by a review).
const nodeDialTimeout = 10 * time.Second

func dialNode(ctx context.Context, url string) (*node, error) {
	ctx, cancel := context.WithTimeout(ctx, nodeDialTimeout)
	defer cancel()
	c, err := rpc.DialContext(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", url, err)
	}
	return &node{c: c}, nil
}

func (n *node) close() { n.c.Close() }

func (n *node) head(ctx context.Context) (head, error) {
	var h head
	err := n.c.CallContext(ctx, &h, "eth_getBlockByNumber", "latest", false)
	return h, err
}

// pending reads the node's pool (txpool_content): its pending txs, and its queued ones marked
// queued (behind a nonce gap: no builder takes them until it is filled, but their verdicts must
// be known by then). An interop tx keeps its signed bytes (rebuilt from the listing), so it can
// be sent back if the node drops it.
func (n *node) pending(ctx context.Context, now time.Time) ([]*tracked, error) {
	var content struct {
		Pending map[common.Address]map[string]json.RawMessage `json:"pending"`
		Queued  map[common.Address]map[string]json.RawMessage `json:"queued"`
	}
	if err := n.c.CallContext(ctx, &content, "txpool_content"); err != nil {
		return nil, err
	}
	var out []*tracked
	for part, txs := range map[string]map[common.Address]map[string]json.RawMessage{"pending": content.Pending, "queued": content.Queued} {
		for _, byNonce := range txs {
			for _, raw := range byNonce {
				var p poolTx
				if err := json.Unmarshal(raw, &p); err != nil {
					return nil, fmt.Errorf("txpool_content: %w", err)
				}
				t := p.tracked(now)
				t.queued = part == "queued"
				if t.interop() {
					var tx types.Transaction
					if tx.UnmarshalJSON(raw) == nil && tx.Hash() == t.hash {
						t.raw, _ = tx.MarshalBinary()
					}
				}
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// headAt reads the node's block at number n.
func (n *node) headAt(ctx context.Context, number uint64) (head, error) {
	var h head
	err := n.c.CallContext(ctx, &h, "eth_getBlockByNumber", hexutil.Uint64(number), false)
	return h, err
}

// content reads every tx of the node's pool, pending and queued, signed, in sender and nonce
// order: what the clear-txpool lever sends back.
func (n *node) content(ctx context.Context) ([]*types.Transaction, error) {
	var content map[string]map[common.Address]map[string]*types.Transaction
	if err := n.c.CallContext(ctx, &content, "txpool_content"); err != nil {
		return nil, err
	}
	type keyed struct {
		from common.Address
		tx   *types.Transaction
	}
	var all []keyed
	for _, part := range []string{"pending", "queued"} {
		for from, byNonce := range content[part] {
			for _, tx := range byNonce {
				all = append(all, keyed{from, tx})
			}
		}
	}
	slices.SortFunc(all, func(a, b keyed) int {
		if c := a.from.Cmp(b.from); c != 0 {
			return c
		}
		return cmp.Compare(a.tx.Nonce(), b.tx.Nonce())
	})
	out := make([]*types.Transaction, len(all))
	for i, k := range all {
		out[i] = k.tx
	}
	return out, nil
}

// clearTxpool is reth's admin_clearTxpool: every tx out of the node's pool; it answers how many.
func (n *node) clearTxpool(ctx context.Context) (uint64, error) {
	var removed uint64
	err := n.c.CallContext(ctx, &removed, "admin_clearTxpool")
	return removed, err
}

// nonces reads the senders' nonces at the latest block, in one batch. (Not "pending": a tx the
// node holds again would make its own nonce look used; a replacement in the pool is told apart
// by the node's "replacement transaction underpriced" when the tx is sent back.)
func (n *node) nonces(ctx context.Context, senders []common.Address) (map[common.Address]uint64, error) {
	out := make([]hexutil.Uint64, len(senders))
	batch := make([]rpc.BatchElem, len(senders))
	for i, s := range senders {
		batch[i] = rpc.BatchElem{Method: "eth_getTransactionCount", Args: []any{s, "latest"}, Result: &out[i]}
	}
	if err := n.c.BatchCallContext(ctx, batch); err != nil {
		return nil, err
	}
	m := make(map[common.Address]uint64, len(senders))
	for i, s := range senders {
		if batch[i].Error == nil {
			m[s] = uint64(out[i])
		}
	}
	return m, nil
}

// send sends signed txs to the node in one batch; one error per tx (nil: taken).
func (n *node) send(ctx context.Context, raws [][]byte) ([]error, error) {
	batch := make([]rpc.BatchElem, len(raws))
	for i, raw := range raws {
		batch[i] = rpc.BatchElem{Method: "eth_sendRawTransaction", Args: []any{hexutil.Bytes(raw)}, Result: new(common.Hash)}
	}
	if err := n.c.BatchCallContext(ctx, batch); err != nil {
		return nil, err
	}
	errs := make([]error, len(raws))
	for i := range batch {
		errs[i] = batch[i].Error
	}
	return errs, nil
}

func (p *poolTx) tracked(now time.Time) *tracked {
	t := &tracked{hash: p.Hash, sender: p.From, nonce: uint64(p.Nonce), gas: uint64(p.Gas), firstSeen: now}
	switch {
	case p.MaxFee != nil:
		t.feeCap, t.tip = clampWei(p.MaxFee.ToInt()), clampWei(p.MaxTip.ToInt())
	case p.GasPrice != nil:
		t.feeCap = clampWei(p.GasPrice.ToInt())
		t.tip = t.feeCap
	}
	t.setKeys(accesslist.InboxKeysOf(p.AccessList))
	return t
}

// fromRaw tracks a signed tx (from the gateway's feed, or a builder's question).
func fromRaw(raw []byte, chainID uint64, now time.Time) (*tracked, error) {
	var tx types.Transaction
	if err := tx.UnmarshalBinary(raw); err != nil {
		return nil, err
	}
	from, err := types.Sender(types.LatestSignerForChainID(new(big.Int).SetUint64(chainID)), &tx)
	if err != nil {
		return nil, err
	}
	t := &tracked{hash: tx.Hash(), sender: from, nonce: tx.Nonce(), gas: tx.Gas(), firstSeen: now,
		tip: clampWei(tx.GasTipCap()), feeCap: clampWei(tx.GasFeeCap()), raw: raw}
	t.setKeys(accesslist.InboxKeysOf(tx.AccessList()))
	return t, nil
}

func (t *tracked) setKeys(keys []common.Hash) {
	t.keys = keys
	if len(keys) == 0 {
		return
	}
	msgs, err := accesslist.ParseMessages(keys)
	if err != nil {
		t.badKeys = err
		return
	}
	t.msgs = accesslist.Dedup(msgs)
}
