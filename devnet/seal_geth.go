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
	env := p.ResolveFull()
	if env == nil {
		return nil, errors.New("no full payload")
	}
	return engine.ExecutableDataToBlock(*env.ExecutionPayload, []common.Hash{}, &beaconRoot, env.Requests)
}
