// Package accesslist is the pure protocol code of OP Stack interop executing messages: which
// access-list keys of a transaction belong to the CrossL2Inbox, how those keys encode messages
// (protocol.md §3), the message checksum (§4) and the timing rules (§5).
//
// It does no I/O and keeps no state; every function is safe for concurrent use. Errors are
// sentinel values (see errors.go) wrapped with context, so callers classify them with errors.Is.
package accesslist
