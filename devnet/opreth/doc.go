// Package opreth is a model of op-reth's interop transaction pool, run around a devnet chain's
// real geth pool and payload builder (devnet.PoolPolicy), so a devnet chain's pool treats interop
// txs as a sequencer running op-reth does. op-reth cannot be built here (its Rust crates are not
// reachable); the model is written from its source: the optimism monorepo's
// rust/op-reth/crates/txpool (validator.rs, maintain.rs, interop_filter/client.rs,
// interop_filter/errors.rs, interop.rs) as of June 2026, after optimism #21195, #21302, #21305,
// #21378, #21447 and #21448. docs/devnet.md, "op-reth's pool, modelled", lists the rules and
// where the model differs.
//
// It is a model: each rule has a test of its own (opreth_test.go), and what it predicts is
// checked against the real op-reth only as far as its source was read.
package opreth
