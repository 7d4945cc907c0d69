package accesslist

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/holiman/uint256"
)

// CrossL2InboxAddress is the CrossL2Inbox predeploy, 0x4200000000000000000000000000000000000022.
// It is an array value: callers get copies and cannot change it.
var CrossL2InboxAddress = common.Address{0x42, 19: 0x22}

// DepositTxType is the OP Stack deposit transaction type. Deposits have no access list and
// never arrive over RPC.
const DepositTxType = 0x7e

// InboxKeys returns the inbox keys of a decoded transaction: the storage keys of every access-list
// tuple for the CrossL2Inbox, joined in tuple order. It returns nil for a non-interop tx.
func InboxKeys(tx *types.Transaction) []common.Hash {
	return InboxKeysOf(tx.AccessList())
}

// InboxKeysOf returns the inbox keys of an access list (see InboxKeys).
func InboxKeysOf(al types.AccessList) []common.Hash {
	n := 0
	for i := range al {
		if al[i].Address == CrossL2InboxAddress {
			n += len(al[i].StorageKeys)
		}
	}
	if n == 0 {
		return nil
	}
	keys := make([]common.Hash, 0, n)
	for i := range al {
		if al[i].Address == CrossL2InboxAddress {
			keys = append(keys, al[i].StorageKeys...)
		}
	}
	return keys
}

// RawTx is what ScanRaw reads from an encoded transaction without decoding all of it.
type RawTx struct {
	// Type is the EIP-2718 type byte (0 for legacy).
	Type uint8
	// ChainID is the chain the signature commits to; HasChainID is false for a pre-EIP-155
	// legacy tx and for a deposit.
	ChainID    uint256.Int
	HasChainID bool
	// InboxKeys are the inbox keys, in order; nil for a non-interop tx.
	InboxKeys []common.Hash
}

// fieldLayout says, for a typed tx, how many fields its RLP list has and where its access list is.
type fieldLayout struct {
	fields, accessList int
}

func layoutOf(txType byte) (fieldLayout, bool) {
	switch txType {
	case types.AccessListTxType:
		return fieldLayout{fields: 11, accessList: 7}, true
	case types.DynamicFeeTxType:
		return fieldLayout{fields: 12, accessList: 8}, true
	case types.BlobTxType:
		return fieldLayout{fields: 14, accessList: 8}, true
	case types.SetCodeTxType:
		return fieldLayout{fields: 13, accessList: 8}, true
	}
	return fieldLayout{}, false
}

// ScanRaw reads the type, chain ID and inbox keys of a transaction in its binary (EIP-2718)
// encoding, as eth_sendRawTransaction carries it, without decoding the rest: the only
// allocation is the returned key slice, and only for an interop tx. Blob txs are accepted in
// both their canonical and their network (with sidecar) form.
//
// Every transaction that go-ethereum decodes is scanned to the same keys and chain ID; ScanRaw
// checks the envelope, the field count and the access list strictly, but not the other fields.
func ScanRaw(raw []byte) (RawTx, error) {
	var out RawTx
	if len(raw) == 0 {
		return out, fmt.Errorf("%w: empty input", ErrMalformedTx)
	}
	if raw[0] >= 0xc0 {
		return out, scanLegacy(raw, &out)
	}
	if raw[0] > 0x7f {
		return out, fmt.Errorf("%w: first byte 0x%02x is neither a type nor a list", ErrMalformedTx, raw[0])
	}
	out.Type = raw[0]
	body, rest, err := rlp.SplitList(raw[1:])
	if err != nil {
		return out, fmt.Errorf("%w: type 0x%02x payload: %v", ErrMalformedTx, out.Type, err)
	}
	if len(rest) != 0 {
		return out, fmt.Errorf("%w: %d trailing bytes", ErrMalformedTx, len(rest))
	}
	if out.Type == DepositTxType {
		return out, nil
	}
	layout, ok := layoutOf(out.Type)
	if !ok {
		return out, fmt.Errorf("%w: 0x%02x", ErrUnsupportedTxType, out.Type)
	}
	if out.Type == types.BlobTxType {
		if body, err = blobTxBody(body); err != nil {
			return out, err
		}
	}
	var (
		field  []byte
		fields = body
	)
	for i := 0; i < layout.fields; i++ {
		var kind rlp.Kind
		var content []byte
		start := fields
		kind, content, fields, err = rlp.Split(fields)
		if err != nil {
			return out, fmt.Errorf("%w: field %d: %v", ErrMalformedTx, i, err)
		}
		switch i {
		case 0:
			if err := readChainID(kind, content, &out.ChainID); err != nil {
				return out, err
			}
			out.HasChainID = true
		case layout.accessList:
			if kind != rlp.List {
				return out, fmt.Errorf("%w: access list is not a list", ErrMalformedTx)
			}
			field = start[:len(start)-len(fields)]
		}
	}
	if len(fields) != 0 {
		return out, fmt.Errorf("%w: type 0x%02x has more than %d fields", ErrMalformedTx, out.Type, layout.fields)
	}
	out.InboxKeys, err = scanAccessList(field)
	return out, err
}

