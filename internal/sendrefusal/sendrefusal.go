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
	// InteropCheck: the node's own interop check refused the tx or had no answer in time
	// (op-geth's "cross chain tx" errors).
	InteropCheck
)

// Classify reads a node's error message for a sent tx (case-insensitive).
func Classify(message string) Refusal {
	m := strings.ToLower(message)
	switch {
	case strings.Contains(m, "already known"), strings.Contains(m, "already imported"), strings.HasPrefix(m, "known transaction"):
		return Known
	case strings.Contains(m, "nonce too low"):
		return NonceTooLow
	case strings.Contains(m, "replacement transaction underpriced"):
		return ReplacementUnderpriced
	case strings.Contains(m, "failsafe is enabled"):
		return FailsafeGate
	case strings.Contains(m, "timestamps are equal"):
		return SameTimestamp
	case strings.Contains(m, "cross chain tx"):
		return InteropCheck
	}
	return Other
}

// Passes reports whether the refusal ends by itself while the tx stays valid: its gate clears
// (FailsafeGate) or the next block comes (SameTimestamp).
func (r Refusal) Passes() bool { return r == FailsafeGate || r == SameTimestamp }
