//go:build opgeth

package devnet

import (
	"errors"

	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/miner"
)

// fullBlock waits for the payload with the pool's transactions in it (op-geth's ResolveFull
// alone interrupts the filling).
func (c *Chain) fullBlock(p *miner.Payload, beaconRoot common.Hash) (*types.Block, error) {
	p.WaitFull()
	return c.toBlock(p.ResolveFull(), beaconRoot)
}

// withoutPool: op-geth builds only the empty payload when told not to use its pool.
func withoutPool(args *miner.BuildPayloadArgs) { args.NoTxPool = true }

func (c *Chain) toBlock(env *engine.ExecutionPayloadEnvelope, beaconRoot common.Hash) (*types.Block, error) {
	if env == nil {
		return nil, errors.New("no payload")
	}
	return engine.ExecutableDataToBlock(*env.ExecutionPayload, []common.Hash{}, &beaconRoot, env.Requests, c.eth.BlockChain().Config())
}
