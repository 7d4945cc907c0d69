package jsonrpc

import (
	"encoding/json"
	"testing"
)

// FuzzParse: any body either parses into calls whose answers are valid JSON, or is rejected
// with a standard code; never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"jsonrpc":"2.0","id":1,"method":"m","params":[]}`, `[{"jsonrpc":"2.0","id":"a","method":"m"},1]`, `[]`, `[`, `{}`, `null`, `[{"foo":"boo"}]`, `{"jsonrpc":"2.0","method":1,"id":{"a":1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		// BatchLen agrees with a full decode on every valid array.
		var elems []json.RawMessage
		if json.Unmarshal(body, &elems) == nil && elems != nil {
			if n := BatchLen(body, 1<<30); n != len(elems) {
				t.Fatalf("BatchLen %d, decoded %d elements", n, len(elems))
			}
		}
		reqs, _, err := Parse(body, 50)
		if err != nil {
			if err.Code != CodeParseError && err.Code != CodeInvalidRequest {
				t.Fatalf("code %d", err.Code)
			}
			return
		}
		for i := range reqs {
			if e := reqs[i].Validate(); e != nil && reqs[i].ID == nil {
				t.Fatalf("an invalid call without an id would get no answer: %s", body)
			}
			if id := reqs[i].ID; len(id) > 0 && (id[0] == '{' || id[0] == '[') {
				t.Fatalf("an answer would echo an object or array id: %s", body)
			}
			if !json.Valid(AppendResult(nil, reqs[i].ID, []byte("null"))) || !json.Valid(AppendError(nil, reqs[i].ID, Errorf(-1, string(body)))) {
				t.Fatalf("invalid JSON answer for id %q", reqs[i].ID)
			}
		}
	})
}
