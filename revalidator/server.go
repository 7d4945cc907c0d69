package revalidator

import (
	"context"
	"encoding/json"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/filterapi"
	"github.com/interopgate/interopgate/internal/jsonrpc"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// Methods served beside the check API.
const (
	MethodCheckTransactions   = "interopgate_checkTransactions"
	MethodInvalidTransactions = "interopgate_invalidTransactions"
)

// NewServer serves r: interop_/supervisor_checkAccessList cache-first, admin_getFailsafeEnabled
// mirroring the upstream filters, interopgate_checkTransactions and
// interopgate_invalidTransactions; /readyz is r.Ready.
func NewServer(r *Revalidator, cfg filterapi.Config, opts ...filterapi.Option) (*filterapi.Server, error) {
	opts = append([]filterapi.Option{
		filterapi.WithFailsafeSource(r.NodeFailsafe),
		filterapi.WithReadiness(r.Ready),
		filterapi.WithMethod(MethodCheckTransactions, r.handleCheckTransactions),
		filterapi.WithMethod(MethodInvalidTransactions, r.handleInvalidTransactions),
	}, opts...)
	return filterapi.New(r, cfg, opts...)
}

// TxVerdict is one entry of interopgate_checkTransactions' answer.
type TxVerdict struct {
	Hash    common.Hash `json:"hash"`
	Code    int         `json:"code"`
	Message string      `json:"message"`
}

// CheckResult is the answer of interopgate_checkTransactions: the invalid txs, and those the
// revalidator knows too little about to say (never guessed valid). Every other tx is valid.
type CheckResult struct {
	Invalid []TxVerdict   `json:"invalid"`
	Unknown []common.Hash `json:"unknown"`
}

// CheckTransactions decides txs (by hash: tracked ones; or signed raw txs) for exec from memory
// alone, with no upstream call: a builder's question about a candidate block.
func (r *Revalidator) CheckTransactions(items [][]byte, exec accesslist.ExecContext) CheckResult {
	res := CheckResult{Invalid: []TxVerdict{}, Unknown: []common.Hash{}}
	now := r.now()
	failsafe := r.failsafeOn.Load()
	for _, b := range items {
		var hash common.Hash
		var msgs []accesslist.Message
		var badKeys error
		if len(b) == common.HashLength {
			hash = common.BytesToHash(b)
			t := r.txs.get(hash)
			if t == nil {
				res.Unknown = append(res.Unknown, hash)
				continue
			}
			msgs, badKeys = t.msgs, t.badKeys
			if !t.interop() {
				continue
			}
		} else {
			hash = crypto.Keccak256Hash(b)
			scan, err := accesslist.ScanRaw(b)
			if err != nil {
				res.Invalid = append(res.Invalid, TxVerdict{Hash: hash, Code: sc.CodeInvalidParams, Message: "invalid transaction: " + err.Error()})
				continue
			}
			if len(scan.InboxKeys) == 0 {
				continue
			}
			if msgs, badKeys = accesslist.ParseMessages(scan.InboxKeys); badKeys == nil {
				msgs = accesslist.Dedup(msgs)
			}
		}
		switch {
		case failsafe:
			res.Invalid = append(res.Invalid, TxVerdict{Hash: hash, Code: sc.CodeFailsafe, Message: "failsafe is enabled"})
		case badKeys != nil:
			res.Invalid = append(res.Invalid, TxVerdict{Hash: hash, Code: sc.CodeInvalidParams, Message: "failed to read data: " + badKeys.Error()})
		default:
			v, err := r.msgs.answerMessages(msgs, exec, now)
			switch {
			case err != nil:
				res.Unknown = append(res.Unknown, hash)
			case v.Class != sc.ClassValid:
				res.Invalid = append(res.Invalid, TxVerdict{Hash: hash, Code: v.Code, Message: v.Message})
			}
		}
	}
	return res
}

// handleCheckTransactions: params [[hash or raw tx, …], descriptor?]; the descriptor
// ({"timestamp": "0x…", "timeout": "0x…"}) defaults to the presumed next block's.
func (r *Revalidator) handleCheckTransactions(_ context.Context, params json.RawMessage) (json.RawMessage, *jsonrpc.Error) {
	var ps []json.RawMessage
	if err := json.Unmarshal(params, &ps); err != nil || len(ps) < 1 || len(ps) > 2 {
		return nil, jsonrpc.Errorf(sc.CodeInvalidParams, `invalid params: want [["0x<tx hash or signed tx>", …], {"timestamp":"0x…","timeout":"0x…"}?]`)
	}
	var hexes []hexutil.Bytes
	if err := json.Unmarshal(ps[0], &hexes); err != nil {
		return nil, jsonrpc.Errorf(sc.CodeInvalidParams, "invalid params: the first param must be an array of 0x-prefixed hex strings")
	}
	if len(hexes) > 10_000 {
		return nil, jsonrpc.Errorf(sc.CodeInvalidParams, "invalid params: at most 10000 transactions per call")
	}
	exec := r.Next()
	if len(ps) == 2 {
		var d struct {
			Timestamp *hexutil.Uint64 `json:"timestamp"`
			Timeout   *hexutil.Uint64 `json:"timeout"`
		}
		if err := json.Unmarshal(ps[1], &d); err != nil || d.Timestamp == nil {
			return nil, jsonrpc.Errorf(sc.CodeInvalidParams, `invalid params: the descriptor is {"timestamp":"0x…","timeout":"0x…"}`)
		}
		exec.ChainID, exec.Timestamp = r.chainID, uint64(*d.Timestamp)
		if d.Timeout != nil {
			exec.Timeout = uint64(*d.Timeout)
		}
	}
	if exec.Timestamp == 0 {
		return nil, jsonrpc.Errorf(sc.CodeUninitialized, "no cycle has run yet: pass a descriptor")
	}
	items := make([][]byte, len(hexes))
	for i, h := range hexes {
		items[i] = h
	}
	out, _ := json.Marshal(r.CheckTransactions(items, exec))
	return out, nil
}

func (r *Revalidator) handleInvalidTransactions(context.Context, json.RawMessage) (json.RawMessage, *jsonrpc.Error) {
	out, _ := json.Marshal(r.InvalidTransactions())
	return out, nil
}
