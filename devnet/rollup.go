package devnet

import (
	"encoding/json"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// RollupConfig is the part of an OP Stack rollup config (op-node's rollup.Config JSON) that a
// chain of the devnet can honestly fill: its ID, its genesis block and time, and its block
// time. op-interop-filter reads genesis.l2.number, genesis.l2_time, block_time and
// l2_chain_id; the L1 fields are plausible placeholders, for tools that insist on them.
type RollupConfig struct {
	Genesis           RollupGenesis  `json:"genesis"`
	BlockTime         uint64         `json:"block_time"`
	MaxSequencerDrift uint64         `json:"max_sequencer_drift"`
	SeqWindowSize     uint64         `json:"seq_window_size"`
	ChannelTimeout    uint64         `json:"channel_timeout"`
	L1ChainID         *big.Int       `json:"l1_chain_id"`
	L2ChainID         *big.Int       `json:"l2_chain_id"`
	BatchInbox        common.Address `json:"batch_inbox_address"`
	DepositContract   common.Address `json:"deposit_contract_address"`
	L1SystemConfig    common.Address `json:"l1_system_config_address"`
	InteropTime       *uint64        `json:"interop_time"`
}

// RollupGenesis is the rollup config's genesis: the L2 block the chain starts from.
type RollupGenesis struct {
	L1           BlockID         `json:"l1"`
	L2           BlockID         `json:"l2"`
	L2Time       uint64          `json:"l2_time"`
	SystemConfig json.RawMessage `json:"system_config"`
}

// BlockID names a block by hash and number.
type BlockID struct {
	Hash   common.Hash `json:"hash"`
	Number uint64      `json:"number"`
}

// placeholderL1ChainID is the L1 the rollup configs name: the devnet has none.
const placeholderL1ChainID = 900

// RollupConfig describes the chain as an OP Stack rollup config: block n at
// genesis.l2_time + n·block_time, interop active from genesis.
func (c *Chain) RollupConfig() RollupConfig {
	genesis := c.eth.BlockChain().Genesis()
	zero := uint64(0)
	return RollupConfig{
		Genesis: RollupGenesis{
			L2: BlockID{Hash: genesis.Hash(), Number: 0}, L2Time: genesis.Time(),
			SystemConfig: json.RawMessage(`{"batcherAddr":"0x0000000000000000000000000000000000000000","overhead":"0x0000000000000000000000000000000000000000000000000000000000000000","scalar":"0x0000000000000000000000000000000000000000000000000000000000000000","gasLimit":30000000}`),
		},
		BlockTime: c.step, MaxSequencerDrift: 600, SeqWindowSize: 3600, ChannelTimeout: 300,
		L1ChainID: big.NewInt(placeholderL1ChainID), L2ChainID: new(big.Int).SetUint64(c.id),
		InteropTime: &zero,
	}
}
