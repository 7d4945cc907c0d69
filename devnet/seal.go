package devnet

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/miner"
)

// finalityDepth: a block is finalized once this many blocks are on top of it, so the
// "finalized" tag moves on a short devnet too (op-interop-filter's reorg recovery rewinds to
// it, and cannot rewind to genesis, which it never ingests). Reorgs must stay above it.
const finalityDepth = 8

// seal builds a block on parent at timestamp ts with what the pool holds (nothing if empty:
// the pool keeps its transactions), and makes it the head. The devnet seals its own blocks, rather than through geth's simulated beacon, because
// the beacon stamps wall-clock times: here block n is always at genesis + n·block_time, as
// an OP Stack chain's rollup config says, and a reorg branch keeps the timestamps it replaces.
// The caller holds c.mu.
func (c *Chain) seal(parent *types.Header, ts uint64, empty bool) (*types.Header, error) {
	if err := c.eth.TxPool().Sync(); err != nil { // the pool has caught up with the head
		return nil, fmt.Errorf("chain %d: syncing the pool: %w", c.id, err)
	}
	var random common.Hash
	_, _ = rand.Read(random[:]) // a fresh prevRandao: a replacement block differs from the one it replaces
	beaconRoot := common.Hash{}
	args := &miner.BuildPayloadArgs{
		Parent: parent.Hash(), Timestamp: ts, Random: random, Withdrawals: types.Withdrawals{},
		BeaconRoot: &beaconRoot, Version: engine.PayloadV3,
	}
	if empty {
		withoutPool(args)
	}
	payload, err := c.eth.Miner().BuildPayload(context.Background(), args, false)
	if err != nil {
		return nil, fmt.Errorf("chain %d: building block %d: %w", c.id, parent.Number.Uint64()+1, err)
	}
	var block *types.Block
	if empty {
		block, err = c.toBlock(payload.ResolveEmpty(), beaconRoot)
	} else {
		block, err = c.fullBlock(payload, beaconRoot)
	}
	if err != nil {
		return nil, fmt.Errorf("chain %d: block %d: %w", c.id, parent.Number.Uint64()+1, err)
	}
	bc := c.eth.BlockChain()
	if _, err := bc.InsertBlockWithoutSetHead(context.Background(), block, false); err != nil {
		return nil, fmt.Errorf("chain %d: importing block %d: %w", c.id, block.NumberU64(), err)
	}
	if _, err := bc.SetCanonical(block); err != nil {
		return nil, fmt.Errorf("chain %d: block %d as head: %w", c.id, block.NumberU64(), err)
	}
	bc.SetSafe(block.Header())
	if fin := bc.GetHeaderByNumber(max(block.NumberU64(), finalityDepth) - finalityDepth); fin != nil {
		bc.SetFinalized(fin)
	}
	return block.Header(), nil
}
