package ingress_test

// Issue 16: JSON-RPC 2.0 as go-ethereum answers it. Each body goes to a devnet geth node and to
// the gateway in front of it; the answers must agree in shape (one object, an array, or nothing),
// per element in id, result or error, and error code, and in HTTP status where a client acts on
// it. Messages may differ: the gateway's say more.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// conformanceCases are the bodies, each a rule of the spec or of geth's rpc package. own, when
// set, is the gateway's answer where it differs from geth by design, and why.
var conformanceCases = []struct{ name, body, own string }{
	{"call", `{"jsonrpc":"2.0","method":"eth_chainId","id":1}`, ""},
	{"string id", `{"jsonrpc":"2.0","method":"eth_chainId","id":"abc"}`, ""},
	{"null id", `{"jsonrpc":"2.0","method":"eth_chainId","id":null}`, ""},
	{"fractional id", `{"jsonrpc":"2.0","method":"eth_chainId","id":1.5}`, ""},
	{"negative id", `{"jsonrpc":"2.0","method":"eth_chainId","id":-7}`, ""},
	{"object id", `{"jsonrpc":"2.0","method":"eth_chainId","id":{"a":1}}`, ""},
	{"array id", `{"jsonrpc":"2.0","method":"eth_chainId","id":[1]}`, ""},
	{"boolean id", `{"jsonrpc":"2.0","method":"eth_chainId","id":true}`, ""},
	{"no params member", `{"jsonrpc":"2.0","method":"eth_blockNumber","id":2}`, ""},
	{"params null", `{"jsonrpc":"2.0","method":"eth_blockNumber","params":null,"id":2}`, ""},
	{"params empty", `{"jsonrpc":"2.0","method":"eth_blockNumber","params":[],"id":2}`, ""},
	// proxyd's status for a method off the allow-list (protocol.md §7), for drop-in clients.
	{"unknown method", `{"jsonrpc":"2.0","method":"eth_noSuchMethod","id":3}`, "{Status:403 Kind:object Elems:[id 3 error -32601]}"},
	{"method not a string", `{"jsonrpc":"2.0","method":1,"id":3}`, ""},
	{"missing method", `{"jsonrpc":"2.0","id":4}`, ""},
	{"empty object", `{}`, ""},
	{"not an object", `1`, ""},
	{"string", `"eth_chainId"`, ""},
	{"null", `null`, ""},
	{"parse error", `{"jsonrpc":"2.0","method":"eth_chainId","id":1`, ""},
	{"trailing garbage", `{"jsonrpc":"2.0","method":"eth_chainId","id":1}x`, ""},
	{"notification", `{"jsonrpc":"2.0","method":"eth_chainId"}`, ""},
	{"notification without a version", `{"method":"eth_chainId"}`, ""},
	{"notification of version 1.0", `{"jsonrpc":"1.0","method":"eth_chainId"}`, ""},
	{"batch with a versionless notification", `[{"method":"eth_chainId"},{"jsonrpc":"2.0","method":"eth_chainId","id":1}]`, ""},
	{"empty batch", `[]`, ""},
	{"batch", `[{"jsonrpc":"2.0","method":"eth_chainId","id":1},{"jsonrpc":"2.0","method":"eth_blockNumber","id":2}]`, ""},
	{"batch with an invalid element", `[{"jsonrpc":"2.0","method":"eth_chainId","id":1},{"foo":"boo"}]`, ""},
	{"batch of null", `[null]`, ""},
	{"batch of an empty object", `[{}]`, ""},
	{"batch of a number", `[1]`, ""},
	{"batch of numbers", `[1,2,3]`, ""},
	{"batch with an object id", `[{"jsonrpc":"2.0","method":"eth_chainId","id":{"a":1}}]`, ""},
	{"batch with an unknown method", `[{"jsonrpc":"2.0","method":"eth_noSuchMethod","id":1},{"jsonrpc":"2.0","method":"eth_chainId","id":2}]`, ""},
	{"batch of notifications", `[{"jsonrpc":"2.0","method":"eth_chainId"},{"jsonrpc":"2.0","method":"eth_blockNumber"}]`, ""},
	{"batch with a notification", `[{"jsonrpc":"2.0","method":"eth_chainId"},{"jsonrpc":"2.0","method":"eth_blockNumber","id":9}]`, ""},
	{"batch parse error", `[{"jsonrpc":"2.0","method":"eth_chainId","id":1},`, ""},
	{"nested batch", `[[{"jsonrpc":"2.0","method":"eth_chainId","id":1}]]`, ""},
	{"batch of a string", `["x"]`, ""},
	{"same id twice", `[{"jsonrpc":"2.0","method":"eth_chainId","id":1},{"jsonrpc":"2.0","method":"eth_blockNumber","id":1}]`, ""},
	{"bad params", `{"jsonrpc":"2.0","method":"eth_getBalance","params":["0xzz","latest"],"id":5}`, ""},
	{"too many params", `{"jsonrpc":"2.0","method":"eth_chainId","params":[1,2],"id":6}`, ""},
	{"params an object", `{"jsonrpc":"2.0","method":"eth_blockNumber","params":{"a":1},"id":7}`, ""},
	{"wrong version", `{"jsonrpc":"1.0","method":"eth_chainId","id":8}`, ""},
	{"no version", `{"method":"eth_chainId","id":8}`, ""},
	{"whitespace before", "  \n {\"jsonrpc\":\"2.0\",\"method\":\"eth_chainId\",\"id\":1}", ""},
	// A tx that does not decode: the gateway's stable -32602 (geth: -32000, its code for any
	// error, here "transaction type not supported").
	{"invalid send", `{"jsonrpc":"2.0","method":"eth_sendRawTransaction","params":["0x1234"],"id":10}`, "{Status:200 Kind:object Elems:[id 10 error -32602]}"},
	{"send without params", `{"jsonrpc":"2.0","method":"eth_sendRawTransaction","id":11}`, ""},
	// Found by a review: geth reads the hex as written (an escape is not hex) and takes one param.
	{"send with an escape in the hex", `{"jsonrpc":"2.0","method":"eth_sendRawTransaction","params":["\u00301234"],"id":12}`, ""},
	{"send with a second param", `{"jsonrpc":"2.0","method":"eth_sendRawTransaction","params":["0x1234",null],"id":13}`, ""},
	// A member Go's decoder folds ("paramſ": U+017F folds to s): geth takes it as params, another
	// server would not; the gateway refuses the ambiguity (its -32600) rather than judge one and
	// forward the other, with id null as for every ambiguous envelope (the id may be one of them).
	{"a member in a Unicode fold", `{"jsonrpc":"2.0","method":"eth_blockNumber","paramſ":[],"id":14}`, "{Status:200 Kind:object Elems:[id null error -32600]}"},
}

