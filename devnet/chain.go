package devnet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/eth/filters"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
	"go.uber.org/zap"
)

// ChainConfig configures one chain.
type ChainConfig struct {
	// ChainID of the chain (required, non-zero).
	ChainID uint64
	// BlockTime between blocks, in whole seconds; 0 means blocks are made only by Commit,
	// one second of chain time apart.
	BlockTime time.Duration
	// GenesisTime is the timestamp of block 0; block n is at GenesisTime + n·block_time
	// (default: now).
	GenesisTime uint64
	// HTTPHost and HTTPPort of the JSON-RPC server (default 127.0.0.1, port 0 = any free port).
	HTTPHost string
	HTTPPort int
	// Alloc is added to the genesis state (funded accounts, contracts).
	Alloc types.GenesisAlloc
	// PoolPolicy, when set, builds the rules the chain's pool follows besides geth's own (see
	// PoolPolicy; opreth.New builds op-reth's). It is called once the chain runs.
	PoolPolicy func(*Chain) (PoolPolicy, error)
	// AdminAPI serves the admin namespace over HTTP (geth's `--http.api admin`), with
	// admin_clearTxpool as reth has it: every tx out of the pool, their count answered.
	AdminAPI bool
}

// Chain is one running geth chain. Its methods are safe for concurrent use; block production
// (the timer, Commit, Reorg) is serialised.
type Chain struct {
	id     uint64
	log    *zap.Logger
	stack  *node.Node
	eth    *eth.Ethereum
	rpc    *rpc.Client
	client *ethclient.Client

	mu        sync.Mutex    // serialises block production
	peers     []*Chain      // on-demand chains of the same devnet: they commit together
	blockTime time.Duration // of the timer; 0: on demand
	step      uint64        // seconds of chain time per block (the rollup config's block_time)
	send      *sendAPI      // eth_sendRawTransaction through a pool policy; nil: geth's own
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// httpModules are the namespaces the chain serves over HTTP.
var httpModules = []string{"eth", "net", "web3", "txpool"}

// StartChain starts a chain and, if BlockTime is set, its block timer.
func StartChain(cfg ChainConfig, log *zap.Logger) (*Chain, error) {
	if cfg.ChainID == 0 {
		return nil, errors.New("devnet chain: chain_id must be non-zero")
	}
	if cfg.BlockTime < 0 || cfg.BlockTime%time.Second != 0 {
		return nil, fmt.Errorf("devnet chain %d: block time %s is not a whole number of seconds (block n is at genesis + n·block_time)", cfg.ChainID, cfg.BlockTime)
	}
	if cfg.HTTPHost == "" {
		cfg.HTTPHost = "127.0.0.1"
	}
	if cfg.GenesisTime == 0 {
		cfg.GenesisTime = uint64(time.Now().Unix())
	}
	modules := httpModules
	if cfg.AdminAPI {
		modules = append(slices.Clone(httpModules), "admin")
	}
	nodeConf := node.Config{
		Name:             fmt.Sprintf("devnet-%d", cfg.ChainID),
		DataDir:          "", // in memory
		HTTPHost:         cfg.HTTPHost,
		HTTPPort:         cfg.HTTPPort,
		HTTPModules:      modules,
		HTTPVirtualHosts: []string{"*"},
		HTTPCors:         []string{"*"},
		// WebSocket on the same port (subscriptions: a gateway's WebSocket clients).
		WSHost:    cfg.HTTPHost,
		WSPort:    cfg.HTTPPort,
		WSModules: modules,
		WSOrigins: []string{"*"},
		P2P:       p2p.Config{NoDiscovery: true, MaxPeers: 0, ListenAddr: ""},
		// geth's own limits on JSON-RPC batches (1,000 calls, 25 MB), so clients meet them here.
		BatchRequestLimit:    node.DefaultConfig.BatchRequestLimit,
		BatchResponseMaxSize: node.DefaultConfig.BatchResponseMaxSize,
	}
	stack, err := node.New(&nodeConf)
	if err != nil {
		return nil, fmt.Errorf("devnet chain %d: %w", cfg.ChainID, err)
	}
	chainConfig := *params.AllDevChainProtocolChanges
	chainConfig.ChainID = new(big.Int).SetUint64(cfg.ChainID)
	alloc := systemContracts()
	maps.Copy(alloc, cfg.Alloc)

	ethConf := ethconfig.Defaults
	ethConf.NetworkId = cfg.ChainID
	ethConf.Genesis = &core.Genesis{
		Config:    &chainConfig,
		GasLimit:  ethconfig.Defaults.Miner.GasCeil,
		Alloc:     alloc,
		Timestamp: cfg.GenesisTime,
	}
	ethConf.SyncMode = ethconfig.FullSync
	ethConf.TxPool.NoLocals = true
	ethConf.Miner.GasPrice = big.NewInt(1)

	backend, err := eth.New(stack, &ethConf)
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("devnet chain %d: %w", cfg.ChainID, err)
	}
	stack.RegisterAPIs([]rpc.API{{
		Namespace: "eth",
		Service:   filters.NewFilterAPI(filters.NewFilterSystem(backend.APIBackend, filters.Config{})),
	}})
	var send *sendAPI
	if cfg.PoolPolicy != nil {
		send = &sendAPI{} // registered after geth's eth API, so its method replaces geth's
		stack.RegisterAPIs([]rpc.API{{Namespace: "eth", Service: send}})
	}
	admin := &adminAPI{}
	if cfg.AdminAPI {
		stack.RegisterAPIs([]rpc.API{{Namespace: "admin", Service: admin}})
	}
	if err := stack.Start(); err != nil {
		stack.Close()
		return nil, fmt.Errorf("devnet chain %d: starting node: %w", cfg.ChainID, err)
	}
	rpcClient := stack.Attach()
	c := &Chain{
		id: cfg.ChainID, log: log.With(zap.Uint64("chain", cfg.ChainID)),
		stack: stack, eth: backend,
		rpc: rpcClient, client: ethclient.NewClient(rpcClient),
		blockTime: cfg.BlockTime, step: max(uint64(cfg.BlockTime/time.Second), 1),
		stop: make(chan struct{}), done: make(chan struct{}), send: send,
	}
	admin.chain = c
	if send != nil {
		send.chain = c
		if err := c.startPolicy(cfg.PoolPolicy); err != nil {
			stack.Close()
			return nil, err
		}
	}
	if cfg.BlockTime > 0 {
		go c.timer()
	} else {
		close(c.done)
	}
	c.log.Info("devnet chain started", zap.String("rpc", c.RPCURL()), zap.Duration("block_time", cfg.BlockTime))
	return c, nil
}

