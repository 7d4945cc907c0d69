package devnet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/catalyst"
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
	// BlockTime between blocks; 0 means blocks are made only by Commit.
	BlockTime time.Duration
	// HTTPHost and HTTPPort of the JSON-RPC server (default 127.0.0.1, port 0 = any free port).
	HTTPHost string
	HTTPPort int
	// Alloc is added to the genesis state (funded accounts, contracts).
	Alloc types.GenesisAlloc
}

// Chain is one running geth chain. Its methods are safe for concurrent use; block production
// (the timer, Commit, Reorg) is serialised.
type Chain struct {
	id     uint64
	log    *zap.Logger
	stack  *node.Node
	eth    *eth.Ethereum
	beacon *catalyst.SimulatedBeacon
	rpc    *rpc.Client
	client *ethclient.Client

	mu        sync.Mutex // serialises block production
	blockTime time.Duration
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
	if cfg.HTTPHost == "" {
		cfg.HTTPHost = "127.0.0.1"
	}
	nodeConf := node.Config{
		Name:             fmt.Sprintf("devnet-%d", cfg.ChainID),
		DataDir:          "", // in memory
		HTTPHost:         cfg.HTTPHost,
		HTTPPort:         cfg.HTTPPort,
		HTTPModules:      httpModules,
		HTTPVirtualHosts: []string{"*"},
		HTTPCors:         []string{"*"},
		P2P:              p2p.Config{NoDiscovery: true, MaxPeers: 0, ListenAddr: ""},
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
		Timestamp: uint64(time.Now().Unix()) - 1,
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
	if err := stack.Start(); err != nil {
		stack.Close()
		return nil, fmt.Errorf("devnet chain %d: starting node: %w", cfg.ChainID, err)
	}
	// Period 0: the beacon never mines by itself; Chain drives it, so that the timer, Commit
	// and Reorg cannot race each other.
	beacon, err := catalyst.NewSimulatedBeacon(0, common.Address{}, backend)
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("devnet chain %d: simulated beacon: %w", cfg.ChainID, err)
	}
	rpcClient := stack.Attach()
	c := &Chain{
		id: cfg.ChainID, log: log.With(zap.Uint64("chain", cfg.ChainID)),
		stack: stack, eth: backend, beacon: beacon,
		rpc: rpcClient, client: ethclient.NewClient(rpcClient),
		blockTime: cfg.BlockTime, stop: make(chan struct{}), done: make(chan struct{}),
	}
	if cfg.BlockTime > 0 {
		go c.timer()
	} else {
		close(c.done)
	}
	c.log.Info("devnet chain started", zap.String("rpc", c.RPCURL()), zap.Duration("block_time", cfg.BlockTime))
	return c, nil
}

func (c *Chain) timer() {
	defer close(c.done)
	t := time.NewTicker(c.blockTime)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.Commit()
		}
	}
}

// ID is the chain ID.
func (c *Chain) ID() uint64 { return c.id }

// RPCURL is the chain's HTTP JSON-RPC endpoint.
func (c *Chain) RPCURL() string { return c.stack.HTTPEndpoint() }

// Client is an in-process client of the chain.
func (c *Chain) Client() *ethclient.Client { return c.client }

// RPC is the in-process RPC client of the chain.
func (c *Chain) RPC() *rpc.Client { return c.rpc }

// OnDemand reports whether blocks are made only by Commit.
func (c *Chain) OnDemand() bool { return c.blockTime == 0 }

// Commit makes a block now, with the pending transactions, and returns its header.
func (c *Chain) Commit() *types.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.beacon.Commit()
	return c.eth.BlockChain().CurrentBlock()
}

// Head returns the current head header.
func (c *Chain) Head() *types.Header { return c.eth.BlockChain().CurrentBlock() }

// HeaderByNumber returns the canonical header at n, or nil.
func (c *Chain) HeaderByNumber(n uint64) *types.Header {
	return c.eth.BlockChain().GetHeaderByNumber(n)
}

// advanceTime makes an empty block whose timestamp is d after the head's. Blocks that follow
// it, made faster than the wall clock, have timestamps one second apart and are predictable.
func (c *Chain) advanceTime(d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.beacon.AdjustTime(d)
}

// Reorg replaces the last depth blocks with as many empty blocks plus one, so the new chain is
// longer and canonical. Transactions of the replaced blocks and pending ones are dropped: a
// message they initiated disappears from its block. It needs at least depth blocks above
// genesis.
func (c *Chain) Reorg(depth uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	head := c.eth.BlockChain().CurrentBlock()
	if depth == 0 || depth > head.Number.Uint64() {
		return fmt.Errorf("reorg depth %d: chain %d has %d blocks above genesis", depth, c.id, head.Number.Uint64())
	}
	ancestor := c.eth.BlockChain().GetHeaderByNumber(head.Number.Uint64() - depth)
	c.beacon.Rollback()
	if err := c.beacon.Fork(ancestor.Hash()); err != nil {
		return fmt.Errorf("reorg chain %d: %w", c.id, err)
	}
	// The pool re-injects the dropped blocks' transactions on the rewind: drop them again.
	if err := c.eth.TxPool().Sync(); err != nil {
		return err
	}
	c.beacon.Rollback()
	for i := uint64(0); i <= depth; i++ {
		c.beacon.Commit()
	}
	if got := c.eth.BlockChain().CurrentBlock().Number.Uint64(); got != head.Number.Uint64()+1 {
		return fmt.Errorf("reorg chain %d: head is %d after the reorg, want %d", c.id, got, head.Number.Uint64()+1)
	}
	return nil
}

// Close stops the timer and the node. It may be called more than once.
func (c *Chain) Close() error {
	c.closeOnce.Do(func() {
		close(c.stop)
		<-c.done
		c.rpc.Close()
		c.closeErr = errors.Join(c.beacon.Stop(), c.stack.Close())
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
