//go:build opgeth

package devnet

import (
	"errors"
	"time"

	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/miner"
)

// fullBlock waits for the payload with the pool's transactions in it (op-geth's ResolveFull
// alone interrupts the filling). op-geth's WaitFull waits for the next update and misses one
// that came before it was called: a CI run hung there 7 minutes. So it is waited for at most
// fullBlockWait; ResolveFull then takes the full payload built meanwhile, or waits for the one
// under way. (A wait that no update ends stays parked: only when that race is lost.)
func (c *Chain) fullBlock(p *miner.Payload, beaconRoot common.Hash) (*types.Block, error) {
	updated := make(chan struct{})
	go func() { p.WaitFull(); close(updated) }()
	select {
	case <-updated:
	case <-time.After(fullBlockWait):
	}
	return c.toBlock(p.ResolveFull(), beaconRoot)
}

// fullBlockWait bounds the wait for op-geth's first full payload.
const fullBlockWait = 2 * time.Second

// withoutPool: op-geth builds only the empty payload when told not to use its pool.
func withoutPool(args *miner.BuildPayloadArgs) { args.NoTxPool = true }

func (c *Chain) toBlock(env *engine.ExecutionPayloadEnvelope, beaconRoot common.Hash) (*types.Block, error) {
	if env == nil {
		return nil, errors.New("no payload")
	}
	return engine.ExecutableDataToBlock(*env.ExecutionPayload, []common.Hash{}, &beaconRoot, env.Requests, c.eth.BlockChain().Config())
}
