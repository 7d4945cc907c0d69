//go:build opgeth

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/catalyst"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/miner"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/params"
)

// opGeth is a real op-geth execution client in this process, its blocks built on demand
// through its own payload builder and imported through the engine API, as op-node drives it.
// Its mempool asks InteropMessageRPC about every interop tx (real-clients.md).
type opGeth struct {
	t       *testing.T
	chainID uint64
	stack   *node.Node
	eth     *eth.Ethereum
	api     *catalyst.ConsensusAPI
	client  *ethclient.Client
	// blockTime is the timestamp step between blocks.
	blockTime uint64

	mu sync.Mutex // serialises block building
}

// L1 info deposit (Jovian layout): from the depositor account to the L1Block predeploy, 178 bytes
// starting with the Jovian selector. Real L1 values are not needed here.
var (
	l1InfoDepositor = common.HexToAddress("0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001")
	l1BlockAddress  = common.HexToAddress("0x4200000000000000000000000000000000000015")
	jovianSelector  = []byte{0x3d, 0xb6, 0xbe, 0x2b}
)

type opGethConfig struct {
	ChainID     uint64
	Alloc       types.GenesisAlloc
	GenesisTime uint64
	BlockTime   uint64
	// InteropRPC is where the mempool checks interop txs; FilterInterval how often it re-checks.
	InteropRPC     string
	FilterInterval time.Duration
}

func startOpGeth(t *testing.T, cfg opGethConfig) *opGeth {
	t.Helper()
	stack, err := node.New(&node.Config{
		Name: fmt.Sprintf("op-geth-%d", cfg.ChainID), DataDir: "",
		HTTPHost: "127.0.0.1", HTTPPort: 0, HTTPModules: []string{"eth", "net", "web3", "txpool"},
		HTTPVirtualHosts: []string{"*"}, P2P: p2p.Config{NoDiscovery: true, MaxPeers: 0, ListenAddr: ""},
	})
	if err != nil {
		t.Fatal(err)
	}
	chainConfig := *params.OptimismTestConfig
	chainConfig.ChainID = new(big.Int).SetUint64(cfg.ChainID)
	zero := uint64(0)
	chainConfig.InteropTime = &zero
	ethConf := ethconfig.Defaults
	ethConf.NetworkId = cfg.ChainID
	ethConf.Genesis = &core.Genesis{
		Config: &chainConfig, Timestamp: cfg.GenesisTime, GasLimit: 30_000_000, Alloc: cfg.Alloc,
		Difficulty: big.NewInt(0), BaseFee: big.NewInt(params.InitialBaseFee),
		ExtraData: eip1559.EncodeOptimismExtraData(&chainConfig, cfg.GenesisTime, 250, 6, &zero),
	}
	ethConf.SyncMode = ethconfig.FullSync
	ethConf.TxPool.NoLocals = true
	ethConf.TxPool.FilterInterval = cfg.FilterInterval
	ethConf.Miner.GasPrice = big.NewInt(1)
	ethConf.InteropMessageRPC = cfg.InteropRPC
	ethConf.InteropMempoolFiltering = true
	backend, err := eth.New(stack, &ethConf)
	if err != nil {
		stack.Close()
		t.Fatal(err)
	}
	if err := stack.Start(); err != nil {
		stack.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { stack.Close() })
	g := &opGeth{t: t, chainID: cfg.ChainID, stack: stack, eth: backend, api: catalyst.NewConsensusAPI(backend),
		client: ethclient.NewClient(stack.Attach()), blockTime: cfg.BlockTime}
	return g
}

func (g *opGeth) RPCURL() string { return g.stack.HTTPEndpoint() }

// l1InfoTx is block n's L1 info deposit: unique per block (its source hash).
func l1InfoTx(n uint64) *types.Transaction {
	data := make([]byte, 178)
	copy(data, jovianSelector)
	var num [8]byte
	binary.BigEndian.PutUint64(num[:], n)
	source := sha256.Sum256(append([]byte("interopgate e2e l1 info "), num[:]...))
	return types.NewTx(&types.DepositTx{SourceHash: source, From: l1InfoDepositor, To: &l1BlockAddress,
		Value: new(big.Int), Gas: 1_000_000, Data: data})
}

// Mine builds the next block with the pool's txs (waiting for the full payload), imports it and
// makes it the head.
func (g *opGeth) Mine(ctx context.Context) *types.Header {
	g.t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	parent := g.eth.BlockChain().CurrentBlock()
	gasLimit, minBaseFee := uint64(30_000_000), uint64(0)
	beaconRoot := common.Hash{}
	args := &miner.BuildPayloadArgs{
		Parent: parent.Hash(), Timestamp: parent.Time + g.blockTime, Random: common.Hash{}, FeeRecipient: common.Address{},
		Withdrawals: types.Withdrawals{}, BeaconRoot: &beaconRoot, Version: engine.PayloadV3,
		Transactions: []*types.Transaction{l1InfoTx(parent.Number.Uint64() + 1)}, GasLimit: &gasLimit,
		EIP1559Params: eip1559.EncodeHolocene1559Params(250, 6), MinBaseFee: &minBaseFee,
	}
	payload, err := g.eth.Miner().BuildPayload(ctx, args, false)
	if err != nil {
		g.t.Fatalf("building a payload: %v", err)
	}
	payload.WaitFull() // a full payload, pool txs in: ResolveFull alone interrupts the filling
	env := payload.ResolveFull()
	if env == nil {
		g.t.Fatal("no full payload")
	}
	requests := make([]hexutil.Bytes, len(env.Requests))
	for i, r := range env.Requests {
		requests[i] = r
	}
	status, err := g.api.NewPayloadV4(ctx, *env.ExecutionPayload, []common.Hash{}, &beaconRoot, requests)
	if err != nil || status.Status != engine.VALID {
		g.t.Fatalf("importing the payload: %v %+v", err, status)
	}
	hash := env.ExecutionPayload.BlockHash
	if _, err := g.api.ForkchoiceUpdatedV3(ctx, engine.ForkchoiceStateV1{HeadBlockHash: hash, SafeBlockHash: hash, FinalizedBlockHash: hash}, nil); err != nil {
		g.t.Fatalf("forkchoice: %v", err)
	}
	return g.eth.BlockChain().CurrentBlock()
}

// inPool reports whether the tx is pending in the pool.
func (g *opGeth) inPool(h common.Hash) bool { return g.eth.TxPool().Get(h) != nil }
