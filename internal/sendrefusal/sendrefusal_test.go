package sendrefusal

import "testing"

// The messages are the nodes' own (op-geth's txpool, op-reth's pool and interop validation).
func TestClassify(t *testing.T) {
	for msg, want := range map[string]Refusal{
		"already known":                                     Known,
		"transaction already imported":                      Known,
		"Known transaction: 0xabc":                          Known,
		"nonce too low: next nonce 5, tx nonce 3":           NonceTooLow,
		"replacement transaction underpriced":               ReplacementUnderpriced,
		"interop transaction rejected: failsafe is enabled": FailsafeGate,
		"executing message invalid: timestamps are equal":   SameTimestamp,
		"cross chain tx invalid: conflicting data":          InteropCheck,
		"insufficient funds for gas * price + value":        Other,
		"": Other,
	} {
		if got := Classify(msg); got != want {
			t.Errorf("Classify(%q) = %d, want %d", msg, got, want)
		}
	}
	for r, passes := range map[Refusal]bool{FailsafeGate: true, SameTimestamp: true, InteropCheck: false, Known: false, Other: false} {
		if r.Passes() != passes {
			t.Errorf("%d.Passes() = %v", r, !passes)
		}
	}
}
