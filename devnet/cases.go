package devnet

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"

	"github.com/interopgate/interopgate/accesslist"
)

// Error codes the cases expect (protocol.md §7); the same values as supervisorclient's.
const (
	codeUnknownChain  = -320501
	codeConflict      = -320600
	codeOutOfScope    = -321100 // op-interop-filter's answer for a block beyond its head
	codeInvalidParams = -32602
)

// Case is an executing message to check, valid or one invalid variant, with the descriptor
// timestamp to check it at and the error code a correct filter answers (0: valid, null).
type Case struct {
	Name string
	// Keys are the inbox keys of the executing tx.
	Keys []common.Hash
	// ExecTimestamp is the executing descriptor's timestamp for the check.
	ExecTimestamp uint64
	// WantCode is the expected JSON-RPC error code; 0 means the check passes.
	WantCode int
}

// Cases returns the valid case and every invalid variant for one mined message e, checked on a
// chain whose head is execHead (a timestamp after e's). window is the dependency set's expiry
// window; unknownChain is a chain ID outside the set.
func Cases(e Emitted, execHead, window, unknownChain uint64) []Case {
	valid := e.Message()
	with := func(mutate func(m *accesslist.Message)) []common.Hash {
		m := valid
		mutate(&m)
		return accesslist.EncodeMessages([]accesslist.Message{m})
	}
	wrongChecksum := with(func(m *accesslist.Message) { m.Checksum[31] ^= 0x01 })
	malformed := append([]common.Hash(nil), valid.Checksum)
	lookup := accesslist.EncodeMessages([]accesslist.Message{valid})[0]
	lookup[2] = 0x01 // a reserved byte
	return []Case{
		{Name: "valid", Keys: e.Keys(), ExecTimestamp: execHead, WantCode: 0},
		{Name: "wrong checksum", Keys: wrongChecksum, ExecTimestamp: execHead, WantCode: codeConflict},
		{Name: "wrong log index", Keys: with(func(m *accesslist.Message) { m.LogIndex++ }), ExecTimestamp: execHead, WantCode: codeConflict},
		{Name: "wrong block", Keys: with(func(m *accesslist.Message) { m.BlockNumber-- }), ExecTimestamp: execHead, WantCode: codeConflict},
		{Name: "wrong timestamp", Keys: with(func(m *accesslist.Message) { m.Timestamp-- }), ExecTimestamp: execHead, WantCode: codeConflict},
		{Name: "unknown chain", Keys: with(func(m *accesslist.Message) { m.ChainID = *uint256.NewInt(unknownChain) }), ExecTimestamp: execHead, WantCode: codeUnknownChain},
		{Name: "future block", Keys: with(func(m *accesslist.Message) { m.BlockNumber += 1000; m.Timestamp += 1_000_000 }), ExecTimestamp: valid.Timestamp + 1_000_001, WantCode: codeOutOfScope},
		{Name: "same timestamp", Keys: e.Keys(), ExecTimestamp: e.ID.Timestamp, WantCode: codeConflict},
		{Name: "expired", Keys: e.Keys(), ExecTimestamp: e.ID.Timestamp + window + 1, WantCode: codeConflict},
		{Name: "malformed: checksum first", Keys: malformed, ExecTimestamp: execHead, WantCode: codeInvalidParams},
		{Name: "malformed: reserved byte", Keys: []common.Hash{lookup, valid.Checksum}, ExecTimestamp: execHead, WantCode: codeInvalidParams},
	}
}
