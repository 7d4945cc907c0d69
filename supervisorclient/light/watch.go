package light

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/holiman/uint256"
)

// watchState is what Watch learns of the chains.
type watchState struct {
	on        atomic.Bool  // Watch is running: readiness and failsafe apply
	failAfter atomic.Int64 // nanoseconds a chain may be unreadable before failsafe; 0 = never
}

// StartWatch reads every chain once (each read bounded by the upstream timeout), so a filter
// whose chains answer is initialized when it starts serving, then runs Watch in the background;
// readiness and failsafe apply from its return.
func (c *Checker) StartWatch(ctx context.Context, interval, failAfter time.Duration) {
	c.watch.failAfter.Store(int64(failAfter))
	c.watch.on.Store(true)
	c.readChains(ctx)
	go c.Watch(ctx, interval, failAfter)
}

// readChains reads every chain's latest block once, concurrently, recording which answered
// and the block's timestamp (the lockstep rule's input).
func (c *Checker) readChains(ctx context.Context) {
	var wg sync.WaitGroup
	for _, up := range c.chains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, up.timeout)
			defer cancel()
			_ = up.readLatest(rctx) // a failure shows as the chain's age (Failsafe)
		}()
	}
	wg.Wait()
}

// Watch reads every chain's latest block every interval until ctx ends, so the checker knows
// which chains it can read, as op-interop-filter knows from its ingestion: until every chain has
// been read once, checks answer -320400 (uninitialized); once a chain could not be read for
// longer than failAfter (0: never), Failsafe reports true until it can be read again. Successful
// reads by checks count too.
func (c *Checker) Watch(ctx context.Context, interval, failAfter time.Duration) {
	c.watch.failAfter.Store(int64(failAfter))
	c.watch.on.Store(true)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		c.readChains(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// readOK records a successful read of the chain.
func (u *upstream) readOK() { u.lastOK.Store(time.Now().UnixNano()) }

// initialized reports whether every chain has been read at least once (always true when Watch
// is not running).
func (c *Checker) initialized() bool {
	if !c.watch.on.Load() {
		return true
	}
	for _, up := range c.chains {
		if up.lastOK.Load() == 0 {
			return false
		}
	}
	return true
}

// Failsafe reports whether a chain of the set could not be read for longer than Watch's
// failAfter: the checker cannot prove anything about it, and says so as the reference does.
func (c *Checker) Failsafe() bool {
	bound := time.Duration(c.watch.failAfter.Load())
	if !c.watch.on.Load() || bound <= 0 {
		return false
	}
	now := time.Now().UnixNano()
	for _, up := range c.chains {
		last := up.lastOK.Load()
		if last == 0 {
			continue // not read yet: uninitialized, not failsafe
		}
		if time.Duration(now-last) > bound {
			return true
		}
	}
	return false
}

// BlockHash is the hash of chain's block at number, or of its latest block (for
// interop_getBlockHashByNumber).
func (c *Checker) BlockHash(ctx context.Context, chainID, number uint64, latest bool) (common.Hash, error) {
	up := c.chains[*uint256.NewInt(chainID)]
	if up == nil {
		return common.Hash{}, fmt.Errorf("chain %d: unknown chain", chainID)
	}
	var arg any = hexutil.Uint64(number)
	if latest {
		arg = "latest"
	} else if number > maxBlockNumber {
		return common.Hash{}, fmt.Errorf("block %d for chain %d: not found", number, chainID)
	}
	var h *header
	elems := []rpc.BatchElem{{Method: "eth_getBlockByNumber", Args: []any{arg, false}, Result: &h}}
	if err := up.batch(ctx, "eth_getBlockByNumber", elems); err != nil {
		return common.Hash{}, err
	}
	if elems[0].Error != nil {
		return common.Hash{}, elems[0].Error
	}
	if h == nil {
		return common.Hash{}, errors.New("not found")
	}
	return h.Hash, nil
}
