// Package filterapi serves the interop filter's JSON-RPC API over any supervisorclient.Checker:
// interop_checkAccessList and supervisor_checkAccessList (same semantics), and
// admin_getFailsafeEnabled, single and batch, on fasthttp. Parameters are decoded exactly as
// protocol.md §6 describes, so op-geth, op-reth and proxyd can point at it unchanged; the
// checks of one JSON-RPC batch reach the checker as one CheckAccessLists call.
package filterapi
