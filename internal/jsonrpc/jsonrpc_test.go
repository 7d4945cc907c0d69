package jsonrpc

import (
	"encoding/json"
	"testing"
)

func TestParse(t *testing.T) {
	reqs, batch, err := Parse([]byte(` {"jsonrpc":"2.0","id":7,"method":"m","params":[1]}`), 10)
	if err != nil || batch || len(reqs) != 1 || string(reqs[0].ID) != "7" || reqs[0].Method != "m" {
		t.Fatalf("single: %+v %v %v", reqs, batch, err)
	}
	reqs, batch, err = Parse([]byte(`[{"jsonrpc":"2.0","id":"a","method":"m"},3,{"jsonrpc":"2.0","method":"n"}]`), 10)
	if err != nil || !batch || len(reqs) != 3 {
		t.Fatalf("batch: %+v %v %v", reqs, batch, err)
	}
	if reqs[1].Validate() == nil {
		t.Error("a non-object batch element must be invalid")
	}
	if !reqs[2].IsNotification() || reqs[0].IsNotification() {
		t.Error("notification detection")
	}
	for body, code := range map[string]int{``: CodeParseError, `{`: CodeParseError, `[]`: CodeInvalidRequest, `[1,2,3]`: CodeInvalidRequest, `[`: CodeParseError} {
		_, _, err := Parse([]byte(body), 2)
		if err == nil || err.Code != code {
			t.Errorf("%q: %v, want %d", body, err, code)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, r := range []Request{{JSONRPC: "1.0", Method: "m"}, {JSONRPC: "2.0"}, {JSONRPC: "2.0", Method: "m", ID: json.RawMessage(`{}`)}} {
		if r.Validate() == nil {
			t.Errorf("%+v accepted", r)
		}
	}
	if (&Request{JSONRPC: "2.0", Method: "m", ID: json.RawMessage(`"x"`)}).Validate() != nil {
		t.Error("valid request rejected")
	}
}

func TestAppend(t *testing.T) {
	got := string(AppendError(AppendResult(nil, json.RawMessage("1"), []byte("null")), nil, Errorf(-320600, `bad "quote"`)))
	want := `{"jsonrpc":"2.0","id":1,"result":null}{"jsonrpc":"2.0","id":null,"error":{"code":-320600,"message":"bad \"quote\""}}`
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}
