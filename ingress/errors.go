package ingress

import (
	"fmt"
	"net/http"

	"github.com/interopgate/interopgate/internal/jsonrpc"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// Client-facing codes beyond the filter's own, kept proxyd-compatible where proxyd has one.
const (
	CodeOverRateLimit      = -32016 // per-IP request rate limit (proxyd)
	CodeSenderRateLimit    = -32017 // interop sender rate limit (proxyd)
	CodeBatchTooLarge      = -32014 // (proxyd)
	CodeTxTooLarge         = -32021 // tx or body too large (proxyd)
	CodeAccessListTooLarge = -32022 // (proxyd)
	CodeLimitExceeded      = -32005 // in-flight checks saturated: retry shortly (EIP-1474)
	CodeServerError        = -32000 // invalid chain ID, validation unavailable, sentry errors
	CodeNoBackend          = -32011 // no sentry reachable (proxyd)
)

// clientError is a JSON-RPC error with the HTTP status a single (non-batch) response carries.
type clientError struct {
	rpc    *jsonrpc.Error
	status int
	// reason labels metrics: a fixed, bounded set.
	reason string
}

func newClientError(code, status int, reason, msg string) *clientError {
	return &clientError{rpc: jsonrpc.Errorf(code, msg), status: status, reason: reason}
}

// Errors that need no context. They are never mutated.
// maxMethodNameBytes is geth's bound on a method name (rpc/handler.go): longer is an invalid
// request, -32600.
const maxMethodNameBytes = 2048

func errMethodNotAllowed(method string) *clientError {
	if len(method) > maxMethodNameBytes {
		// Found by a review: a 2 MB name was echoed back whole.
		return newClientError(jsonrpc.CodeInvalidRequest, http.StatusOK, "method_name_too_long",
			fmt.Sprintf("method name too long: %d > %d", len(method), maxMethodNameBytes))
	}
	shown := method
	if len(shown) > 64 {
		shown = shown[:64] + "…"
	}
	return newClientError(jsonrpc.CodeMethodNotFound, http.StatusForbidden, "method_not_allowed",
		fmt.Sprintf("method %q is not allowed on this endpoint", shown))
}

func errBatchTooLarge(max int) *clientError {
	return newClientError(CodeBatchTooLarge, http.StatusRequestEntityTooLarge, "batch_too_large",
		fmt.Sprintf("batch of more than %d calls: split it", max))
}

func errRateLimited() *clientError {
	return newClientError(CodeOverRateLimit, http.StatusTooManyRequests, "rate_limited", "over rate limit: slow down and retry")
}

// errInvalidParams is -32602 with HTTP 200, as geth answers bad params.
func errInvalidParams(msg string) *clientError {
	return newClientError(jsonrpc.CodeInvalidParams, http.StatusOK, "invalid_params", msg)
}

// filterStatus is the HTTP status proxyd gives each filter code (protocol.md §7).
func filterStatus(code int) int {
	switch code {
	case sc.CodeConflict, sc.CodeIneffective, sc.CodeOutOfOrder:
		return http.StatusConflict
	case sc.CodeFuture, sc.CodeSkipped:
		return http.StatusUnprocessableEntity
	case sc.CodeUnknownChain:
		return http.StatusNotFound
	case sc.CodeUninitialized, sc.CodeOutOfScope, sc.CodeAwaitingReplacement, sc.CodeInvalidParams:
		return http.StatusBadRequest
	case sc.CodeFailsafe:
		return http.StatusServiceUnavailable
	}
	return http.StatusConflict
}

// codeName is a bounded label for a filter code.
func codeName(code int) string {
	switch code {
	case sc.CodeUninitialized:
		return "uninitialized"
	case sc.CodeSkipped:
		return "skipped"
	case sc.CodeUnknownChain:
		return "unknown_chain"
	case sc.CodeConflict:
		return "conflict"
	case sc.CodeIneffective:
		return "ineffective"
	case sc.CodeFailsafe:
		return "failsafe"
	case sc.CodeOutOfOrder:
		return "out_of_order"
	case sc.CodeAwaitingReplacement:
		return "awaiting_replacement"
	case sc.CodeOutOfScope:
		return "out_of_scope"
	case sc.CodeFuture:
		return "future"
	case sc.CodeInvalidParams:
		return "invalid_params"
	}
	return "other"
}

// hint tells a wallet developer what to do about a filter code.
func hint(code int) string {
	switch code {
	case sc.CodeConflict:
		return "the access list names a log that does not exist as claimed (check chain, block, timestamp, log index and payload), or the message is expired or executed at its own timestamp"
	case sc.CodeUnknownChain:
		return "a chain of the message is not in this network's dependency set"
	case sc.CodeFuture:
		return "the initiating block is not known yet: resubmit once it is"
	case sc.CodeUninitialized, sc.CodeOutOfScope, sc.CodeAwaitingReplacement:
		return "the interop filter cannot prove the message yet: resubmit shortly"
	case sc.CodeSkipped:
		return "the initiating message is older than the filter keeps"
	case sc.CodeFailsafe:
		return "interop transactions are paused by the failsafe"
	}
	return "the interop filter rejected the executing message"
}

// localEndpoint marks verdicts the gateway made itself (dependency set, timing rules): their
// message is ours and goes to the client. A filter's own text never does: it may name
// internals (paths, databases) and is no contract; the code and our hint say what to do.
const localEndpoint = "local"

// fromVerdict is the client error of a non-valid verdict.
func fromVerdict(v sc.Verdict) *clientError {
	switch {
	case v.Class == sc.ClassFailsafe:
		return newClientError(sc.CodeFailsafe, http.StatusServiceUnavailable, "failsafe",
			"interop transactions are paused: the interop failsafe is enabled")
	case v.Class == sc.ClassUnavailable:
		return newClientError(CodeServerError, http.StatusServiceUnavailable, "unavailable",
			"interop validation is temporarily unavailable: retry shortly")
	}
	msg := fmt.Sprintf("interop message rejected (%s): %s", codeName(v.Code), hint(v.Code))
	if v.Message != "" && v.Endpoint == localEndpoint {
		msg += ": " + v.Message
	}
	return newClientError(v.Code, filterStatus(v.Code), codeName(v.Code), msg)
}
