package accesslist

import (
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/holiman/uint256"
)

// FuzzParseMessages: any byte string, cut into 32-byte keys, either parses into messages that
// re-encode and re-parse to themselves, or fails with exactly one of the three parse errors.
func FuzzParseMessages(f *testing.F) {
	f.Add(concatKeys(
		common.HexToHash("0x0100000000000000000003850000000000000064000000006553f10000000003"),
		common.HexToHash("0x035f3b3e09a51ad32f5485630af6dc5943e531de0de5682569e05ddeb60e4849")))
	f.Add(concatKeys(
		common.HexToHash("0x01000000000000000000000aa1a2a3a4a5a6a7a8c1c2c3c4c5c6c7c8b1b2b3b4"),
		common.HexToHash("0x0200000000000000070000000000000000000000000000000000000000000000"),
		common.HexToHash("0x030f3a5f2d8928b9b7f05d95a819aa71d2768ba945ade288d2f6a873f245ede0")))
	f.Add(concatKeys(key(PrefixLookup), key(PrefixLookup)))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys := make([]common.Hash, len(data)/32)
		for i := range keys {
			copy(keys[i][:], data[i*32:])
		}
		msgs, err := ParseMessages(keys)
		if err != nil {
			n := 0
			for _, e := range []error{ErrExpectedEntry, ErrUnexpectedEntryType, ErrMalformedEntry} {
				if errors.Is(err, e) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("error %v is not exactly one parse error kind", err)
			}
			return
		}
		again, err := ParseMessages(EncodeMessages(msgs))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if len(again) != len(msgs) {
			t.Fatalf("round trip changed the count: %d -> %d", len(msgs), len(again))
		}
		for i := range msgs {
			if again[i] != msgs[i] {
				t.Fatalf("round trip changed message %d: %v -> %v", i, msgs[i], again[i])
			}
		}
		if Digest(msgs) != Digest(again) {
			t.Fatal("digest changed across a round trip")
		}
		if d := Dedup(append([]Message(nil), msgs...)); len(d) > len(msgs) || len(d) == 0 {
			t.Fatalf("dedup returned %d of %d", len(d), len(msgs))
		}
	})
}

func concatKeys(keys ...common.Hash) []byte {
	var out []byte
	for _, k := range keys {
		out = append(out, k[:]...)
	}
	return out
}

// FuzzScanRaw: ScanRaw never panics, and on every input go-ethereum decodes it agrees with the
// decoder on the type, the chain ID and the inbox keys.
func FuzzScanRaw(f *testing.F) {
	for _, chainID := range []uint64{1, 902} {
		for _, tx := range signedTxs(f, chainID) {
			raw, _ := tx.MarshalBinary()
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		scanned, scanErr := ScanRaw(raw)
		var tx types.Transaction
		if err := tx.UnmarshalBinary(raw); err != nil {
			return
		}
		if scanErr != nil {
			if tx.Type() == types.LegacyTxType && tx.ChainId().BitLen() > 256 {
				return // v beyond 256 bits: geth's big.Int takes it, a uint256 chain ID cannot
			}
			t.Fatalf("geth decodes a type %d tx that ScanRaw rejects: %v", tx.Type(), scanErr)
		}
		if scanned.Type != tx.Type() {
			t.Fatalf("type %d, geth says %d", scanned.Type, tx.Type())
		}
		if !equalKeys(scanned.InboxKeys, InboxKeys(&tx)) {
			t.Fatalf("keys %v, geth's access list gives %v", scanned.InboxKeys, InboxKeys(&tx))
		}
		if tx.Type() != types.LegacyTxType || legacyHasChainID(&tx) {
			want, overflow := uint256.FromBig(tx.ChainId())
			if overflow || !scanned.HasChainID || scanned.ChainID != *want {
				t.Fatalf("chain ID %s (has=%v), geth says %s", scanned.ChainID.Dec(), scanned.HasChainID, tx.ChainId())
			}
		}
	})
}

// legacyHasChainID reports whether a legacy tx's v carries an EIP-155 chain ID (v >= 35).
func legacyHasChainID(tx *types.Transaction) bool {
	v, _, _ := tx.RawSignatureValues()
	return v.BitLen() > 6 || v.Uint64() >= 35
}
