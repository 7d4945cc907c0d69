// Package light is an interop filter that needs no index of its own: it proves each executing
// message from the source chain's JSON-RPC (eth_getBlockByNumber and eth_getLogs), following
// protocol.md §5. It is a supervisorclient.Checker, so the gateway can require it to agree with
// op-interop-filter (client diversity), and filterapi serves it as `interopgate filter`.
//
// # What it proves, per message
//
//  0. Before any entry, as op-interop-filter: the safety level is unsafe or cross-unsafe (else
//     -32602) and the executing chain is in the dependency set (else -320501); an empty list
//     is valid.
//  1. The lockstep rule, as op-interop-filter: a message newer than the slowest chain of the
//     set (the lowest latest-block timestamp over every chain) is not judged yet: -321100.
//     Chains behind a message are read on demand (lockstep.go), so a fresh message does not
//     wait for the next watch tick.
//  2. Both chains are in the dependency set (else unknown chain, -320501); the timing and
//     activation rules hold (else conflict, -320600). No remote call is needed for 1 and 2,
//     which apply entry by entry in list order.
//  3. The source chain's canonical block at the claimed number exists. If it does not and the
//     head's timestamp is already at or past the claimed timestamp, no future block can match:
//     conflict. Otherwise the block is in the future: -321100 (retry later).
//  4. That block's timestamp is the claimed one (else conflict).
//  5. The safety level holds (below). If not yet: out of scope, -321100 (retry later).
//  6. The block has a log at the claimed index (else conflict), and the message checksum
//     computed from that log's address, topics and data is the claimed one (else conflict).
//
// # Safety levels
//
// op-interop-filter accepts only "unsafe" and "cross-unsafe"; so does this backend (anything
// else is -32602). For this backend:
//
//   - unsafe: the log is in the source chain's canonical chain as its RPC node sees it now
//     (at or below "latest"), and every chain of the set has reached its timestamp.
//   - cross-unsafe: the same, and the source block must also be at or below the head named by
//     the CrossUnsafeHead setting, "latest" by default (then the same as unsafe). This
//     backend does not check the source block's own executing messages; "safe" leans on the
//     source chain's safe head, which on an interop chain is cross-safe: a strictly stronger
//     guarantee than cross-unsafe, at the price of waiting for L1 derivation. "finalized" is
//     stronger still.
//
// # Reorgs and caching
//
// Block number → hash is never cached: every check reads the canonical header by number, so a
// reorg is seen at once. What a block hash names cannot change, so the logs of a block are
// cached by block hash, in an LRU bounded by the number of log records it holds.
package light