// timer makes block n when the wall clock reaches its timestamp, genesis + n·block_time, so
// every chain of a devnet started with one genesis time moves in lockstep.
func (c *Chain) timer() {
	defer close(c.done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		next := time.Unix(int64(c.Head().Time+c.step), 0)
		t.Reset(time.Until(next))
		select {
		case <-c.stop:
			return
		case <-t.C:
			if time.Now().Before(next) {
				continue // a reorg or Commit moved the head meanwhile
			}
			c.commitOne(false)
		}
	}
}

// ID is the chain ID.
func (c *Chain) ID() uint64 { return c.id }

// RPCURL is the chain's HTTP JSON-RPC endpoint.
func (c *Chain) RPCURL() string { return c.stack.HTTPEndpoint() }

// WSURL is the chain's JSON-RPC WebSocket (the same port as RPCURL).
func (c *Chain) WSURL() string { return c.stack.WSEndpoint() }

// Client is an in-process client of the chain.
func (c *Chain) Client() *ethclient.Client { return c.client }

// RPC is the in-process RPC client of the chain.
func (c *Chain) RPC() *rpc.Client { return c.rpc }

// OnDemand reports whether blocks are made only by Commit.
func (c *Chain) OnDemand() bool { return c.blockTime == 0 }

// GenesisTime is the timestamp of block 0.
func (c *Chain) GenesisTime() uint64 { return c.eth.BlockChain().Genesis().Time() }

// BlockTime is the chain time between blocks, in seconds (1 on an on-demand chain): block n is
// at GenesisTime() + n·BlockTime().
func (c *Chain) BlockTime() uint64 { return c.step }

// Commit makes the next block, with the pending transactions, at its timestamp (the head's
// plus the block time, whatever the wall clock says), and returns its header. On an on-demand
// devnet every other chain makes an empty next block at the same time, so the chains stay in
// lockstep (the reference filter judges nothing newer than its slowest chain) and their
// pending transactions stay pending. On failure, which only a broken node can cause, it logs
// and returns the unchanged head.
func (c *Chain) Commit() *types.Header {
	h := c.commitOne(false)
	c.tickPeers()
	return h
}

