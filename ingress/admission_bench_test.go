package ingress

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/interopgate/interopgate/accesslist"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// BenchmarkAdmissionBeforeFilter is the gateway's cost for one interop tx up to the filter
// call: scan the raw tx, check size and chain, parse and de-duplicate its 3 messages, apply
// the local rules, digest the list into the cache key.
func BenchmarkAdmissionBeforeFilter(b *testing.B) {
	g := fuzzGateway(b)
	raw := rawInteropTx(3)
	b.ReportAllocs()
	for b.Loop() {
		it := g.judge.prepare(raw)
		if it.decided || it.key == "" {
			b.Fatalf("prepare decided the tx: %+v", it.err)
		}
	}
}

// rawInteropTx is a signed tx of chain 902 executing n messages of chain 901 (local checks pass).
func rawInteropTx(n int) []byte {
	msgs := make([]accesslist.Message, n)
	for i := range msgs {
		msgs[i] = accesslist.Message{BlockNumber: uint64(100 + i), Timestamp: uint64(time.Now().Unix() - 60), LogIndex: uint32(i)}
		msgs[i].ChainID.SetUint64(901)
		msgs[i].Checksum = common.Hash{accesslist.PrefixChecksum, byte(i)}
	}
	key, _ := crypto.GenerateKey()
	to := accesslist.CrossL2InboxAddress
	tx, _ := types.SignNewTx(key, types.LatestSignerForChainID(big.NewInt(902)), &types.DynamicFeeTx{
		ChainID: big.NewInt(902), Gas: 100000, GasFeeCap: big.NewInt(1), To: &to,
		AccessList: types.AccessList{{Address: to, StorageKeys: accesslist.EncodeMessages(msgs)}},
	})
	raw, _ := tx.MarshalBinary()
	return raw
}

// fuzzGateway is a gateway for local-only tests (no listener, no filter endpoint).
func fuzzGateway(t testing.TB) *Gateway {
	deps, _ := accesslist.NewDependencySet([]uint64{901, 902}, 0)
	pool, _ := sc.NewPool(nil, sc.PoolConfig{})
	group, _ := NewGroup(GroupConfig{Backends: []BackendConfig{{Name: "s", URL: "http://127.0.0.1:1"}}}, nil, nil)
	cfg := DefaultConfig()
	cfg.ChainID = 902
	g, err := New(cfg, Deps{Checker: pool, Dependencies: deps, Backends: group})
	if err != nil {
		t.Fatal(err)
	}
	return g
}
