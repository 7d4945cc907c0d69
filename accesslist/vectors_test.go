package accesslist

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/holiman/uint256"
)

// The vectors of protocol.md §9, asserted byte for byte.

func u256(hex string) uint256.Int { return *uint256.MustFromHex(hex) }

func vectorAIdentifier() Identifier {
	return Identifier{
		Origin:      common.HexToAddress("0xe0e1e2e3e4e5e6e7e8e9f0f1f2f3f4f5f6f7f8f9"),
		BlockNumber: 0xa1a2a3a4a5a6a7a8,
		LogIndex:    0xb1b2b3b4,
		Timestamp:   0xc1c2c3c4c5c6c7c8,
		ChainID:     u256("0xd1d2d3d4d5d6d7d8"),
	}
}

func wantHash(t *testing.T, name string, got common.Hash, want string) {
	t.Helper()
	if got != common.HexToHash(want) || len(want) != 66 {
		t.Errorf("%s:\n got %s\nwant %s", name, got.Hex(), want)
	}
}

func TestVectorA(t *testing.T) {
	id := vectorAIdentifier()
	payload := PayloadHash(nil, []byte("example payload"))
	wantHash(t, "msgHash", payload, "0x8017559a85b12c04b14a1a425d53486d1015f833714a09bd62f04152a7e2ae9b")
	wantHash(t, "logHash", LogHash(id.Origin, payload), "0xf9ed05990c887d3f86718aabd7e940faaa75d6a5cd44602e89642586ce85f2aa")
	wantHash(t, "idPacked", IDPacked(id.BlockNumber, id.Timestamp, id.LogIndex), "0x000000000000000000000000a1a2a3a4a5a6a7a8c1c2c3c4c5c6c7c8b1b2b3b4")
	msg := id.Message(payload)
	keys := EncodeMessages([]Message{msg})
	if len(keys) != 2 {
		t.Fatalf("a 64-bit chain ID must encode to 2 keys, got %d", len(keys))
	}
	wantHash(t, "lookup", keys[0], "0x01000000d1d2d3d4d5d6d7d8a1a2a3a4a5a6a7a8c1c2c3c4c5c6c7c8b1b2b3b4")
	wantHash(t, "checksum", keys[1], "0x03749e87fd7789575de9906569deb05aaf220dc4cfab3d8abbfd34a2e1d7d357")
	wantHash(t, "ChecksumFromLog", ChecksumFromLog(id, nil, []byte("example payload")), "0x03749e87fd7789575de9906569deb05aaf220dc4cfab3d8abbfd34a2e1d7d357")
	assertParsesTo(t, keys, msg)
	if !VerifyChecksum(msg, id.Origin, payload) {
		t.Error("VerifyChecksum rejected vector A")
	}
}

func TestVectorB(t *testing.T) {
	id := vectorAIdentifier()
	var chain [32]byte
	chain[0], chain[31] = 0x07, 0x0a
	id.ChainID.SetBytes32(chain[:])
	payload := PayloadHash(nil, []byte("example payload"))
	msg := id.Message(payload)
	keys := EncodeMessages([]Message{msg})
	if len(keys) != 3 {
		t.Fatalf("a 256-bit chain ID must encode to 3 keys, got %d", len(keys))
	}
	wantHash(t, "lookup", keys[0], "0x01000000000000000000000aa1a2a3a4a5a6a7a8c1c2c3c4c5c6c7c8b1b2b3b4")
	wantHash(t, "extension", keys[1], "0x0200000000000000070000000000000000000000000000000000000000000000")
	wantHash(t, "checksum", keys[2], "0x030f3a5f2d8928b9b7f05d95a819aa71d2768ba945ade288d2f6a873f245ede0")
	assertParsesTo(t, keys, msg)
}

func TestVectorC(t *testing.T) {
	msg := Message{ChainID: *uint256.NewInt(900200), BlockNumber: 4509, LogIndex: 0, Timestamp: 1730467171}
	keys := EncodeMessages([]Message{msg})
	wantHash(t, "lookup", keys[0], "0x0100000000000000000dbc68000000000000119d000000006724d56300000000")
	topic0 := common.HexToHash("0x5c37832d2e8d10e346e55ad62071a6a2f9fa5130614ef2ec6617555c6f467ba7")
	wantHash(t, "ExecutingMessage topic0", keccakString("ExecutingMessage(bytes32,(address,uint256,uint256,uint256,uint256))"), topic0.Hex())
}

func TestVectorD(t *testing.T) {
	var t1, t2 common.Hash
	t1[0], t2[0] = 0xcc, 0xdd
	got := LogHash(common.HexToAddress("0xaabb000000000000000000000000000000000000"), PayloadHash([]common.Hash{t1, t2}, []byte{0xee, 0xff, 0x00}))
	wantHash(t, "logHash with topics", got, "0x4e1dc08fddeb273275f787762cdfe945cf47bb4e80a1fabbc7a825801e81b73f")
	got = LogHash(common.Address{}, PayloadHash(nil, nil))
	wantHash(t, "logHash of the empty log", got, "0x09051be45a200c773610a29099f03e7dfe72b244e6b585e0b3a9a8d379802094")
}

func TestVectorE(t *testing.T) {
	id := Identifier{
		Origin:      common.HexToAddress("0x4200000000000000000000000000000000000023"),
		BlockNumber: 100, LogIndex: 3, Timestamp: 1700000000, ChainID: *uint256.NewInt(901),
	}
	payload := PayloadHash(nil, nil)
	wantHash(t, "msgHash", payload, "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
	wantHash(t, "logHash", LogHash(id.Origin, payload), "0xf42ede37ea2e656be8f46e34e866fa6a792bd5915cd6704132b8f1108b07f373")
	msg := id.Message(payload)
	keys := EncodeMessages([]Message{msg})
	wantHash(t, "lookup", keys[0], "0x0100000000000000000003850000000000000064000000006553f10000000003")
	wantHash(t, "checksum", keys[1], "0x035f3b3e09a51ad32f5485630af6dc5943e531de0de5682569e05ddeb60e4849")
	assertParsesTo(t, keys, msg)
	if VerifyChecksum(msg, common.HexToAddress("0x4200000000000000000000000000000000000024"), payload) {
		t.Error("VerifyChecksum accepted the wrong origin")
	}
}

func assertParsesTo(t *testing.T, keys []common.Hash, want ...Message) {
	t.Helper()
	got, err := ParseMessages(keys)
	if err != nil {
		t.Fatalf("ParseMessages: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("parsed %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
}
