package accesslist

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/holiman/uint256"
)

// Identifier locates an initiating log: the source chain, block, timestamp and log index, and
// the address that emitted it. It is what the Solidity Identifier struct holds; note that the
// checksum packs its fields in a different order (see IDPacked).
type Identifier struct {
	Origin      common.Address
	BlockNumber uint64
	LogIndex    uint32
	Timestamp   uint64
	ChainID     uint256.Int
}

// Message returns the access-list message that names id with the given payload hash.
func (id Identifier) Message(payloadHash common.Hash) Message {
	return Message{
		ChainID:     id.ChainID,
		BlockNumber: id.BlockNumber,
		Timestamp:   id.Timestamp,
		LogIndex:    id.LogIndex,
		Checksum:    Checksum(id, payloadHash),
	}
}

// PayloadHash is the message hash of a log: keccak256(topic0 ‖ … ‖ topicN ‖ data).
func PayloadHash(topics []common.Hash, data []byte) common.Hash {
	h := crypto.NewKeccakState()
	for i := range topics {
		h.Write(topics[i][:])
	}
	h.Write(data)
	var out common.Hash
	h.Read(out[:])
	return out
}

// LogHash binds a payload hash to the address that emitted the log:
// keccak256(origin ‖ payloadHash).
func LogHash(origin common.Address, payloadHash common.Hash) common.Hash {
	return crypto.Keccak256Hash(origin[:], payloadHash[:])
}

// IDPacked is 12 zero bytes ‖ u64 block number ‖ u64 timestamp ‖ u32 log index. Timestamp comes
// before log index here, unlike in the Solidity struct.
func IDPacked(blockNumber, timestamp uint64, logIndex uint32) common.Hash {
	var out common.Hash
	putBE64(out[12:20], blockNumber)
	putBE64(out[20:28], timestamp)
	out[28], out[29], out[30], out[31] = byte(logIndex>>24), byte(logIndex>>16), byte(logIndex>>8), byte(logIndex)
	return out
}

// Checksum is the type-3 inbox key of a message (protocol.md §4):
// keccak256(keccak256(logHash ‖ idPacked) ‖ u256 chainID) with byte 0 set to 0x03.
func Checksum(id Identifier, payloadHash common.Hash) common.Hash {
	logHash := LogHash(id.Origin, payloadHash)
	idPacked := IDPacked(id.BlockNumber, id.Timestamp, id.LogIndex)
	inner := crypto.Keccak256Hash(logHash[:], idPacked[:])
	chainID := id.ChainID.Bytes32()
	out := crypto.Keccak256Hash(inner[:], chainID[:])
	out[0] = PrefixChecksum
	return out
}

// ChecksumFromLog computes the checksum of a log (origin, topics, data) at id.
func ChecksumFromLog(id Identifier, topics []common.Hash, data []byte) common.Hash {
	return Checksum(id, PayloadHash(topics, data))
}

// VerifyChecksum reports whether m's checksum is the one of the log with the given origin and
// payload hash at m's own coordinates. Only bytes 1..31 carry information; byte 0 is the type.
func VerifyChecksum(m Message, origin common.Address, payloadHash common.Hash) bool {
	want := Checksum(Identifier{
		Origin: origin, BlockNumber: m.BlockNumber, LogIndex: m.LogIndex,
		Timestamp: m.Timestamp, ChainID: m.ChainID,
	}, payloadHash)
	return want == m.Checksum
}
