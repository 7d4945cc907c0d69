package ingress_test

// Issue 17: what no pool would take, refused before any filter call, with geth's text.

import (
	"bytes"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/ingress"
)

func TestStatelessChecksSpareTheFilter(t *testing.T) {
	f := newFakes(t, 0, func(c *ingress.Config) { c.BlockGasLimit = 1_000_000 })
	inbox := accesslist.CrossL2InboxAddress
	al := types.AccessList{{Address: inbox, StorageKeys: keysOf(message(77))}}
	sign := func(inner *types.DynamicFeeTx) *types.Transaction {
		inner.ChainID, inner.AccessList = big.NewInt(902), al
		if inner.GasFeeCap == nil {
			inner.GasFeeCap = big.NewInt(1e9)
		}
		if inner.GasTipCap == nil {
			inner.GasTipCap = big.NewInt(1)
		}
		tx, err := types.SignNewTx(devnet.DevAccount(1).Key, types.LatestSignerForChainID(big.NewInt(902)), inner)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	calldata := bytes.Repeat([]byte{0x5a}, 1000) // 1,000 non-zero bytes: intrinsic 43,200, floor 61,000
	cases := []struct {
		name string
		tx   *types.Transaction
		want string
	}{
		// The case: the sentry answered the same text after a filter check.
		{"under its intrinsic gas", sign(&types.DynamicFeeTx{Gas: 21_000, To: &inbox}), "intrinsic gas too low: gas 21000, minimum needed 27200"},
		{"under the calldata floor", sign(&types.DynamicFeeTx{Gas: 50_000, To: &inbox, Data: calldata}), "insufficient gas for floor data gas cost: gas 50000, minimum needed 61000"},
		{"a zero fee cap", sign(&types.DynamicFeeTx{Gas: 100_000, To: &inbox, GasTipCap: big.NewInt(0), GasFeeCap: big.NewInt(0)}), "max fee per gas less than block base fee"},
		{"tip above fee cap", sign(&types.DynamicFeeTx{Gas: 100_000, To: &inbox, GasTipCap: big.NewInt(10), GasFeeCap: big.NewInt(9)}), "max priority fee per gas higher than max fee per gas"},
		{"init code too large", sign(&types.DynamicFeeTx{Gas: 900_000, Data: make([]byte, 49_153)}), "max initcode size exceeded"},
		{"above the block gas limit", sign(&types.DynamicFeeTx{Gas: 930_001, To: &inbox}), "exceeds block gas limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, sentried := f.filter.Calls(), f.sentry.MethodCalls(ingress.MethodSendRawTransaction)
			status, body := post(t, f.gw.URL(), sendRawBody(1, c.tx))
			r := reply(t, body)
			if status != 200 || r.Error == nil || r.Error.Code != -32000 || !strings.HasPrefix(r.Error.Message, c.want) {
				t.Fatalf("%d %s, want -32000 %q", status, body, c.want)
			}
			if f.filter.Calls() != before || f.sentry.MethodCalls(ingress.MethodSendRawTransaction) != sentried {
				t.Fatal("the filter or the sentry was asked about a tx no pool would take")
			}
		})
	}
	// Enough gas: asked and forwarded.
	ok := sign(&types.DynamicFeeTx{Gas: 61_000, To: &inbox, Data: calldata})
	if _, body := post(t, f.gw.URL(), sendRawBody(1, ok)); reply(t, body).Error != nil {
		t.Fatalf("a tx with enough gas: %s", body)
	}
}
