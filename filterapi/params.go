package filterapi

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/holiman/uint256"

	sc "github.com/interopgate/interopgate/supervisorclient"
)

// paramError is a -32602 with a message that says which parameter is wrong.
type paramError struct{ msg string }

func (e *paramError) Error() string { return e.msg }

func paramErrorf(format string, args ...any) error { return &paramError{fmt.Sprintf(format, args...)} }

// descriptorJSON is the executing descriptor as clients send it. Unknown members are ignored,
// as op-interop-filter does, so a client that adds one keeps working.
type descriptorJSON struct {
	ChainID   json.RawMessage `json:"chainID"`
	Timestamp *hexutil.Uint64 `json:"timestamp"`
	Timeout   *hexutil.Uint64 `json:"timeout"`
}

// decodeCheckParams decodes [inboxEntries, minSafety, executingDescriptor].
func decodeCheckParams(raw json.RawMessage, maxEntries int) (sc.Request, error) {
	var req sc.Request
	var params []json.RawMessage
	if err := json.Unmarshal(raw, &params); err != nil {
		return req, paramErrorf("params must be an array [inboxEntries, minSafety, executingDescriptor]")
	}
	if len(params) != 3 {
		return req, paramErrorf("want 3 params [inboxEntries, minSafety, executingDescriptor], got %d", len(params))
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(params[0], &entries); err != nil {
		return req, paramErrorf("inboxEntries must be an array of 32-byte hex strings")
	}
	if maxEntries > 0 && len(entries) > maxEntries {
		return req, paramErrorf("inboxEntries has %d entries, more than the limit of %d", len(entries), maxEntries)
	}
	req.InboxKeys = make([]common.Hash, len(entries))
	for i, e := range entries {
		if err := req.InboxKeys[i].UnmarshalJSON(e); err != nil {
			return req, paramErrorf("inboxEntries[%d]: want a 0x-prefixed 32-byte hex string: %v", i, err)
		}
	}
	var safety string
	if err := json.Unmarshal(params[1], &safety); err != nil {
		return req, paramErrorf("minSafety must be a string")
	}
	level, err := sc.ParseSafetyLevel(safety)
	if err != nil {
		return req, paramErrorf("minSafety: %v", err)
	}
	req.MinSafety = level

	var desc descriptorJSON
	if !bytes.HasPrefix(bytes.TrimSpace(params[2]), []byte("{")) {
		return req, paramErrorf("executingDescriptor must be an object {chainID, timestamp, timeout}")
	}
	if err := json.Unmarshal(params[2], &desc); err != nil {
		return req, paramErrorf("executingDescriptor: %v", err)
	}
	if desc.Timestamp == nil {
		return req, paramErrorf("executingDescriptor.timestamp is required (a hex quantity)")
	}
	req.Executing.Timestamp = uint64(*desc.Timestamp)
	if desc.Timeout != nil {
		req.Executing.Timeout = uint64(*desc.Timeout)
	}
	if len(desc.ChainID) > 0 && string(desc.ChainID) != "null" {
		id, err := decodeChainID(desc.ChainID)
		if err != nil {
			return req, paramErrorf("executingDescriptor.chainID: %v", err)
		}
		req.Executing.ChainID = id
	}
	return req, nil
}

// decodeChainID accepts a JSON string holding a decimal number or a 0x-prefixed hex quantity,
// neither with leading zeros. A bare JSON number is rejected: clients send strings.
func decodeChainID(raw json.RawMessage) (uint256.Int, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return uint256.Int{}, fmt.Errorf("want a string (decimal or 0x hex), got %s", raw)
	}
	var id uint256.Int
	if len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X") {
		v, err := hexutil.DecodeBig(s)
		if err != nil {
			return id, fmt.Errorf("%q: %v", s, err)
		}
		if v.BitLen() > 256 {
			return id, fmt.Errorf("%q exceeds 256 bits", s)
		}
		id.SetFromBig(v)
		return id, nil
	}
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return id, fmt.Errorf("%q is not a decimal number without leading zeros", s)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return id, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	if err := id.SetFromDecimal(s); err != nil {
		return id, fmt.Errorf("%q: %v", s, err)
	}
	return id, nil
}
