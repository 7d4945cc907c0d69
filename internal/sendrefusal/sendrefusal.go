// Package sendrefusal classifies an execution node's refusal of a transaction sent to it
// (eth_sendRawTransaction's JSON-RPC error message). The gateway, its queue and the
// revalidator's restore act on the same classes, so each message is read in one place.
//
// Nodes say these things in text only, so the classes follow the texts of op-geth and op-reth
// (geth's core/txpool errors, reth's transaction-pool errors and op-reth's interop validation).
package sendrefusal

import "strings"

// Refusal is why a node refused a sent transaction.
type Refusal int

const (
	// Other is any refusal not named below (the node's verdict on the tx stands).
	Other Refusal = iota
	// Known: the node has the tx already (geth "already known"; reth "already imported" or
	// "already known"; older clients "known transaction"). For a sender it was accepted.
	Known
	// NonceTooLow: the sender's nonce is past the tx's ("nonce too low"): a block took it, or
	// another tx of that nonce did.
	NonceTooLow
	// ReplacementUnderpriced: the pool holds another tx of that sender and nonce, not outbid
	// ("replacement transaction underpriced").
	ReplacementUnderpriced
	// FailsafeGate: op-reth's pool refuses every interop tx while its filter's failsafe is on
	// ("failsafe is enabled"); it passes when the failsafe clears.
	FailsafeGate
	// SameTimestamp: the node asked its filter as of its head's timestamp, which a message of
	// that very block equals ("timestamps are equal"); it passes at the next block.
	SameTimestamp
	// InteropNotYet: the node's own interop check had no verdict yet or no answer in time
	// (op-reth's "invalid cross chain tx" with a failsafe, soft or no-answer class; "timed
	// out", "unavailable"); it passes.
	InteropNotYet
	// InteropInvalid: the node's own interop check refused the tx ("cross chain tx" otherwise).
	InteropInvalid
)

// Classify reads a node's error message for a sent tx (case-insensitive). The answers that make
// a refusal count as an acceptance (Known, NonceTooLow) must begin the message, as the nodes
// write them: a message that only quotes such words (a client's own text echoed back) is not
// one (found by a review).
func Classify(message string) Refusal {
	m := strings.ToLower(strings.TrimSpace(message))
	switch {
	case strings.HasPrefix(m, "already known"), strings.HasPrefix(m, "transaction already imported"),
		strings.HasPrefix(m, "already imported"), strings.HasPrefix(m, "known transaction"):
		return Known
	case strings.HasPrefix(m, "nonce too low"):
		return NonceTooLow
	case strings.HasPrefix(m, "replacement transaction underpriced"):
		return ReplacementUnderpriced
	case strings.Contains(m, "failsafe is enabled"):
		return FailsafeGate
	case strings.Contains(m, "timestamps are equal"):
		return SameTimestamp
	case strings.Contains(m, "cross chain tx"):
		for _, passing := range []string{"failsafe", "soft", "no answer", "timed out", "timeout", "unavailable"} {
			if strings.Contains(m, passing) {
				return InteropNotYet
			}
		}
		return InteropInvalid
	}
	return Other
}

// Passes reports whether the refusal ends by itself while the tx stays valid: its gate clears
// (FailsafeGate), the next block comes (SameTimestamp), or the node's check gets its answer
// (InteropNotYet).
func (r Refusal) Passes() bool { return r == FailsafeGate || r == SameTimestamp || r == InteropNotYet }
