package supervisorclient

import (
	"strconv"

	"github.com/ethereum/go-ethereum/common/hexutil"
)

// Namespaces of the check method: op-interop-filter serves interop_, op-supervisor served
// supervisor_ (same parameters).
const (
	NamespaceInterop    = "interop"
	NamespaceSupervisor = "supervisor"
)

// appendCheckCall appends one JSON-RPC call of {ns}_checkAccessList, byte for byte as the OP
// Stack clients send it (protocol.md §6):
//
//	{"jsonrpc":"2.0","id":1,"method":"interop_checkAccessList","params":[["0x01…","0x03…"],
//	 "cross-unsafe",{"chainID":"902","timestamp":"0x6553f164","timeout":"0x1c20"}]}
//
// The chain ID is a decimal string, timestamp and timeout hex quantities.
func appendCheckCall(dst []byte, id uint64, namespace string, req *Request) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `,"method":"`...)
	dst = append(dst, namespace...)
	dst = append(dst, `_checkAccessList","params":[[`...)
	for i := range req.InboxKeys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `"0x`...)
		dst = appendHex(dst, req.InboxKeys[i][:])
		dst = append(dst, '"')
	}
	dst = append(dst, `],"`...)
	safety := req.MinSafety
	if safety == "" {
		safety = SafetyCrossUnsafe
	}
	dst = append(dst, safety...)
	dst = append(dst, `",{"chainID":"`...)
	dst = append(dst, req.Executing.ChainID.Dec()...)
	dst = append(dst, `","timestamp":"`...)
	dst = append(dst, hexutil.EncodeUint64(req.Executing.Timestamp)...)
	dst = append(dst, `","timeout":"`...)
	dst = append(dst, hexutil.EncodeUint64(req.Executing.Timeout)...)
	dst = append(dst, `"}]}`...)
	return dst
}

// appendSimpleCall appends a call with no parameters.
func appendSimpleCall(dst []byte, id uint64, method string) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `,"method":"`...)
	dst = append(dst, method...)
	dst = append(dst, `","params":[]}`...)
	return dst
}

const hexDigits = "0123456789abcdef"

func appendHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0x0f])
	}
	return dst
}
