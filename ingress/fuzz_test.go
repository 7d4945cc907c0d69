package ingress

import (
	"encoding/json"
	"testing"
)

// FuzzRawTxs: the params of any send call either give raw transactions or a -32602; never a
// panic.
func FuzzRawTxs(f *testing.F) {
	f.Add(MethodSendRawTransaction, []byte(`["0x02c0"]`))
	f.Add(MethodSendBundle, []byte(`[{"txs":["0x01","0x02"]}]`))
	f.Add(MethodSendRawTransactionConditional, []byte(`["0x00",{"knownAccounts":{}}]`))
	f.Fuzz(func(t *testing.T, method string, params []byte) {
		raws, err := rawTxs(method, json.RawMessage(params))
		if err != nil {
			if err.rpc.Code != -32602 || err.status != 400 {
				t.Fatalf("error %d/%d", err.rpc.Code, err.status)
			}
			return
		}
		if len(raws) == 0 {
			t.Fatal("no error and no transaction")
		}
	})
}

// FuzzPrepare: any bytes as a raw transaction are decided locally or keyed for the filter;
// never a panic.
func FuzzPrepare(f *testing.F) {
	f.Add([]byte{0x02, 0xc0})
	f.Add([]byte{0xc0})
	g := fuzzGateway(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		it := g.judge.prepare(raw)
		if !it.decided && it.key == "" {
			t.Fatal("undecided item without a cache key")
		}
		if it.decided && it.err == nil && it.interop {
			t.Fatal("an interop tx decided valid without the filter")
		}
	})
}
