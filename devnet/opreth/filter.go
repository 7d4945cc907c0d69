package opreth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// Class is what op-reth makes of one endpoint's answer to a check (interop_filter/errors.rs).
type Class int

const (
	// Valid: a null result.
	Valid Class = iota
	// Invalid: a definitive invalid: every interop error code (-320xxx, -321xxx) that is not
	// failsafe or data-unavailable, -321100 ("out of scope") included.
	Invalid
	// Failsafe: -320602.
	Failsafe
	// Soft: -321401 or -320400 (data unavailable): not an answer, the tx is kept.
	Soft
	// NoAnswer: -32603, a transport error or a timeout.
	NoAnswer
	// Rejected: any other JSON-RPC error: the tx is refused (and, at a re-check, evicted).
	Rejected
)

func (c Class) String() string {
	return [...]string{"valid", "invalid", "failsafe", "soft", "no answer", "rejected"}[c]
}

// classify maps a JSON-RPC error code (0: a result) to op-reth's class.
func classify(code int) Class {
	switch {
	case code == 0:
		return Valid
	case code == -320602:
		return Failsafe
	case code == -321401 || code == -320400:
		return Soft
	case code == -32603:
		return NoAnswer
	case code <= -320000 && code > -322000:
		return Invalid
	}
	return Rejected
}

// Answer is one endpoint's answer to one check.
type Answer struct {
	Class   Class
	Code    int
	Message string
}

// endpoint is one --rollup.interop-http URL.
type endpoint struct {
	url    string
	client *http.Client
}

// checkBody is the request op-reth sends: interop_checkAccessList(entries, min_safety,
// {"chainID": <hex quantity>, "timestamp": <hex quantity>, "timeout": <hex quantity>}), where
// the timestamp is the latest head's and the timeout the validity window.
func checkBody(keys []common.Hash, safety string, chainID, timestamp, timeout uint64) []byte {
	type descriptor struct {
		ChainID   string `json:"chainID"`
		Timestamp string `json:"timestamp"`
		Timeout   string `json:"timeout"`
	}
	hex := func(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }
	body, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": 1, "method": "interop_checkAccessList",
		"params": []any{keys, safety, descriptor{hex(chainID), hex(timestamp), hex(timeout)}},
	})
	return body
}

var failsafeBody = []byte(`{"jsonrpc":"2.0","id":1,"method":"admin_getFailsafeEnabled","params":[]}`)

type rpcAnswer struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// call posts body with a timeout; the error is a transport failure or an unreadable answer.
func (e *endpoint) call(ctx context.Context, body []byte, timeout time.Duration) (rpcAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return rpcAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return rpcAnswer{}, err
	}
	defer resp.Body.Close()
	var a rpcAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return rpcAnswer{}, fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
	}
	return a, nil
}

// check asks one endpoint about one tx's entries.
func (e *endpoint) check(ctx context.Context, body []byte, timeout time.Duration) Answer {
	a, err := e.call(ctx, body, timeout)
	if err != nil {
		return Answer{Class: NoAnswer, Message: err.Error()}
	}
	if a.Error != nil {
		return Answer{Class: classify(a.Error.Code), Code: a.Error.Code, Message: a.Error.Message}
	}
	return Answer{Class: Valid}
}

// failsafe asks one endpoint admin_getFailsafeEnabled; ok is false when it gave no answer.
func (e *endpoint) failsafe(ctx context.Context, timeout time.Duration) (on, ok bool) {
	a, err := e.call(ctx, failsafeBody, timeout)
	if err != nil || a.Error != nil || json.Unmarshal(a.Result, &on) != nil {
		return false, false
	}
	return on, true
}
