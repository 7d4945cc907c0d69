package devnet

import (
	"context"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"go.uber.org/zap"
)

// PoolPolicy is an execution client's own rules for what its pool takes and keeps, run around
// the chain's real geth pool and payload builder: a devnet chain with one behaves, at its pool,
// as that client would (package opreth models op-reth's interop pool). The chain calls it on
// eth_sendRawTransaction, before each block it builds, after each block it makes and after a
// reorg of itself. Calls about blocks are serialised; Admit runs concurrently with them.
type PoolPolicy interface {
	// Admit decides a tx sent with eth_sendRawTransaction and, to take it, adds it to the pool
	// with Chain.AddTx; its error is the sender's.
	Admit(ctx context.Context, tx *types.Transaction) error
	// BeforeBuild runs before the chain builds a block from its pool.
	BeforeBuild()
	// Committed runs after the chain made head, its new head, by extending itself.
	Committed(head *types.Header)
	// Reorged runs after a reorg of the chain made head its new head.
	Reorged(head *types.Header)
}

// sendAPI replaces geth's eth_sendRawTransaction on a chain with a pool policy.
type sendAPI struct {
	chain  *Chain
	policy PoolPolicy
}

// SendRawTransaction hands the tx to the pool policy and answers its hash, as geth does.
func (s *sendAPI) SendRawTransaction(ctx context.Context, input hexutil.Bytes) (common.Hash, error) {
	tx := new(types.Transaction)
	if err := tx.UnmarshalBinary(input); err != nil {
		return common.Hash{}, err
	}
	if s.policy == nil {
		return common.Hash{}, errors.New("the chain's pool is not ready")
	}
	if err := s.policy.Admit(ctx, tx); err != nil {
		return common.Hash{}, err
	}
	return tx.Hash(), nil
}

// AddTx adds tx to the chain's pool, with geth's own validation (nonce, balance, fees).
func (c *Chain) AddTx(tx *types.Transaction) error {
	return c.eth.TxPool().Add([]*types.Transaction{tx}, true)[0]
}

// PoolTxs returns every tx in the pool, pending and queued.
func (c *Chain) PoolTxs() []*types.Transaction {
	pending, queued := c.eth.TxPool().Content()
	var out []*types.Transaction
	for _, m := range []map[common.Address][]*types.Transaction{pending, queued} {
		for _, txs := range m {
			out = append(out, txs...)
		}
	}
	return out
}

// InPool reports whether the pool holds the tx.
func (c *Chain) InPool(h common.Hash) bool { return c.eth.TxPool().Has(h) }

// RemoveTxs takes the txs out of the pool. geth's pool removes nothing by hash, so the pool is
// emptied and every other tx added back through its validation: what a client that can remove
// one tx does, at a devnet's scale. It returns how many of hashes were in the pool.
func (c *Chain) RemoveTxs(hashes []common.Hash) int {
	drop := map[common.Hash]bool{}
	for _, h := range hashes {
		drop[h] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var keep []*types.Transaction
	removed := 0
	for _, tx := range c.PoolTxs() {
		if drop[tx.Hash()] {
			removed++
		} else {
			keep = append(keep, tx)
		}
	}
	if removed == 0 {
		return 0
	}
	pool := c.eth.TxPool()
	pool.Clear()
	for i, err := range pool.Add(keep, true) {
		if err != nil {
			c.log.Warn("a tx did not come back after a removal from the pool", zap.String("tx", keep[i].Hash().Hex()), zap.Error(err))
		}
	}
	return removed
}

// beforeBuild, committed and reorged call the chain's pool policy, if it has one, around block
// production.
func (c *Chain) beforeBuild() {
	if c.send != nil && c.send.policy != nil {
		c.send.policy.BeforeBuild()
	}
}

func (c *Chain) committed(h *types.Header) {
	if c.send != nil && c.send.policy != nil {
		c.send.policy.Committed(h)
	}
}

func (c *Chain) reorged(h *types.Header) {
	if c.send != nil && c.send.policy != nil {
		c.send.policy.Reorged(h)
	}
}

// startPolicy builds the chain's pool policy.
func (c *Chain) startPolicy(build func(*Chain) (PoolPolicy, error)) error {
	p, err := build(c)
	if err != nil {
		return fmt.Errorf("devnet chain %d: pool policy: %w", c.id, err)
	}
	c.send.policy = p
	return nil
}

// TxpoolClearer is a pool policy that keeps its own record of the pool's txs: on
// admin_clearTxpool it empties the pool with Chain.ClearPool and forgets them.
type TxpoolClearer interface {
	ClearTxpool() uint64
}

// adminAPI is what a chain with AdminAPI adds to geth's admin namespace.
type adminAPI struct{ chain *Chain }

// ClearTxpool is reth's admin_clearTxpool: every tx, pending and queued, out of the pool; the
// answer is how many there were.
func (a *adminAPI) ClearTxpool() (uint64, error) {
	if a.chain == nil {
		return 0, errors.New("the chain is not ready")
	}
	if s := a.chain.send; s != nil {
		if c, ok := s.policy.(TxpoolClearer); ok {
			return c.ClearTxpool(), nil
		}
	}
	return uint64(a.chain.ClearPool()), nil
}

// ClearPool empties the pool and returns how many txs it held.
func (c *Chain) ClearPool() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.PoolTxs())
	c.eth.TxPool().Clear()
	return n
}
