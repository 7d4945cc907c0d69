package rpctest

import (
	"bytes"
	"fmt"
	"strings"
)

// BlockBatchAnswer is a node's answer to a batch of n eth_getBlockByNumber calls (ids 0..n-1),
// each result about size bytes: n=100, size=1700 is the ≈178 KB answer of the attack of clients
// that never read (issue 19).
func BlockBatchAnswer(n, size int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"result":{"number":"0x1","extraData":"0x%s"}}`, i, strings.Repeat("ab", size/2))
	}
	b.WriteByte(']')
	return b.Bytes()
}

// BlockBatchRequest is the raw HTTP/1.1 POST of a batch of n eth_getBlockByNumber("latest", true)
// calls, for tests that write to a connection themselves.
func BlockBatchRequest(n int) string {
	calls := make([]string, n)
	for i := range calls {
		calls[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_getBlockByNumber","params":["latest",true]}`, i)
	}
	body := "[" + strings.Join(calls, ",") + "]"
	return fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}
