package supervisorclient

import (
	"context"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/interopgate/interopgate/accesslist"
)

// JSON-RPC error codes of the interop filter (protocol.md §7).
const (
	CodeUninitialized       = -320400
	CodeSkipped             = -320500
	CodeUnknownChain        = -320501
	CodeConflict            = -320600
	CodeIneffective         = -320601
	CodeFailsafe            = -320602
	CodeOutOfOrder          = -320900
	CodeAwaitingReplacement = -320901
	CodeOutOfScope          = -321100
	CodeFuture              = -321401
	CodeMissedData          = -321500
	CodeDataCorruption      = -321501

	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternal       = -32603
	CodeServerError    = -32000
)

// Class is what a verdict means for the caller. The zero value is ClassUnavailable, so a
// Verdict that nobody filled in is never taken for valid.
type Class uint8

const (
	// ClassUnavailable: no verdict (transport error, timeout, server fault); fail closed.
	ClassUnavailable Class = iota
	// ClassValid: every message of the access list is valid.
	ClassValid
	// ClassInvalid: at least one message is invalid; the tx must not be included.
	ClassInvalid
	// ClassRetryLater: the filter does not know yet (future block, still ingesting); re-test.
	ClassRetryLater
	// ClassFailsafe: the filter's failsafe is on; every interop tx is rejected.
	ClassFailsafe
)

var classNames = [...]string{"unavailable", "valid", "invalid", "retry_later", "failsafe"}

// String is the class as a metric label value.
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", c)
}

// Verdict is the answer to one access-list check.
type Verdict struct {
	Class Class
	// Code and Message are the filter's JSON-RPC error, when it sent one; Code is 0 otherwise.
	Code    int
	Message string
	// Endpoint names the filter that gave the verdict, when one did.
	Endpoint string
	// Err is the transport or protocol error behind an unavailable verdict.
	Err error
	// Ambiguous marks an invalid verdict that may not hold for long or for everyone: a code
	// that also means "not yet" or "something else failed" (-32602; op-supervisor's -320600),
	// or filters that disagreed. Such a verdict rejects this tx but must not be cached.
	Ambiguous bool
}

// Valid is a convenience for the common test.
func (v Verdict) Valid() bool { return v.Class == ClassValid }

func (v Verdict) String() string {
	var b strings.Builder
	b.WriteString(v.Class.String())
	if v.Code != 0 {
		fmt.Fprintf(&b, " %d %q", v.Code, v.Message)
	}
	if v.Err != nil {
		fmt.Fprintf(&b, " (%v)", v.Err)
	}
	if v.Endpoint != "" {
		fmt.Fprintf(&b, " from %s", v.Endpoint)
	}
	return b.String()
}

// Unavailable builds an unavailable verdict from an error.
func Unavailable(endpoint string, err error) Verdict {
	return Verdict{Class: ClassUnavailable, Endpoint: endpoint, Err: err}
}

// Classifier maps a filter's JSON-RPC error to a class. The zero value is op-interop-filter's
// semantics: out-of-scope (-321100) is retry-later.
type Classifier struct {
	// OutOfScopeInvalid treats out-of-scope as invalid, as op-reth does.
	OutOfScopeInvalid bool
	// ConflictMayMeanNotYet marks -320600 as ambiguous: op-supervisor (the supervisor
	// namespace) answered it for messages it had not indexed yet, too.
	ConflictMayMeanNotYet bool
}

// Ambiguous reports whether an invalid verdict with this code may be wrong a moment later or
// for another caller (see Verdict.Ambiguous).
func (c Classifier) Ambiguous(code int) bool {
	switch code {
	case CodeInvalidParams:
		return true // op-interop-filter's answer for every error it does not map
	case CodeConflict:
		return c.ConflictMayMeanNotYet
	case CodeOutOfScope:
		return c.OutOfScopeInvalid // invalid only by choice: it means "not yet" to the filter
	}
	return false
}

// Classify returns the class of a JSON-RPC error from a filter.
func (c Classifier) Classify(code int, message string) Class {
	switch code {
	case CodeUninitialized, CodeAwaitingReplacement, CodeFuture:
		return ClassRetryLater
	case CodeOutOfScope:
		if c.OutOfScopeInvalid {
			return ClassInvalid
		}
		return ClassRetryLater
	case CodeSkipped, CodeUnknownChain, CodeConflict, CodeIneffective, CodeOutOfOrder:
		return ClassInvalid
	case CodeFailsafe:
		return ClassFailsafe
	case CodeInvalidParams:
		// Old op-supervisor signalled failsafe as -32602 "failsafe is enabled…".
		if strings.HasPrefix(strings.ToLower(message), "failsafe is enabled") {
			return ClassFailsafe
		}
		return ClassInvalid
	case CodeMissedData, CodeDataCorruption, CodeInternal, CodeServerError:
		return ClassUnavailable
	}
	// An unknown code is not a verdict we can act on: fail closed without calling it invalid.
	return ClassUnavailable
}

// SafetyLevel is the minimum safety of the initiating messages a check requires.
type SafetyLevel string

// The safety levels of the protocol, weakest first. Filters accept only Unsafe and CrossUnsafe.
const (
	SafetyInvalid     SafetyLevel = "invalid"
	SafetyUnsafe      SafetyLevel = "unsafe"
	SafetyCrossUnsafe SafetyLevel = "cross-unsafe"
	SafetyLocalSafe   SafetyLevel = "local-safe"
	SafetySafe        SafetyLevel = "safe"
	SafetyFinalized   SafetyLevel = "finalized"
)

// ParseSafetyLevel accepts exactly the protocol's spellings (case-sensitive).
func ParseSafetyLevel(s string) (SafetyLevel, error) {
	switch l := SafetyLevel(s); l {
	case SafetyInvalid, SafetyUnsafe, SafetyCrossUnsafe, SafetyLocalSafe, SafetySafe, SafetyFinalized:
		return l, nil
	}
	return "", fmt.Errorf("unknown safety level %q (want one of invalid, unsafe, cross-unsafe, local-safe, safe, finalized)", s)
}

// ParseCheckSafety accepts the levels a check may ask for: op-interop-filter serves only
// unsafe and cross-unsafe and answers every other level -32602, which would reject every tx.
func ParseCheckSafety(s string) (SafetyLevel, error) {
	l, err := ParseSafetyLevel(s)
	if err != nil {
		return "", err
	}
	if l != SafetyUnsafe && l != SafetyCrossUnsafe {
		return "", fmt.Errorf("safety level %q: interop filters check only unsafe and cross-unsafe (op-interop-filter answers any other -32602)", s)
	}
	return l, nil
}

// ExecutingDescriptor says where and when the executing tx is expected to be included.
type ExecutingDescriptor = accesslist.ExecContext

// Request is one checkAccessList call.
type Request struct {
	InboxKeys []common.Hash
	MinSafety SafetyLevel
	Executing ExecutingDescriptor
}

// Checker answers access-list checks. Implementations are safe for concurrent use.
//
// CheckAccessLists answers several checks at once (as one JSON-RPC batch where the
// implementation can); its result has one verdict per request, in order.
type Checker interface {
	CheckAccessList(ctx context.Context, req Request) Verdict
	CheckAccessLists(ctx context.Context, reqs []Request) []Verdict
}

// FailsafeSource reports whether a filter's failsafe is on.
type FailsafeSource interface {
	FailsafeEnabled(ctx context.Context) (bool, error)
}
