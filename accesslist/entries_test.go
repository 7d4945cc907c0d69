package accesslist

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
)

func TestParseCases(t *testing.T) {
	lookup := common.HexToHash("0x0100000000000000000003850000000000000064000000006553f10000000003")
	cs := common.HexToHash("0x035f3b3e09a51ad32f5485630af6dc5943e531de0de5682569e05ddeb60e4849")
	ext := key(PrefixChainIDExtension, 0, 0, 0, 0, 0, 0, 0, 0x07)
	tests := []struct {
		name    string
		keys    []common.Hash
		wantErr error
		wantN   int
	}{
		{"empty list", nil, ErrExpectedEntry, 0},
		{"first key 0x00", []common.Hash{key(0x00), cs}, ErrUnexpectedEntryType, 0},
		{"first key 0x0a", []common.Hash{key(0x0a), cs}, ErrUnexpectedEntryType, 0},
		{"first key is a checksum", []common.Hash{cs, lookup}, ErrUnexpectedEntryType, 0},
		{"lookup byte 1 = 0x01", []common.Hash{key(PrefixLookup, 0x01), cs}, ErrMalformedEntry, 0},
		{"lookup byte 3 = 0x01", []common.Hash{key(PrefixLookup, 0, 0, 0x01), cs}, ErrMalformedEntry, 0},
		{"lone lookup", []common.Hash{lookup}, ErrExpectedEntry, 0},
		{"lookup then 0x00", []common.Hash{lookup, key(0x00)}, ErrUnexpectedEntryType, 0},
		{"lookup then lookup", []common.Hash{lookup, lookup}, ErrUnexpectedEntryType, 0},
		{"lookup then 0x0a", []common.Hash{lookup, key(0x0a)}, ErrUnexpectedEntryType, 0},
		{"all-zero message", []common.Hash{key(PrefixLookup), key(PrefixChecksum)}, nil, 1},
		{"two messages", []common.Hash{lookup, cs, lookup, cs}, nil, 2},
		{"extension", []common.Hash{lookup, ext, cs}, nil, 1},
		{"extension with reserved byte", []common.Hash{lookup, key(PrefixChainIDExtension, 0, 0, 0, 0, 0, 0x01), cs}, ErrMalformedEntry, 0},
		{"extension at the end", []common.Hash{lookup, ext}, ErrExpectedEntry, 0},
		{"extension then lookup", []common.Hash{lookup, ext, lookup}, ErrUnexpectedEntryType, 0},
		{"two extensions", []common.Hash{lookup, ext, ext, cs}, ErrUnexpectedEntryType, 0},
		{"valid then lone lookup", []common.Hash{lookup, cs, lookup}, ErrExpectedEntry, 0},
		{"valid then malformed", []common.Hash{lookup, cs, key(PrefixLookup, 0, 0x09), cs}, ErrMalformedEntry, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msgs, err := ParseMessages(tc.keys)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			for _, other := range []error{ErrExpectedEntry, ErrUnexpectedEntryType, ErrMalformedEntry} {
				if other != tc.wantErr && errors.Is(err, other) {
					t.Fatalf("err %v must not also be %v: callers tell them apart", err, other)
				}
			}
			if len(msgs) != tc.wantN {
				t.Fatalf("got %d messages, want %d", len(msgs), tc.wantN)
			}
		})
	}
}

func TestParseAllZeroMessage(t *testing.T) {
	msgs, err := ParseMessages([]common.Hash{key(PrefixLookup), key(PrefixChecksum)})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Message{Checksum: key(PrefixChecksum)}); msgs[0] != want {
		t.Fatalf("got %v, want %v", msgs[0], want)
	}
}

func TestAppendMessagesKeepsDstOnError(t *testing.T) {
	dst := []Message{{BlockNumber: 7}}
	got, err := AppendMessages(dst, []common.Hash{key(PrefixLookup), key(PrefixChecksum), key(0x09)})
	if err == nil || len(got) != 1 || got[0].BlockNumber != 7 {
		t.Fatalf("got %v, %v; want dst unchanged and an error", got, err)
	}
}

func randomMessage(r *rand.Rand) Message {
	var m Message
	switch r.IntN(3) {
	case 0:
		m.ChainID.SetUint64(r.Uint64N(2000))
	case 1:
		m.ChainID.SetUint64(r.Uint64())
	default:
		m.ChainID = uint256.Int{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}
	}
	m.BlockNumber, m.Timestamp, m.LogIndex = r.Uint64(), r.Uint64(), r.Uint32()
	for i := range m.Checksum {
		m.Checksum[i] = byte(r.Uint32())
	}
	m.Checksum[0] = PrefixChecksum
	return m
}

func TestRandomRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		msgs := make([]Message, 1+r.IntN(6))
		for i := range msgs {
			msgs[i] = randomMessage(r)
		}
		keys := EncodeMessages(msgs)
		wantKeys := 0
		for i := range msgs {
			wantKeys += 2
			if !msgs[i].ChainID.IsUint64() {
				wantKeys++
			}
		}
		if len(keys) != wantKeys {
			t.Fatalf("encoded %d keys, want %d", len(keys), wantKeys)
		}
		assertParsesTo(t, keys, msgs...)
		again := EncodeMessages(mustParse(t, keys))
		for i := range keys {
			if keys[i] != again[i] {
				t.Fatalf("key %d changed on the second round trip", i)
			}
		}
	}
}

func mustParse(t *testing.T, keys []common.Hash) []Message {
	t.Helper()
	msgs, err := ParseMessages(keys)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestDedup(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	a, b, c := randomMessage(r), randomMessage(r), randomMessage(r)
	got := Dedup([]Message{a, b, a, c, b, a})
	want := []Message{a, b, c}
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("message %d out of order", i)
		}
	}
	// Long lists take the map path; the result must be the same.
	long := make([]Message, 0, 100)
	distinct := make([]Message, 40)
	for i := range distinct {
		distinct[i] = randomMessage(r)
	}
	for i := 0; i < 100; i++ {
		long = append(long, distinct[(i*7)%40])
	}
	got = Dedup(long)
	if len(got) != 40 {
		t.Fatalf("map path kept %d messages, want 40", len(got))
	}
	seen := map[Message]bool{}
	for _, m := range got {
		if seen[m] {
			t.Fatal("map path kept a duplicate")
		}
		seen[m] = true
	}
}

func TestDigest(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	a, b := randomMessage(r), randomMessage(r)
	// The same list rebuilt from its keys (new values, same content) has the same digest.
	if Digest([]Message{a, b}) != Digest(mustParse(t, EncodeMessages([]Message{a, b}))) {
		t.Fatal("digest is not stable")
	}
	if Digest([]Message{a, b}) == Digest([]Message{b, a}) {
		t.Fatal("digest ignores order")
	}
	if Digest([]Message{a}) == Digest([]Message{a, a}) {
		t.Fatal("digest of a duplicated list equals the single list: Dedup is the caller's choice")
	}
	// The digest is keccak256 of the canonical keys, also beyond the stack buffer.
	many := make([]Message, 20)
	for i := range many {
		many[i] = randomMessage(r)
	}
	var buf []byte
	for _, k := range EncodeMessages(many) {
		buf = append(buf, k[:]...)
	}
	if got, want := Digest(many), keccakBytes(buf); got != want {
		t.Fatalf("digest %s, want keccak of the keys %s", got, want)
	}
	// A checksum whose type byte is not 0x03 digests like its canonical form.
	c := a
	c.Checksum[0] = 0xff
	if Digest([]Message{c}) != Digest([]Message{a}) {
		t.Fatal("digest depends on the checksum's type byte")
	}
}
