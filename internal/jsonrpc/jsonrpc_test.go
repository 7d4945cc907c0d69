package jsonrpc

import (
	"encoding/json"
	"strings"
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

// Elements that are valid JSON but not calls are answered as geth answers them: -32600, under
// their id when it is readable and valid, else null; an object without an id is a notification
// only if it names a method.
func TestParseAsGeth(t *testing.T) {
	for body, want := range map[string]string{
		`{"jsonrpc":"2.0","method":1,"id":3}`:         "3",
		`{"jsonrpc":"2.0","method":"m","id":{"a":1}}`: "null",
		`{"jsonrpc":"2.0","method":"m","id":[1]}`:     "null",
		`{"foo":"boo"}`: "null",
		`{}`:            "null",
		`null`:          "null",
		`1`:             "null",
		`"m"`:           "null",
		`[{"jsonrpc":"2.0","method":"m","id":1},{"a":1}]`: "null",
	} {
		reqs, _, err := Parse([]byte(body), 10)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		r := reqs[len(reqs)-1]
		if e := r.Validate(); e == nil || e.Code != CodeInvalidRequest || string(r.ID) != want || r.IsNotification() {
			t.Errorf("%s: validate %v, id %s (notification %v), want -32600 under %s", body, e, r.ID, r.IsNotification(), want)
		}
	}
	reqs, _, err := Parse([]byte(`{"jsonrpc":"2.0","method":"m","id":true}`), 10)
	if err != nil || reqs[0].Validate() != nil || string(reqs[0].ID) != "true" {
		t.Errorf("a boolean id, which geth takes: %+v %v", reqs, err)
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

func TestBatchLen(t *testing.T) {
	for body, want := range map[string]int{
		`[]`:                             0,
		` [ ] `:                          0,
		`[{}]`:                           1,
		`[{},{},{}]`:                     3,
		`[1, "a,b", [1,2], {"x":[3,4]}]`: 4,
		`["\"],[", 2]`:                   2,
		`{"a":[1,2]}`:                    0,
		`[{},{},{},{},{},{},{},{}]`:      6, // past the limit of 5: stops counting
	} {
		if got := BatchLen([]byte(body), 5); got != want {
			t.Errorf("BatchLen(%s) = %d, want %d", body, got, want)
		}
	}
}

// A batch over the limit is refused before any element is decoded: 10 MiB of empty objects
// cost no allocation per element.
func TestParseRefusesABatchBombBeforeDecoding(t *testing.T) {
	body := []byte("[" + strings.Repeat("{},", 1<<20) + "{}]")
	allocs := testing.AllocsPerRun(3, func() {
		if _, _, err := Parse(body, 100); err == nil || err.Code != CodeInvalidRequest {
			t.Fatalf("%v", err)
		}
	})
	if allocs > 10 {
		t.Fatalf("%v allocations to refuse the batch", allocs)
	}
}

// A call another decoder would read as a different method is refused, alone or in a batch.
func TestAmbiguousEnvelopeIsRefused(t *testing.T) {
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":[],"Method":"eth_chainId"}`,
		`{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}`,
		`{"jsonrpc":"2.0","id":1,"\u006dethod":"a"}`,
		`{"jsonrpc":"2.0","ID":1,"method":"a"}`,
		`{"jsonrpc":"2.0","id":1,"method":"a","params":[],"PARAMS":[1]}`,
		`[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":2,"method":"a","Method":"b"}]`,
		`[{"jsonrpc":"2.0","id":1,"method":"a"},3,{"jsonrpc":"2.0","id":2,"method":"a","method":"b"}]`,
	} {
		if _, _, err := Parse([]byte(body), 10); err == nil || err.Code != CodeInvalidRequest {
			t.Errorf("%s: %v", body, err)
		}
	}
	// Unknown members, and members' names inside values, are fine.
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"a","params":[{"Method":"x","method":"y"}],"extra":1}`,
		`[{"jsonrpc":"2.0","id":"method","method":"a","params":["\"method\":"]}]`,
	} {
		if _, _, err := Parse([]byte(body), 10); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func TestElements(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{`[]`, nil, true},
		{` [ {"a":[1,2]} , "x,]" ,3,{"b":{"c":"\"]"}}] `, []string{`{"a":[1,2]}`, `"x,]"`, `3`, `{"b":{"c":"\"]"}}`}, true},
		{`[1,`, nil, false},
		{`{"a":1}`, nil, false},
		{``, nil, false},
	} {
		got, ok := Elements([]byte(c.in))
		if ok != c.ok || len(got) != len(c.want) {
			t.Fatalf("%q: %q %v", c.in, got, ok)
		}
		for i := range got {
			if string(got[i]) != c.want[i] {
				t.Fatalf("%q: element %d is %q, want %q", c.in, i, got[i], c.want[i])
			}
		}
	}
}
