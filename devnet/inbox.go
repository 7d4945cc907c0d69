package devnet

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/core/vm/program"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/interopgate/interopgate/accesslist"
)

// The CrossL2Inbox of the devnet: a contract at the predeploy's address whose
// validateMessage(Identifier, bytes32) does what the real one does for a message — checks the
// identifier's ranges, computes the message's checksum, reverts unless the tx's access list made
// that checksum's slot warm, and emits ExecutingMessage(msgHash, id) — so a tool that reads
// executing messages from blocks (op-interop-filter's cross-validation, op-supervisor) judges
// what the devnet mines. Two differences, both devnet conveniences: a call with no calldata is
// a no-op (txs that only carry an access list, as the load test sends, still go through), and
// it has no other functions.

// ValidateMessageSelector is the 4-byte selector of
// validateMessage((address,uint256,uint256,uint256,uint256),bytes32).
var ValidateMessageSelector = [4]byte(crypto.Keccak256([]byte("validateMessage((address,uint256,uint256,uint256,uint256),bytes32)")))

// ExecutingMessageTopic is topic 0 of the CrossL2Inbox's ExecutingMessage event.
var ExecutingMessageTopic = crypto.Keccak256Hash([]byte("ExecutingMessage(bytes32,(address,uint256,uint256,uint256,uint256))"))

// warmReadThreshold is the gas below which an SLOAD counts as warm (a warm read costs 100, a
// cold one 2,100), the bound the real inbox uses.
const warmReadThreshold = 1000

// Calldata offsets of validateMessage's arguments: the identifier's five words, then msgHash.
const (
	argOrigin      = 4
	argBlockNumber = argOrigin + 32
	argLogIndex    = argBlockNumber + 32
	argTimestamp   = argLogIndex + 32
	argChainID     = argTimestamp + 32
	argMsgHash     = argChainID + 32
	validateLen    = argMsgHash + 32
)

// inboxCode is the inbox's runtime bytecode (see the comment above).
var inboxCode = buildInboxCode()

func buildInboxCode() []byte {
	p := program.New()
	// Layout: a jump over two shared exits, "revert" and "stop", which later code jumps back to.
	const mainAt = 9
	p.Jump(mainAt)
	_, revertAt := p.Jumpdest()
	p.Push0().Push0().Op(vm.REVERT)
	_, stopAt := p.Jumpdest()
	p.Op(vm.STOP)
	if _, at := p.Jumpdest(); at != mainAt {
		panic(fmt.Sprintf("devnet inbox code: main at %d, not %d", at, mainAt)) // a layout bug, caught by every test
	}
	revertIf := func() { p.Push(revertAt).Op(vm.JUMPI) } // jumps to revert when the top of the stack is non-zero

	// No calldata: a no-op. Anything else must be a whole validateMessage call.
	p.Op(vm.CALLDATASIZE, vm.ISZERO).Push(stopAt).Op(vm.JUMPI)
	p.Op(vm.CALLDATASIZE).Push(validateLen).Op(vm.EQ, vm.ISZERO)
	revertIf()
	p.Push0().Op(vm.CALLDATALOAD).Push(224).Op(vm.SHR).Push(ValidateMessageSelector[:]).Op(vm.EQ, vm.ISZERO)
	revertIf()
	// Ranges: origin is an address, block number and timestamp fit 64 bits, log index 32.
	for _, r := range []struct{ offset, bits int }{{argOrigin, 160}, {argBlockNumber, 64}, {argLogIndex, 32}, {argTimestamp, 64}} {
		p.Push(r.offset).Op(vm.CALLDATALOAD).Push(r.bits).Op(vm.SHR)
		revertIf()
	}
	// logHash = keccak256(origin ‖ msgHash), origin as its 20 bytes.
	p.Push(argOrigin).Op(vm.CALLDATALOAD).Push0().Op(vm.MSTORE)
	p.Push(argMsgHash).Op(vm.CALLDATALOAD).Push(32).Op(vm.MSTORE)
	p.Push(52).Push(12).Op(vm.KECCAK256).Push0().Op(vm.MSTORE)
	// idPacked = uint96(0) ‖ uint64 blockNumber ‖ uint64 timestamp ‖ uint32 logIndex.
	p.Push(argBlockNumber).Op(vm.CALLDATALOAD).Push(96).Op(vm.SHL)
	p.Push(argTimestamp).Op(vm.CALLDATALOAD).Push(32).Op(vm.SHL).Op(vm.OR)
	p.Push(argLogIndex).Op(vm.CALLDATALOAD).Op(vm.OR)
	p.Push(32).Op(vm.MSTORE)
	// checksum = 0x03 ‖ low 31 bytes of keccak256(keccak256(logHash ‖ idPacked) ‖ chainId).
	p.Push(64).Push0().Op(vm.KECCAK256).Push0().Op(vm.MSTORE)
	p.Push(argChainID).Op(vm.CALLDATALOAD).Push(32).Op(vm.MSTORE)
	p.Push(64).Push0().Op(vm.KECCAK256)
	p.Push(8).Op(vm.SHL).Push(8).Op(vm.SHR).Push(3).Push(248).Op(vm.SHL).Op(vm.OR)
	// The checksum's slot must be warm: only the tx's access list can have made it so.
	p.Op(vm.GAS, vm.SWAP1, vm.SLOAD, vm.POP, vm.GAS, vm.SWAP1, vm.SUB) // gas spent on the SLOAD
	p.Push(warmReadThreshold).Op(vm.GT, vm.ISZERO)
	revertIf()
	// emit ExecutingMessage(msgHash, id): data is the identifier's five words.
	p.Push(argMsgHash - argOrigin).Push(argOrigin).Push0().Op(vm.CALLDATACOPY)
	p.Push(argMsgHash).Op(vm.CALLDATALOAD).Push(ExecutingMessageTopic).Push(argMsgHash - argOrigin).Push0().Op(vm.LOG2)
	p.Op(vm.STOP)
	return p.Bytes()
}