// CommitAlone makes this chain's next block only, leaving the other chains of an on-demand
// devnet behind: how to see what a lagging chain of the set does.
func (c *Chain) CommitAlone() *types.Header { return c.commitOne(false) }

// tickPeers makes an empty block on the other chains of an on-demand devnet.
func (c *Chain) tickPeers() {
	for _, p := range c.peers {
		p.commitOne(true)
	}
}

// commitOne makes this chain's next block only; empty leaves the pool's transactions out.
func (c *Chain) commitOne(empty bool) *types.Header {
	if !empty {
		c.beforeBuild()
	}
	c.mu.Lock()
	head := c.eth.BlockChain().CurrentBlock()
	h, err := c.seal(head, head.Time+c.step, empty)
	c.mu.Unlock()
	if err != nil {
		c.log.Error("making a block", zap.Error(err))
		return head
	}
	c.committed(h)
	return h
}

// Head returns the current head header.
func (c *Chain) Head() *types.Header { return c.eth.BlockChain().CurrentBlock() }

// HeaderByNumber returns the canonical header at n, or nil.
func (c *Chain) HeaderByNumber(n uint64) *types.Header {
	return c.eth.BlockChain().GetHeaderByNumber(n)
}

// Reorg replaces the last depth blocks with as many empty blocks at the same timestamps, then
// makes one more block so the new chain is longer (on an on-demand devnet the other chains make
// an empty one too, to stay in lockstep). Transactions of the replaced blocks are dropped, not
// put back in the pool as a client would: a message they initiated disappears from its block,
// which keeps its number and timestamp but not its hash. The pool's own txs stay in it (then
// the chain's pool policy, if any, sees the reorg). It needs at least depth blocks above genesis,
// and should stay above the finalized block (8 below the head), as a real chain's reorgs do.
func (c *Chain) Reorg(depth uint64) error {
	if err := c.reorg(depth); err != nil {
		return err
	}
	c.reorged(c.Head())
	c.tickPeers()
	return nil
}

func (c *Chain) reorg(depth uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	bc := c.eth.BlockChain()
	head := bc.CurrentBlock()
	switch {
	case depth == 0:
		return fmt.Errorf("reorg depth 0: a reorg replaces at least one block; give a depth of 1 or more")
	case depth > head.Number.Uint64():
		return fmt.Errorf("reorg depth %d: chain %d has %d blocks above genesis", depth, c.id, head.Number.Uint64())
	}
	ancestor := bc.GetBlockByNumber(head.Number.Uint64() - depth)
	kept := c.PoolTxs()
	c.eth.TxPool().Clear()
	if _, err := bc.SetCanonical(ancestor); err != nil {
		return fmt.Errorf("reorg chain %d: rewinding to %d: %w", c.id, ancestor.NumberU64(), err)
	}
	// The pool re-injects the dropped blocks' transactions on the rewind: drop them again.
	if err := c.eth.TxPool().Sync(); err != nil {
		return err
	}
	c.eth.TxPool().Clear()
	parent := ancestor.Header()
	for range depth + 1 {
		h, err := c.seal(parent, parent.Time+c.step, false)
		if err != nil {
			return fmt.Errorf("reorg chain %d: %w", c.id, err)
		}
		parent = h
	}
	// Back through the pool's validation: a tx whose nonce the new chain used is refused.
	c.eth.TxPool().Add(kept, true)
	return nil
}

// Close stops the timer and the node. It may be called more than once.
func (c *Chain) Close() error {
	c.closeOnce.Do(func() {
		close(c.stop)
		<-c.done
		c.rpc.Close()
		c.closeErr = c.stack.Close()
	})
	return c.closeErr
}

// WaitReceipt polls for tx's receipt until ctx is done. On an on-demand chain it commits a
// block first if the tx is still pending.
func (c *Chain) WaitReceipt(ctx context.Context, txHash common.Hash) (*types.Receipt, error) {
	if c.OnDemand() {
		if r, err := c.client.TransactionReceipt(ctx, txHash); err == nil {
			return r, nil
		}
		c.Commit()
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		r, err := c.client.TransactionReceipt(ctx, txHash)
		if err == nil {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("chain %d: waiting for receipt of %s: %w", c.id, txHash, ctx.Err())
		case <-tick.C:
		}
	}
}