// answerShape is what must agree between geth and the gateway.
type answerShape struct {
	Status int      // HTTP status
	Kind   string   // "object", "array", "empty" or "other"
	Elems  []string // per answer: id and result or error code
}

func shapeOf(status int, body []byte) answerShape {
	s := answerShape{Status: status}
	body = bytes.TrimSpace(body)
	elem := func(raw json.RawMessage) string {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Code int `json:"code"`
			} `json:"error"`
		}
		if json.Unmarshal(raw, &m) != nil {
			return "unreadable " + string(raw)
		}
		id := string(m.ID)
		if id == "" {
			id = "(none)"
		}
		if m.Error != nil {
			return fmt.Sprintf("id %s error %d", id, m.Error.Code)
		}
		if m.Result != nil {
			return fmt.Sprintf("id %s result", id)
		}
		return fmt.Sprintf("id %s neither", id)
	}
	switch {
	case len(body) == 0:
		s.Kind = "empty"
	case body[0] == '{':
		s.Kind = "object"
		s.Elems = []string{elem(body)}
	case body[0] == '[':
		s.Kind = "array"
		var raws []json.RawMessage
		if json.Unmarshal(body, &raws) != nil {
			s.Kind = "other"
		}
		for _, r := range raws {
			s.Elems = append(s.Elems, elem(r))
		}
	default:
		s.Kind = "other"
	}
	return s
}

func TestJSONRPCConformsToGeth(t *testing.T) {
	s := newStack(t, nil, nil)
	gw := s.startGateway(testConfig(), nil)
	node := s.net.Chain(902).RPCURL()
	for _, c := range conformanceCases {
		t.Run(c.name, func(t *testing.T) {
			want := fmt.Sprintf("%+v", shapeOf(post(t, node, c.body)))
			if c.own != "" {
				want = c.own
			}
			got := fmt.Sprintf("%+v", shapeOf(post(t, gw.URL(), c.body)))
			if got != want {
				_, gb := post(t, gw.URL(), c.body)
				_, nb := post(t, node, c.body)
				t.Errorf("%s\n gateway: %+v\n    geth: %+v\n gateway body: %s\n    geth body: %s", c.body, got, want,
					strings.TrimSpace(string(gb)), strings.TrimSpace(string(nb)))
			}
		})
	}
}