// ValidateMessageCalldata is the calldata of validateMessage(id, payloadHash).
func ValidateMessageCalldata(id accesslist.Identifier, payloadHash common.Hash) []byte {
	out := make([]byte, validateLen)
	copy(out, ValidateMessageSelector[:])
	copy(out[argOrigin+12:], id.Origin[:])
	binary.BigEndian.PutUint64(out[argBlockNumber+24:], id.BlockNumber)
	binary.BigEndian.PutUint32(out[argLogIndex+28:], id.LogIndex)
	binary.BigEndian.PutUint64(out[argTimestamp+24:], id.Timestamp)
	chainID := id.ChainID.Bytes32()
	copy(out[argChainID:], chainID[:])
	copy(out[argMsgHash:], payloadHash[:])
	return out
}

// ValidateMessageTx builds a signed type-2 tx on this chain that executes one message as an
// application does: it calls the CrossL2Inbox's validateMessage(id, payloadHash), and its access
// list names the message's inbox keys, so the inbox finds the checksum warm and emits
// ExecutingMessage. Nonce 0 means the account's pending nonce.
func (c *Chain) ValidateMessageTx(ctx context.Context, from Account, nonce uint64, id accesslist.Identifier, payloadHash common.Hash) (*types.Transaction, error) {
	keys := accesslist.EncodeMessages([]accesslist.Message{id.Message(payloadHash)})
	return c.inboxTx(ctx, from, nonce, inboxCall{keys: keys, data: ValidateMessageCalldata(id, payloadHash), gas: 100_000})
}

// inboxCall is what a tx to the CrossL2Inbox carries.
type inboxCall struct {
	keys []common.Hash // the access list's storage keys under the inbox
	data []byte        // calldata
	gas  uint64
}

// inboxTx signs a type-2 tx calling the CrossL2Inbox. Nonce 0 means the account's pending nonce.
func (c *Chain) inboxTx(ctx context.Context, from Account, nonce uint64, call inboxCall) (*types.Transaction, error) {
	if nonce == 0 {
		n, err := c.client.PendingNonceAt(ctx, from.Address)
		if err != nil {
			return nil, err
		}
		nonce = n
	}
	to := accesslist.CrossL2InboxAddress
	return c.sign(from, &types.DynamicFeeTx{
		Nonce: nonce, GasTipCap: big.NewInt(gasTipCap), GasFeeCap: big.NewInt(gasFeeCap),
		Gas: call.gas, To: &to, Data: call.data,
		AccessList: types.AccessList{{Address: accesslist.CrossL2InboxAddress, StorageKeys: call.keys}},
	})
}
