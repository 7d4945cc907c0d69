package accesslist

import "errors"

// Parse errors. Their texts match op-supervisor's, so logs read the same on both sides.
var (
	// ErrExpectedEntry: the list ended where a key had to follow (or was empty).
	ErrExpectedEntry = errors.New("expected entry")
	// ErrUnexpectedEntryType: a key's type byte is not the one its position requires.
	ErrUnexpectedEntryType = errors.New("unexpected entry type")
	// ErrMalformedEntry: a key of the right type has non-zero reserved bytes.
	ErrMalformedEntry = errors.New("malformed entry")
)

// Raw transaction scanning errors.
var (
	// ErrUnsupportedTxType: the type byte names no transaction type this package can read.
	ErrUnsupportedTxType = errors.New("unsupported transaction type")
	// ErrMalformedTx: the bytes are not a well-formed transaction envelope.
	ErrMalformedTx = errors.New("malformed transaction")
)

// Timing and dependency errors. Each is a conflict in protocol terms; all wrap ErrTiming or
// ErrDependency so that callers can test for the family.
var (
	ErrTiming         = errors.New("timing rule violated")
	ErrSameTimestamp  = wrap(ErrTiming, "initiating and executing timestamps are equal")
	ErrInitAfterExec  = wrap(ErrTiming, "initiating timestamp is after the executing timestamp")
	ErrExpired        = wrap(ErrTiming, "message expired")
	ErrTimeout        = wrap(ErrTiming, "message expires before the timeout")
	ErrExpiryOverflow = wrap(ErrTiming, "initiating timestamp plus the expiry window overflows 64 bits")

	ErrDependency      = errors.New("dependency rule violated")
	ErrUnknownChain    = wrap(ErrDependency, "chain not in the dependency set")
	ErrNotActivated    = wrap(ErrDependency, "timestamp before the chain's interop activation")
	ErrActivationBlock = wrap(ErrDependency, "timestamp is the chain's interop activation block")
)

// wrapped is an error that is its own message and unwraps to a family error.
type wrapped struct {
	family error
	msg    string
}

func wrap(family error, msg string) error { return &wrapped{family: family, msg: msg} }

func (w *wrapped) Error() string { return w.family.Error() + ": " + w.msg }
func (w *wrapped) Unwrap() error { return w.family }