// blobTxBody returns the canonical field list of a blob tx given either of its encodings.
func blobTxBody(body []byte) ([]byte, error) {
	kind, inner, _, err := rlp.Split(body)
	if err != nil {
		return nil, fmt.Errorf("%w: blob tx: %v", ErrMalformedTx, err)
	}
	if kind != rlp.List {
		return body, nil // canonical form: the first field is the chain ID
	}
	return inner, nil // network form: [tx, sidecar...]; the sidecar is not ours to check
}

func readChainID(kind rlp.Kind, content []byte, dst *uint256.Int) error {
	if kind == rlp.List || len(content) > 32 || (len(content) > 0 && content[0] == 0) {
		return fmt.Errorf("%w: chain ID is not a canonical integer of at most 256 bits", ErrMalformedTx)
	}
	dst.SetBytes(content)
	return nil
}

// scanLegacy reads a legacy tx: 9 fields, chain ID derived from v per EIP-155.
func scanLegacy(raw []byte, out *RawTx) error {
	body, rest, err := rlp.SplitList(raw)
	if err != nil {
		return fmt.Errorf("%w: legacy tx: %v", ErrMalformedTx, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformedTx, len(rest))
	}
	var v []byte
	for i := 0; i < 9; i++ {
		var content []byte
		var kind rlp.Kind
		kind, content, body, err = rlp.Split(body)
		if err != nil {
			return fmt.Errorf("%w: legacy field %d: %v", ErrMalformedTx, i, err)
		}
		if i == 6 {
			if kind == rlp.List || (len(content) > 0 && content[0] == 0) {
				return fmt.Errorf("%w: legacy v is not a canonical integer", ErrMalformedTx)
			}
			v = content
		}
	}
	if len(body) != 0 {
		return fmt.Errorf("%w: legacy tx has more than 9 fields", ErrMalformedTx)
	}
	var bigV uint256.Int
	if len(v) > 32 {
		return fmt.Errorf("%w: legacy v exceeds 256 bits", ErrMalformedTx)
	}
	bigV.SetBytes(v)
	if bigV.IsUint64() && (bigV.Uint64() == 27 || bigV.Uint64() == 28 || bigV.Uint64() < 35) {
		return nil // pre-EIP-155 (or not a valid v): no chain ID
	}
	out.ChainID.Rsh(out.ChainID.Sub(&bigV, uint256.NewInt(35)), 1)
	out.HasChainID = true
	return nil
}

// scanAccessList walks an RLP access list ([[address, [key, ...]], ...]) and returns the
// inbox keys, checking every tuple's shape as go-ethereum's decoder does. It walks twice, once
// to validate and count and once to copy, so the keys take exactly one allocation.
func scanAccessList(enc []byte) ([]common.Hash, error) {
	n, err := walkAccessList(enc, nil)
	if err != nil || n == 0 {
		return nil, err
	}
	keys := make([]common.Hash, n)
	_, err = walkAccessList(enc, keys)
	return keys, err
}

// walkAccessList counts the inbox keys of enc and, when dst is long enough, copies them into it.
func walkAccessList(enc []byte, dst []common.Hash) (int, error) {
	tuples, _, err := rlp.SplitList(enc)
	if err != nil {
		return 0, fmt.Errorf("%w: access list: %v", ErrMalformedTx, err)
	}
	n := 0
	for t := 0; len(tuples) > 0; t++ {
		var tuple []byte
		if tuple, tuples, err = rlp.SplitList(tuples); err != nil {
			return 0, fmt.Errorf("%w: access list tuple %d: %v", ErrMalformedTx, t, err)
		}
		addr, rest, err := rlp.SplitString(tuple)
		if err != nil || len(addr) != common.AddressLength {
			return 0, fmt.Errorf("%w: access list tuple %d: address is not 20 bytes", ErrMalformedTx, t)
		}
		storage, rest, err := rlp.SplitList(rest)
		if err != nil || len(rest) != 0 {
			return 0, fmt.Errorf("%w: access list tuple %d: want [address, [keys...]]", ErrMalformedTx, t)
		}
		inbox := common.Address(addr) == CrossL2InboxAddress
		for k := 0; len(storage) > 0; k++ {
			var key []byte
			if key, storage, err = rlp.SplitString(storage); err != nil || len(key) != common.HashLength {
				return 0, fmt.Errorf("%w: access list tuple %d key %d is not 32 bytes", ErrMalformedTx, t, k)
			}
			if inbox {
				if n < len(dst) {
					dst[n] = common.Hash(key)
				}
				n++
			}
		}
	}
	return n, nil
}
