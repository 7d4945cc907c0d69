//go:build !opgeth

package devnet

import (
	"errors"

	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/miner"
)

// fullBlock waits for the payload with the pool's transactions in it.
func (c *Chain) fullBlock(p *miner.Payload, beaconRoot common.Hash) (*types.Block, error) {
	return c.toBlock(p.ResolveFull(), beaconRoot)
}

// withoutPool: geth builds the empty payload first anyway (ResolveEmpty).
func withoutPool(*miner.BuildPayloadArgs) {}

func (c *Chain) toBlock(env *engine.ExecutionPayloadEnvelope, beaconRoot common.Hash) (*types.Block, error) {
	if env == nil {
		return nil, errors.New("no payload")
	}
	return engine.ExecutableDataToBlock(*env.ExecutionPayload, []common.Hash{}, &beaconRoot, env.Requests)
}
