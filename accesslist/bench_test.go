package accesslist

import (
	"math/rand/v2"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

// BenchmarkParseDigestDedup is the admission hot path for a 3-message access list: parse the
// keys, de-duplicate, digest. Target: at most 1 µs and 2 allocations per message.
func BenchmarkParseDigestDedup(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	keys := EncodeMessages([]Message{randomMessage(r), randomMessage(r), randomMessage(r)})
	var sink common.Hash
	b.ReportAllocs()
	for b.Loop() {
		msgs, err := ParseMessages(keys)
		if err != nil {
			b.Fatal(err)
		}
		msgs = Dedup(msgs)
		sink = Digest(msgs)
	}
	_ = sink
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/3, "ns/msg")
}

// BenchmarkScanRaw reads the inbox keys of a signed type-2 interop tx from its raw bytes.
func BenchmarkScanRaw(b *testing.B) {
	raw, _ := signedTxs(b, 902)["dynamicfee"].MarshalBinary()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ScanRaw(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChecksum computes one message checksum from a log.
func BenchmarkChecksum(b *testing.B) {
	id := vectorAIdentifier()
	data := []byte("example payload")
	b.ReportAllocs()
	for b.Loop() {
		_ = ChecksumFromLog(id, nil, data)
	}
}
