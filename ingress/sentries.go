package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/interopgate/interopgate/internal/jsonrpc"
	"github.com/interopgate/interopgate/internal/sendrefusal"
)

// sentries owns the sentry group and every way the gateway talks to it: forwarding calls and
// sub-batches, reading what the judge needs (senders' balances and nonces) and what the queue
// needs (does a sentry hold a tx), and reading the sentries' refusals. It judges nothing.
type sentries struct {
	group *Group
	// toAll sends admission calls to every healthy sentry (forward_to_all).
	toAll bool
}

// sentryRefusal is a sentry's answer to a send, read once: refused when it is an error (or not
// JSON-RPC at all), and why (sendrefusal's classes).
type sentryRefusal struct {
	refused bool
	why     sendrefusal.Refusal
}

func readRefusal(resp []byte) sentryRefusal {
	e := sentryError(resp)
	if e == nil {
		return sentryRefusal{}
	}
	return sentryRefusal{refused: true, why: sendrefusal.Classify(e.Message)}
}

// holding asks a sentry, in one sub-batch, whether it holds each tx (in a block or its pool:
// eth_getTransactionByHash answers it); a tx it did not answer for counts as not held.
func (s *sentries) holding(ctx context.Context, hashes []string) []bool {
	calls := make([]*jsonrpc.Request, len(hashes))
	for i, h := range hashes {
		params, _ := json.Marshal([]string{h})
		calls[i] = &jsonrpc.Request{Method: "eth_getTransactionByHash", Params: params}
	}
	out := make([]bool, len(hashes))
	if len(calls) == 0 {
		return out
	}
	answers, _ := s.subBatch(ctx, calls, false, nil)
	for i, a := range answers {
		var r struct {
			Result json.RawMessage `json:"result"`
		}
		out[i] = a != nil && json.Unmarshal(a, &r) == nil && len(r.Result) > 0 && string(r.Result) != "null"
	}
	return out
}

// subBatch sends calls to the sentries as one JSON-RPC batch under the gateway's own ids
// (clients may repeat ids within a batch) and returns the answers in call order, as parts of
// the sentry's answer (charged to h, when not nil); an answer the sentry did not give is nil,
// and err says why when the whole batch failed.
func (s *sentries) subBatch(ctx context.Context, calls []*jsonrpc.Request, toAll bool, h *hold) ([]json.RawMessage, error) {
	body := []byte{'['}
	for j, c := range calls {
		if j > 0 {
			body = append(body, ',')
		}
		body = appendCall(body, []byte(strconv.Itoa(j)), c.Method, c.Params)
	}
	body = append(body, ']')
	var (
		resp []byte
		err  error
	)
	if toAll {
		_, resp, err = s.group.DoAll(ctx, body)
	} else {
		_, resp, err = s.group.do(ctx, body, h)
	}
	out := make([]json.RawMessage, len(calls))
	var parts [][]byte
	if err == nil {
		var ok bool
		if parts, ok = jsonrpc.Elements(resp); !ok {
			err = errors.New("the sentry's answer to a batch is not a JSON array")
		}
	}
	for _, p := range parts {
		var head struct {
			ID int `json:"id"`
		}
		if json.Unmarshal(p, &head) == nil && head.ID >= 0 && head.ID < len(out) {
			out[head.ID] = p
		}
	}
	return out, err
}

// forward sends one call to the sentries (one, or all with forward_to_all).
func (s *sentries) forward(ctx context.Context, id json.RawMessage, method string, params json.RawMessage) (int, []byte, error) {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	body := appendCall(nil, id, method, params)
	if s.toAll {
		return s.group.DoAll(ctx, body)
	}
	return s.group.Do(ctx, body)
}

// readSenderStates asks one sentry, in one batch, each sender's balance and next nonce at its
// latest block; senders it does not answer for are left out (nil on any failure).
func (s *sentries) readSenderStates(ctx context.Context, senders []common.Address, now time.Time) map[common.Address]senderState {
	if len(senders) == 0 {
		return nil
	}
	body := make([]byte, 0, 64+len(senders)*200)
	body = append(body, '[')
	for i, a := range senders {
		if i > 0 {
			body = append(body, ',')
		}
		addr := `["` + a.Hex() + `","latest"]`
		body = appendCall(body, []byte(strconv.Itoa(2*i)), "eth_getBalance", json.RawMessage(addr))
		body = append(body, ',')
		body = appendCall(body, []byte(strconv.Itoa(2*i+1)), "eth_getTransactionCount", json.RawMessage(addr))
	}
	body = append(body, ']')
	status, answer, err := s.group.Do(ctx, body)
	if err != nil || status != http.StatusOK {
		return nil
	}
	var replies []struct {
		ID     int             `json:"id"`
		Result json.RawMessage `json:"result"`
	}
	if json.Unmarshal(answer, &replies) != nil {
		return nil
	}
	balances := map[int]*big.Int{}
	nonces := map[int]uint64{}
	for _, r := range replies {
		if r.ID < 0 || r.ID >= 2*len(senders) || len(r.Result) == 0 {
			continue
		}
		if r.ID%2 == 0 {
			var b hexutil.Big
			if json.Unmarshal(r.Result, &b) == nil {
				balances[r.ID/2] = b.ToInt()
			}
		} else {
			var n hexutil.Uint64
			if json.Unmarshal(r.Result, &n) == nil {
				nonces[r.ID/2] = uint64(n)
			}
		}
	}
	out := map[common.Address]senderState{}
	for i, a := range senders {
		b, okB := balances[i]
		n, okN := nonces[i]
		if okB && okN {
			out[a] = senderState{balance: b, nonce: n, at: now}
		}
	}
	return out
}

// sentryError is the error of a sentry's answer, nil if it succeeded.
func sentryError(resp []byte) *jsonrpc.Error {
	var r struct {
		Error *jsonrpc.Error `json:"error"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return jsonrpc.Errorf(CodeServerError, "unreadable answer")
	}
	return r.Error
}
