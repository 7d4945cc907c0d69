package accesslist

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
)

// Entry type bytes (byte 0 of each inbox key).
const (
	PrefixLookup           byte = 0x01
	PrefixChainIDExtension byte = 0x02
	PrefixChecksum         byte = 0x03
)

// Message is one executing message as named by an access list: where the initiating log is
// claimed to be, and the checksum that binds it to the log's origin and content.
//
// The zero value is a valid (all-zero) message. Messages are plain values, comparable with ==.
type Message struct {
	ChainID     uint256.Int
	BlockNumber uint64
	Timestamp   uint64
	LogIndex    uint32
	// Checksum is the full 32-byte key as found in the access list: byte 0 is PrefixChecksum.
	Checksum common.Hash
}

// String is for logs and test failures.
func (m Message) String() string {
	return fmt.Sprintf("msg{chain=%s block=%d ts=%d log=%d checksum=%s}",
		m.ChainID.Dec(), m.BlockNumber, m.Timestamp, m.LogIndex, m.Checksum.Hex())
}

// ParseMessages parses inbox keys into messages, following protocol.md §3 exactly.
// An empty list is ErrExpectedEntry: a caller that has no keys has no interop tx.
func ParseMessages(keys []common.Hash) ([]Message, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no inbox keys", ErrExpectedEntry)
	}
	// A message takes 2 or 3 keys; len/2 is an upper bound, so one allocation suffices.
	return AppendMessages(make([]Message, 0, len(keys)/2), keys)
}

// AppendMessages parses keys like ParseMessages and appends the messages to dst, so that
// callers on hot paths can reuse a buffer. On error dst is returned unchanged.
func AppendMessages(dst []Message, keys []common.Hash) ([]Message, error) {
	if len(keys) == 0 {
		return dst, fmt.Errorf("%w: no inbox keys", ErrExpectedEntry)
	}
	start := len(dst)
	for i := 0; i < len(keys); {
		var (
			m   Message
			err error
		)
		m, i, err = parseOne(keys, i)
		if err != nil {
			return dst[:start], err
		}
		dst = append(dst, m)
	}
	return dst, nil
}

// parseOne parses the message starting at keys[i] and returns the index after it.
func parseOne(keys []common.Hash, i int) (Message, int, error) {
	var m Message
	lookup := &keys[i]
	if lookup[0] != PrefixLookup {
		return m, i, fmt.Errorf("%w: key %d has type 0x%02x, want lookup 0x01", ErrUnexpectedEntryType, i, lookup[0])
	}
	if lookup[1]|lookup[2]|lookup[3] != 0 {
		return m, i, fmt.Errorf("%w: key %d (lookup) has non-zero reserved bytes 1..4", ErrMalformedEntry, i)
	}
	var chainID [32]byte
	copy(chainID[24:], lookup[4:12])
	m.BlockNumber = be64(lookup[12:20])
	m.Timestamp = be64(lookup[20:28])
	m.LogIndex = uint32(lookup[28])<<24 | uint32(lookup[29])<<16 | uint32(lookup[30])<<8 | uint32(lookup[31])
	i++

	if i >= len(keys) {
		return m, i, fmt.Errorf("%w: lookup at key %d is not followed by a checksum", ErrExpectedEntry, i-1)
	}
	if keys[i][0] == PrefixChainIDExtension {
		ext := &keys[i]
		for _, b := range ext[1:8] {
			if b != 0 {
				return m, i, fmt.Errorf("%w: key %d (chain-id extension) has non-zero reserved bytes 1..8", ErrMalformedEntry, i)
			}
		}
		copy(chainID[:24], ext[8:32])
		i++
		if i >= len(keys) {
			return m, i, fmt.Errorf("%w: chain-id extension at key %d is not followed by a checksum", ErrExpectedEntry, i-1)
		}
	}
	if keys[i][0] != PrefixChecksum {
		return m, i, fmt.Errorf("%w: key %d has type 0x%02x, want checksum 0x03", ErrUnexpectedEntryType, i, keys[i][0])
	}
	m.ChainID.SetBytes32(chainID[:])
	m.Checksum = keys[i]
	return m, i + 1, nil
}

// EncodeMessages returns the inbox keys of msgs: a lookup, a chain-id extension only when the
// chain ID does not fit in 64 bits, and the checksum. ParseMessages(EncodeMessages(m)) == m.
func EncodeMessages(msgs []Message) []common.Hash {
	n := 0
	for i := range msgs {
		n += keyCount(&msgs[i])
	}
	return AppendKeys(make([]common.Hash, 0, n), msgs)
}

// AppendKeys appends the inbox keys of msgs to dst (see EncodeMessages).
func AppendKeys(dst []common.Hash, msgs []Message) []common.Hash {
	for i := range msgs {
		var lookup, ext common.Hash
		hasExt := encodeKeys(&msgs[i], &lookup, &ext)
		dst = append(dst, lookup)
		if hasExt {
			dst = append(dst, ext)
		}
		cs := msgs[i].Checksum
		cs[0] = PrefixChecksum
		dst = append(dst, cs)
	}
	return dst
}

// encodeKeys writes m's lookup key and, when the chain ID needs one, its chain-id extension.
func encodeKeys(m *Message, lookup, ext *common.Hash) (hasExt bool) {
	chainID := m.ChainID.Bytes32()
	lookup[0] = PrefixLookup
	copy(lookup[4:12], chainID[24:32])
	putBE64(lookup[12:20], m.BlockNumber)
	putBE64(lookup[20:28], m.Timestamp)
	lookup[28], lookup[29], lookup[30], lookup[31] = byte(m.LogIndex>>24), byte(m.LogIndex>>16), byte(m.LogIndex>>8), byte(m.LogIndex)
	if m.ChainID.IsUint64() {
		return false
	}
	ext[0] = PrefixChainIDExtension
	copy(ext[8:32], chainID[:24])
	return true
}

func keyCount(m *Message) int {
	if m.ChainID.IsUint64() {
		return 2
	}
	return 3
}

func be64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

func putBE64(b []byte, v uint64) {
	_ = b[7]
	b[0], b[1], b[2], b[3] = byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32)
	b[4], b[5], b[6], b[7] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}
