package sendrefusal

import "testing"

// The messages are the nodes' own (op-geth's txpool, op-reth's pool and interop validation).
func TestClassify(t *testing.T) {
	for msg, want := range map[string]Refusal{
		"already known":                                               Known,
		"transaction already imported":                                Known,
		"Known transaction: 0xabc":                                    Known,
		"nonce too low: next nonce 5, tx nonce 3":                     NonceTooLow,
		"replacement transaction underpriced":                         ReplacementUnderpriced,
		"interop transaction rejected: failsafe is enabled":           FailsafeGate,
		"executing message invalid: timestamps are equal":             SameTimestamp,
		"invalid cross chain tx: invalid (-320600): conflicting data": InteropInvalid,
		"invalid cross chain tx: no answer (-32603): timeout":         InteropNotYet,
		"invalid cross chain tx: soft (-321401): future data":         InteropNotYet,
		// A message that quotes the words, not one that says them (a client's text echoed):
		`invalid params: unknown option "already known"`: Other,
		"bad request: nonce too low?":                    Other,
		"insufficient funds for gas * price + value":     Other,
		"": Other,
	} {
		if got := Classify(msg); got != want {
			t.Errorf("Classify(%q) = %d, want %d", msg, got, want)
		}
	}
	for r, passes := range map[Refusal]bool{FailsafeGate: true, SameTimestamp: true, InteropNotYet: true, InteropInvalid: false, Known: false, Other: false} {
		if r.Passes() != passes {
			t.Errorf("%d.Passes() = %v", r, !passes)
		}
	}
}
