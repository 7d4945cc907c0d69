// Package revalidator keeps the interop verdicts of a sequencer's mempool ready before the block
// builder needs them, and answers the execution client's own checks from memory.
//
// It mirrors the local execution client's pending pool (txpool_content, plus the gateway's feed
// of accepted txs), and on every new head plans the presumed next block as a builder would
// order it (batching.Plan) and checks the distinct executing messages of its interop txs in one
// upstream JSON-RPC batch; the rest of the pool is rechecked on a slower interval. Verdicts are
// kept per message (chain, block, log index, timestamp, checksum), so any access list made of
// known messages is answered locally with the timing rules applied to the caller's own
// descriptor. It serves the check API (filterapi, both namespaces and dialects) cache-first,
// interopgate_checkTransactions for a builder (table only, never a remote call), and
// interopgate_invalidTransactions, the invalid txs its cycles found.
//
// With op-reth, whose pool asks again only near a tx's 2-hour deadline and drops every interop
// tx on a failsafe or a reorg of its chain, it also acts on the pool (lever.go): it evicts what
// a cycle found invalid (a failsafe pulse, or admin_clearTxpool) and sends back the valid txs
// the node dropped (restore).
//
// Files by part: follow.go follows the node, its pool, the gateway's feed and the failsafe
// (sources.go the source chains' heads); cycle.go is the cycle; answer.go answers checks;
// messages.go holds the verdicts and the one decision both the cycle and the answers use.
package revalidator
