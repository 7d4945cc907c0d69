package ingress_test

// Issue 17: the gateway's own refusals of what no pool would take carry the answer geth gives for
// the same tx: each tx goes to a devnet geth node and to the gateway, and the gateway's message
// must be geth's, or begin with it where the gateway says more.

import (
	"bytes"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/interopgate/interopgate/accesslist"
	"github.com/interopgate/interopgate/devnet"
)

func TestRefusalsCarryGethsAnswer(t *testing.T) {
	s := newStack(t, nil, nil)
	e := s.emit(901, "refusals")
	inbox := accesslist.CrossL2InboxAddress
	al := types.AccessList{{Address: inbox, StorageKeys: e.Keys()}}
	signer := types.LatestSignerForChainID(big.NewInt(902))
	sign := func(acct devnet.Account, inner *types.DynamicFeeTx) *types.Transaction {
		inner.ChainID, inner.AccessList = big.NewInt(902), al
		if inner.GasFeeCap == nil {
			inner.GasFeeCap = big.NewInt(1e10)
		}
		if inner.GasTipCap == nil {
			inner.GasTipCap = big.NewInt(1)
		}
		tx, err := types.SignNewTx(acct.Key, signer, inner)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	funded := s.net.Accounts[3]
	key, _ := crypto.GenerateKey()
	unfunded := devnet.Account{Address: crypto.PubkeyToAddress(key.PublicKey), Key: key}
	// A nonce of account 4 used on 902 first.
	used := s.execTx(4, 0, e.Keys())
	if status, r := s.send(used); status != 200 || r.Error != nil {
		t.Fatalf("using a nonce: %+v", r.Error)
	}
	if _, err := s.net.Chain(902).WaitReceipt(s.ctx, used.Hash()); err != nil {
		t.Fatal(err)
	}
	calldata := bytes.Repeat([]byte{0x5a}, 1000)
	cases := []struct {
		name string
		tx   *types.Transaction
	}{
		{"intrinsic gas", sign(funded, &types.DynamicFeeTx{Gas: 21_000, To: &inbox})},
		{"calldata floor", sign(funded, &types.DynamicFeeTx{Gas: 50_000, To: &inbox, Data: calldata})},
		{"tip above fee cap", sign(funded, &types.DynamicFeeTx{Gas: 100_000, To: &inbox, GasTipCap: big.NewInt(10), GasFeeCap: big.NewInt(9)})},
		{"init code size", sign(funded, &types.DynamicFeeTx{Gas: 900_000, Data: make([]byte, 49_153)})},
		// (The block gas limit is op-reth's rule, gas limit minus the L1-info reservation, with
		// the op-reth model's text: geth's devnet refuses a tx that large by Osaka's per-tx cap
		// first, which no OP Stack fork has. TestStatelessChecksSpareTheFilter covers it.)
		{"unfunded sender", sign(unfunded, &types.DynamicFeeTx{Gas: 100_000, To: &inbox})},
		{"used nonce", sign(s.net.Accounts[4], &types.DynamicFeeTx{Nonce: 0, Gas: 100_001, To: &inbox})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			node := s.net.Chain(902).Client().SendTransaction(s.ctx, c.tx)
			if node == nil {
				t.Fatal("geth took the tx: the case proves nothing")
			}
			_, r := s.send(c.tx)
			if r.Error == nil || r.Error.Code != -32000 || !strings.HasPrefix(r.Error.Message, node.Error()) {
				t.Fatalf("gateway %+v, geth %q: want geth's answer", r.Error, node)
			}
		})
	}
}
