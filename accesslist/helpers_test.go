package accesslist

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

func keccakString(s string) common.Hash { return crypto.Keccak256Hash([]byte(s)) }

// key builds a 32-byte key from a type byte and optional bytes that follow it.
func key(prefix byte, rest ...byte) common.Hash {
	var k common.Hash
	k[0] = prefix
	copy(k[1:], rest)
	return k
}

func keccakBytes(b []byte) common.Hash { return crypto.Keccak256Hash(b) }
