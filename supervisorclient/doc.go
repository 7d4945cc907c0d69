// Package supervisorclient asks interop filters whether executing messages are valid.
//
// It owns the Checker abstraction and the Verdict it returns (protocol.md §7), a JSON-RPC client
// for {interop,supervisor}_checkAccessList with JSON-RPC batching, a failsafe watcher polling
// admin_getFailsafeEnabled, and a Pool that spreads checks over several filters with a strategy
// (first, failover, any, agreement). Sub-package light is a Checker that proves messages from the
// chains' own RPC instead of asking a filter.
//
// Everything here fails closed: the zero Verdict is "unavailable", and no path turns an error or
// a missing answer into "valid".
package supervisorclient
