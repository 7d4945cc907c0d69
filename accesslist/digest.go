package accesslist

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// quadraticDedupMax is the list length up to which Dedup compares pairs instead of building a
// map: for the short lists real transactions carry, n² comparisons beat hashing and allocate
// nothing.
const quadraticDedupMax = 32

// Dedup removes repeated messages in place, keeping the first occurrence of each and the order
// of the rest, and returns the shortened slice. Duplicates are legal in an access list (§3) but
// need checking only once.
func Dedup(msgs []Message) []Message {
	if len(msgs) < 2 {
		return msgs
	}
	if len(msgs) <= quadraticDedupMax {
		out := msgs[:1]
	next:
		for i := 1; i < len(msgs); i++ {
			for j := range out {
				if out[j] == msgs[i] {
					continue next
				}
			}
			out = append(out, msgs[i])
		}
		return out
	}
	seen := make(map[Message]struct{}, len(msgs))
	out := msgs[:0]
	for _, m := range msgs {
		if _, dup := seen[m]; dup {
			continue
		}
		seen[m] = struct{}{}
		out = append(out, m)
	}
	return out
}

// Digest is a collision-resistant, process-independent digest of a list of messages: keccak256
// over their canonical inbox keys, in order. Callers that want one digest per set of messages
// call Dedup first. It is safe to share between replicas (for example as a Redis cache key),
// and an attacker cannot make two different lists share one.
func Digest(msgs []Message) common.Hash {
	// Up to digestStackMessages messages are encoded in a stack buffer and hashed in one call.
	const digestStackMessages = 8
	var stack [digestStackMessages * 3 * common.HashLength]byte
	buf := stack[:0]
	if len(msgs) > digestStackMessages {
		buf = make([]byte, 0, len(msgs)*3*common.HashLength)
	}
	for i := range msgs {
		var lookup, ext common.Hash
		hasExt := encodeKeys(&msgs[i], &lookup, &ext)
		buf = append(buf, lookup[:]...)
		if hasExt {
			buf = append(buf, ext[:]...)
		}
		buf = append(buf, msgs[i].Checksum[:]...)
		buf[len(buf)-common.HashLength] = PrefixChecksum
	}
	return crypto.Keccak256Hash(buf)
}
