package devnet

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
)

// The devnet_ namespace steers a running devnet from another process: emit, commit in
// lockstep or one chain alone, reorg, and read the heads; bad input gets a clear error.
func TestControlNamespace(t *testing.T) {
	d := startDevnet(t, Config{GenesisTime: 2_000_000})
	srv, err := d.ServeControl("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := rpc.DialContext(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	var m Message
	if err := client.CallContext(ctx, &m, "devnet_emit", 901, hexutil.Bytes("hello")); err != nil {
		t.Fatal(err)
	}
	if m.ChainID != 901 || m.BlockNumber != 1 || m.Timestamp != 2_000_001 || len(m.InboxKeys) != 2 || m.Origin != EmitterAddress {
		t.Fatalf("emitted %+v", m)
	}
	var heads []Head
	if err := client.CallContext(ctx, &heads, "devnet_heads"); err != nil {
		t.Fatal(err)
	}
	if len(heads) != 2 || heads[0].Timestamp != heads[1].Timestamp || heads[0].Hash != m.BlockHash {
		t.Fatalf("heads after an emit on an on-demand devnet: %+v (the chains stay in lockstep)", heads)
	}
	var alone Head
	if err := client.CallContext(ctx, &alone, "devnet_commitAlone", 902); err != nil || alone.ChainID != 902 || alone.Number != 2 {
		t.Fatalf("commitAlone: %+v %v", alone, err)
	}
	if err := client.CallContext(ctx, &heads, "devnet_commit"); err != nil || heads[0].Number != 2 || heads[1].Number != 3 {
		t.Fatalf("commit: %+v %v", heads, err)
	}
	var after Head
	if err := client.CallContext(ctx, &after, "devnet_reorg", 901, 2); err != nil {
		t.Fatal(err)
	}
	if h := d.Chain(901).HeaderByNumber(m.BlockNumber); h.Hash() == m.BlockHash || h.Time != m.Timestamp {
		t.Fatalf("after devnet_reorg the message's block is %s at %d, want another hash at %d", h.Hash(), h.Time, m.Timestamp)
	}
	if after.Number != 3 {
		t.Fatalf("reorg head %+v, want block 3", after)
	}
	for _, bad := range []struct {
		method string
		args   []any
		want   string
	}{
		{"devnet_emit", []any{903, hexutil.Bytes("x")}, "chain 903 is not a chain of this devnet"},
		{"devnet_reorg", []any{901, 100}, "reorg depth 100"},
		{"devnet_commitAlone", []any{"nine"}, "invalid argument"},
		{"devnet_emit", []any{901, hexutil.Bytes(make([]byte, maxEmitData+1))}, "at most"},
	} {
		var out any
		err := client.CallContext(ctx, &out, bad.method, bad.args...)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s%v: %v, want an error saying %q", bad.method, bad.args, err, bad.want)
		}
	}
}
