// Package devnet runs real go-ethereum chains inside the process, for tests, the load test and
// `interopgate devnet`: each chain is geth's own node, eth service and simulated beacon (what
// `geth --dev` runs), with its own chain ID, an HTTP JSON-RPC server on a loopback port, funded
// accounts with known keys, and blocks on a timer or on demand.
//
// On top of the chains it offers what interop tests need: a tiny emitter contract whose logs are
// initiating messages, builders of executing transactions (valid ones and every invalid variant),
// and reorgs that make a once-valid message disappear.
package devnet
