package ingress_test

// Issue 17: a tx whose sender cannot pay, or whose nonce is used, costs no filter check; when the
// sentries cannot say, the filter decides (fail open).

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/ingress"
	"github.com/interopgate/interopgate/internal/rpctest"
)

func TestTheSenderMustBeAbleToPay(t *testing.T) {
	unfunded := crypto.PubkeyToAddress(devnet.DevAccount(1).Key.PublicKey)
	usedNonce := crypto.PubkeyToAddress(devnet.DevAccount(2).Key.PublicKey)
	var stateDown atomic.Bool
	var stateReads atomic.Int64
	f := newFakes(t, 0, nil)
	f.sentry.SetHandler(func(method string, params json.RawMessage) (any, *rpctest.Error) {
		var ps []string
		_ = json.Unmarshal(params, &ps)
		switch method {
		case "eth_getBalance", "eth_getTransactionCount":
			stateReads.Add(1)
			if stateDown.Load() {
				return nil, &rpctest.Error{Code: -32603, Message: "state unavailable"}
			}
			addr := common.HexToAddress(ps[0])
			if method == "eth_getBalance" {
				if addr == unfunded {
					return "0x0", nil
				}
				return "0xde0b6b3a7640000", nil // 1 ether
			}
			if addr == usedNonce {
				return "0x5", nil
			}
			return "0x0", nil
		}
		return sentryHandler(method, params)
	})
	send := func(account int, nonce uint64, msg int) (int64, rpcReply) {
		before := f.filter.Calls()
		_, b := post(t, f.gw.URL(), sendRawBody(1, interopTx(t, account, nonce, 902, keysOf(message(msg)))))
		return f.filter.Calls() - before, reply(t, b)
	}
	if n, r := send(1, 0, 9300); n != 0 || r.Error == nil || r.Error.Code != -32000 || !strings.HasPrefix(r.Error.Message, "insufficient funds for gas * price + value") {
		t.Fatalf("an unfunded sender: %d filter checks, %+v", n, r.Error)
	}
	if n, r := send(2, 0, 9301); n != 0 || r.Error == nil || !strings.HasPrefix(r.Error.Message, "nonce too low: next nonce 5, tx nonce 0") {
		t.Fatalf("a used nonce: %d filter checks, %+v", n, r.Error)
	}
	if n, r := send(3, 0, 9302); n != 1 || r.Error != nil {
		t.Fatalf("a sender who can pay: %d filter checks, %+v", n, r.Error)
	}
	// Fail open: with the sentries unable to say, an unfunded sender's tx goes to the filter (the
	// sentry will refuse it), never refused for a state the gateway does not know.
	stateDown.Store(true)
	reads := stateReads.Load()
	if n, _ := send(4, 0, 9303); n != 1 || stateReads.Load() == reads {
		t.Fatalf("the sentries unable to say: %d filter checks, %d state reads", n, stateReads.Load()-reads)
	}
}

// Found by the review: replaying a sender's mined txs (used nonces) spent its per-sender limit,
// so its next real tx was refused -32017. Who cannot pay is refused before the limit is charged.
func TestReplayedTxsDoNotSpendTheSendersLimit(t *testing.T) {
	victim := crypto.PubkeyToAddress(devnet.DevAccount(1).Key.PublicKey)
	f := newFakes(t, 0, func(c *ingress.Config) { c.SenderRateLimit = 2 })
	f.sentry.SetHandler(func(method string, params json.RawMessage) (any, *rpctest.Error) {
		var ps []string
		_ = json.Unmarshal(params, &ps)
		switch method {
		case "eth_getBalance":
			return "0xde0b6b3a7640000", nil
		case "eth_getTransactionCount":
			if common.HexToAddress(ps[0]) == victim {
				return "0x5", nil
			}
			return "0x0", nil
		}
		return sentryHandler(method, params)
	})
	for i := range 5 { // the attacker's replays of nonces 0..4
		_, b := post(t, f.gw.URL(), sendRawBody(1, interopTx(t, 1, uint64(i), 902, keysOf(message(9500+i)))))
		if r := reply(t, b); r.Error == nil || !strings.HasPrefix(r.Error.Message, "nonce too low") {
			t.Fatalf("replay %d: %s", i, b)
		}
	}
	_, b := post(t, f.gw.URL(), sendRawBody(1, interopTx(t, 1, 5, 902, keysOf(message(9510)))))
	if r := reply(t, b); r.Error != nil {
		t.Fatalf("the victim's next tx after the replays: %s", b)
	}
}

// Found by the review: a cached state must not refuse a sender funded since it was read.
func TestACachedStateNeverRefuses(t *testing.T) {
	var funded atomic.Bool
	f := newFakes(t, 0, func(c *ingress.Config) { c.SenderStateTTL = d(time.Hour) })
	f.sentry.SetHandler(func(method string, params json.RawMessage) (any, *rpctest.Error) {
		switch method {
		case "eth_getBalance":
			if funded.Load() {
				return "0xde0b6b3a7640000", nil
			}
			return "0x0", nil
		case "eth_getTransactionCount":
			return "0x0", nil
		}
		return sentryHandler(method, params)
	})
	_, b := post(t, f.gw.URL(), sendRawBody(1, interopTx(t, 1, 0, 902, keysOf(message(9600)))))
	if r := reply(t, b); r.Error == nil || !strings.HasPrefix(r.Error.Message, "insufficient funds") {
		t.Fatalf("before funding: %s", b)
	}
	funded.Store(true)
	_, b = post(t, f.gw.URL(), sendRawBody(1, interopTx(t, 1, 0, 902, keysOf(message(9601)))))
	if r := reply(t, b); r.Error != nil {
		t.Fatalf("after funding, within sender_state_ttl: %s", b)
	}
}
