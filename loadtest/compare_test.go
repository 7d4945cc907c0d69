package loadtest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/interopgate/interopgate/internal/rpctest"
)

// Compare alternates the targets and reports each side and the ratios; a target answering
// wrongly fails the comparison.
func TestCompareAlternatesAndCountsBothSides(t *testing.T) {
	good := rpctest.New(t, func(string, json.RawMessage) (any, *rpctest.Error) { return "0x1", nil })
	bad := rpctest.New(t, func(string, json.RawMessage) (any, *rpctest.Error) {
		return nil, &rpctest.Error{Code: -32000, Message: "no"}
	})
	s, err := Build(context.Background(), &Env{}, "reads")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compare(context.Background(), good.URL, bad.URL, s, Options{Rate: 400, Requests: 40, Duration: time.Minute}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.A) != 2 || len(c.B) != 2 || good.Requests() != 40 || bad.Requests() != 40 {
		t.Fatalf("rounds %d/%d, requests %d/%d", len(c.A), len(c.B), good.Requests(), bad.Requests())
	}
	if !c.Failed() {
		t.Fatal("the failing target's wrong outcomes were not counted")
	}
	var b strings.Builder
	c.Print(&b)
	if !strings.Contains(b.String(), "B / A") {
		t.Fatalf("%s", b.String())
	}
}
