package accesslist

import (
	"bytes"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
)

var testKey, _ = crypto.HexToECDSA("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291")

// sampleAccessList has an inbox tuple, another address, an empty inbox tuple and a second inbox
// tuple: the inbox keys are the first tuple's then the last tuple's.
func sampleAccessList() (types.AccessList, []common.Hash) {
	k := func(b byte) common.Hash { return common.Hash{b, 31: b} }
	al := types.AccessList{
		{Address: CrossL2InboxAddress, StorageKeys: []common.Hash{k(1), k(3)}},
		{Address: common.Address{0x99}, StorageKeys: []common.Hash{k(9)}},
		{Address: CrossL2InboxAddress},
		{Address: CrossL2InboxAddress, StorageKeys: []common.Hash{k(5)}},
	}
	return al, []common.Hash{k(1), k(3), k(5)}
}

func signedTxs(t testing.TB, chainID uint64) map[string]*types.Transaction {
	al, _ := sampleAccessList()
	to := common.Address{0x11}
	cid := new(big.Int).SetUint64(chainID)
	inners := map[string]types.TxData{
		"legacy":     &types.LegacyTx{Nonce: 1, GasPrice: big.NewInt(7), Gas: 21000, To: &to, Value: big.NewInt(1)},
		"accesslist": &types.AccessListTx{ChainID: cid, Nonce: 2, GasPrice: big.NewInt(7), Gas: 50000, To: &to, AccessList: al},
		"dynamicfee": &types.DynamicFeeTx{ChainID: cid, Nonce: 3, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(9), Gas: 50000, To: &to, AccessList: al, Data: []byte{1, 2}},
		"blob": &types.BlobTx{ChainID: uint256.MustFromBig(cid), Nonce: 4, GasTipCap: uint256.NewInt(1), GasFeeCap: uint256.NewInt(9), Gas: 50000, To: to,
			AccessList: al, BlobFeeCap: uint256.NewInt(1), BlobHashes: []common.Hash{{0x01}}},
		"setcode": &types.SetCodeTx{ChainID: uint256.MustFromBig(cid), Nonce: 5, GasTipCap: uint256.NewInt(1), GasFeeCap: uint256.NewInt(9), Gas: 80000, To: to,
			AccessList: al, AuthList: []types.SetCodeAuthorization{{ChainID: *uint256.MustFromBig(cid), Address: common.Address{0x22}, Nonce: 1}}},
	}
	signer := types.LatestSignerForChainID(cid)
	out := make(map[string]*types.Transaction, len(inners))
	for name, inner := range inners {
		tx, err := types.SignNewTx(testKey, signer, inner)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = tx
	}
	return out
}

func TestInboxKeysOfDecodedTx(t *testing.T) {
	_, want := sampleAccessList()
	for name, tx := range signedTxs(t, 902) {
		got := InboxKeys(tx)
		if name == "legacy" {
			if got != nil {
				t.Errorf("legacy: got keys %v", got)
			}
			continue
		}
		if !equalKeys(got, want) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	if InboxKeysOf(types.AccessList{{Address: CrossL2InboxAddress}}) != nil {
		t.Error("an inbox tuple with no keys made an interop tx")
	}
}

func TestScanRawMatchesDecoder(t *testing.T) {
	for _, chainID := range []uint64{902, 1, 1 << 40} {
		for name, tx := range signedTxs(t, chainID) {
			raw, err := tx.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ScanRaw(raw)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got.Type != tx.Type() || !got.HasChainID || got.ChainID.ToBig().Cmp(tx.ChainId()) != 0 {
				t.Errorf("%s: type %d chain %s, want type %d chain %s", name, got.Type, got.ChainID.Dec(), tx.Type(), tx.ChainId())
			}
			if !equalKeys(got.InboxKeys, InboxKeys(tx)) {
				t.Errorf("%s: keys %v, want %v", name, got.InboxKeys, InboxKeys(tx))
			}
		}
	}
}

func TestScanRawBlobNetworkForm(t *testing.T) {
	tx := signedTxs(t, 902)["blob"].WithBlobTxSidecar(types.NewBlobTxSidecar(types.BlobSidecarVersion0, nil, nil, nil))
	raw, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ScanRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	_, want := sampleAccessList()
	if !equalKeys(got.InboxKeys, want) || got.ChainID.Uint64() != 902 {
		t.Fatalf("got %+v", got)
	}
}

func TestScanRawLegacyChainID(t *testing.T) {
	to := common.Address{0x11}
	inner := &types.LegacyTx{Nonce: 1, GasPrice: big.NewInt(7), Gas: 21000, To: &to}
	pre155, err := types.SignNewTx(testKey, types.HomesteadSigner{}, inner)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := pre155.MarshalBinary()
	got, err := ScanRaw(raw)
	if err != nil || got.HasChainID || got.Type != 0 {
		t.Fatalf("pre-EIP-155: got %+v, %v", got, err)
	}
}

func TestScanRawDeposit(t *testing.T) {
	body, _ := rlp.EncodeToBytes([]any{common.Hash{1}, common.Address{2}, common.Address{3}, uint64(0), uint64(0), uint64(100000), false, []byte{}})
	got, err := ScanRaw(append([]byte{DepositTxType}, body...))
	if err != nil || got.Type != DepositTxType || got.HasChainID || got.InboxKeys != nil {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestScanRawRejects(t *testing.T) {
	good, _ := signedTxs(t, 902)["dynamicfee"].MarshalBinary()
	badAddress := func() []byte {
		al := []any{[]any{make([]byte, 19), []common.Hash{{1}}}}
		body, _ := rlp.EncodeToBytes([]any{uint64(902), uint64(0), uint64(1), uint64(1), uint64(21000), common.Address{}, uint64(0), []byte{}, al, uint64(0), uint64(1), uint64(1)})
		return append([]byte{types.DynamicFeeTxType}, body...)
	}
	shortKey := func() []byte {
		al := []any{[]any{CrossL2InboxAddress, [][]byte{make([]byte, 31)}}}
		body, _ := rlp.EncodeToBytes([]any{uint64(902), uint64(0), uint64(1), uint64(1), uint64(21000), common.Address{}, uint64(0), []byte{}, al, uint64(0), uint64(1), uint64(1)})
		return append([]byte{types.DynamicFeeTxType}, body...)
	}
	tests := map[string]struct {
		raw  []byte
		want error
	}{
		"empty":               {nil, ErrMalformedTx},
		"type only":           {[]byte{0x02}, ErrMalformedTx},
		"unknown type":        {append([]byte{0x05}, good[1:]...), ErrUnsupportedTxType},
		"first byte 0x80":     {[]byte{0x80}, ErrMalformedTx},
		"trailing byte":       {append(bytes.Clone(good), 0x00), ErrMalformedTx},
		"truncated":           {good[:len(good)-3], ErrMalformedTx},
		"field count as 2930": {append([]byte{0x01}, good[1:]...), ErrMalformedTx},
		"19-byte address":     {badAddress(), ErrMalformedTx},
		"31-byte inbox key":   {shortKey(), ErrMalformedTx},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ScanRaw(tc.raw); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func equalKeys(a, b []common.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
