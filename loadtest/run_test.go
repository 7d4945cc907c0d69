package loadtest

import "testing"

// A request whose right answer is a result or one of some codes (duplicate-flood after the
// gateway's duplicate memory ends: the node's "nonce too low") counts neither as wrong; any
// other code does.
func TestExpectAcceptOrCodes(t *testing.T) {
	r := Request{Expect: Expect{Accept: true, Codes: []int{codeServerError}}}
	p := newPartStats()
	p.record(outcome{status: 200}, r, -1)
	p.record(outcome{status: 200, code: codeServerError}, r, -1)
	if p.wrong != 0 {
		t.Fatalf("a result and an expected code counted %d wrong", p.wrong)
	}
	p.record(outcome{status: 409, code: codeConflict}, r, -1)
	if p.wrong != 1 {
		t.Fatalf("an unexpected code counted %d wrong", p.wrong)
	}
	if got := r.Expect.String(); got != "accepted or error -32000" {
		t.Fatalf("Expect.String() = %q", got)
	}
}
